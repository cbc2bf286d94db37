// The rules of ratelimit(8): its configuration file (ratelimit(5)) of limits on
// messages and recipients per client IP, envelope sender and authenticated user over
// sliding windows, and the window arithmetic behind them. Pure functions; the shared
// Berkeley DB state and the locking live in ratelimit_store.h.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include "lib/result.h"

namespace ratelimit {

enum class Subject { ip, sender, user };
enum class Counted { messages, recipients };

struct RateRule {
    Subject subject = Subject::ip;
    Counted counted = Counted::messages;
    uint64_t limit = 0;            // at most this many within any window
    long window_seconds = 0;
    std::string origin;            // file:line, named in the log line of every refusal
};

// "<ip|sender|user> <messages|recipients> <limit> <window>" lines, '#' comments; the
// window as parse_interval() reads it ("90", "10m", "1h"). Errors as "file:line: why";
// the first bad line refuses the whole file.
Result<std::vector<RateRule>> parse_rate_rules(std::string_view text, const std::string& file);

// What one message uses up.
struct Usage {
    std::string ip;          // client address ("" for local mail)
    std::string sender;      // envelope sender, "" for <>
    std::string user;        // authenticated user, "" when none
    uint64_t recipients = 0;
};

// The database key of a rule's counter for this message; nullopt when the rule does
// not apply (no client address, null sender, not authenticated). Senders are compared
// case-insensitively; an IPv6 client is counted per /64, since a single site gets a
// whole /64 and could otherwise step around the limit.
std::optional<std::string> counter_key(const RateRule& rule, const Usage& usage);
// 1 for a messages rule, the recipient count for a recipients rule.
uint64_t amount(const RateRule& rule, const Usage& usage);
// The window length a key was made for ("<subject> <counted> <seconds> <value>"), for
// expiring old counters.
std::optional<long> window_of_key(std::string_view key);

// The events of one counter inside its window, oldest first. Events are merged into
// slots of window/kSlots (at least 1 ms) and stamped with the slot's end, so an event
// may be counted up to one slot longer than its window but never shorter: the limit
// always holds for every window.
struct WindowSlot {
    int64_t end_ms = 0;
    uint64_t count = 0;
};
using WindowState = std::vector<WindowSlot>;
constexpr int64_t kSlots = 100;

std::string format_window(const WindowState& w);
std::optional<WindowState> parse_window(std::string_view text);   // nullopt: corrupt
uint64_t count_in_window(const WindowState& w, int64_t now_ms, int64_t window_ms);
void prune_window(WindowState& w, int64_t now_ms, int64_t window_ms);
void add_to_window(WindowState& w, int64_t now_ms, int64_t window_ms, uint64_t count);

// Whether the message fits: its amount on top of what the window already holds.
enum class Fit { fits, exceeded, never };   // never: larger than the limit by itself
Fit fits(uint64_t in_window, uint64_t amount, uint64_t limit);

std::string_view subject_name(Subject s);
std::string_view counted_name(Counted c);

}  // namespace ratelimit
