// The rules of ratelimit(8): see ratelimit.h.
#include "filters/ratelimit.h"

#include <algorithm>
#include "config/config.h"
#include "lib/address.h"
#include "lib/xtext.h"
#include "tcpd/conn_limits.h"

namespace ratelimit {

namespace {
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

std::vector<std::string_view> words(std::string_view line) {
    std::vector<std::string_view> out;
    size_t pos = 0;
    while (pos < line.size()) {
        while (pos < line.size() && is_space(line[pos])) ++pos;
        size_t end = pos;
        while (end < line.size() && !is_space(line[end])) ++end;
        if (end > pos) out.push_back(line.substr(pos, end - pos));
        pos = end;
    }
    return out;
}

Result<RateRule> parse_rule(const std::vector<std::string_view>& w, const std::string& origin) {
    auto fail = [&](const std::string& why) { return Error{0, origin + ": " + why}; };
    if (w.size() != 4) return fail("expected \"<ip|sender|user> <messages|recipients> <limit> <window>\"");
    RateRule r;
    r.origin = origin;
    std::string subject = lowercase_ascii(w[0]), counted = lowercase_ascii(w[1]);
    if (subject == "ip") r.subject = Subject::ip;
    else if (subject == "sender") r.subject = Subject::sender;
    else if (subject == "user") r.subject = Subject::user;
    else return fail("unknown subject \"" + subject + "\" (ip, sender or user)");
    if (counted == "messages") r.counted = Counted::messages;
    else if (counted == "recipients") r.counted = Counted::recipients;
    else return fail("unknown count \"" + counted + "\" (messages or recipients)");
    if (!parse_decimal(w[2], r.limit) || r.limit == 0) return fail("limit must be a number above 0");
    auto window = parse_interval(w[3]);
    if (!window || *window <= 0) return fail("bad window \"" + std::string(w[3]) + "\" (e.g. 60, 10m, 1h)");
    r.window_seconds = *window;
    return r;
}
}  // namespace

std::string_view subject_name(Subject s) {
    switch (s) {
    case Subject::ip: return "ip";
    case Subject::sender: return "sender";
    case Subject::user: return "user";
    }
    return "?";
}

std::string_view counted_name(Counted c) { return c == Counted::messages ? "messages" : "recipients"; }

Result<std::vector<RateRule>> parse_rate_rules(std::string_view text, const std::string& file) {
    std::vector<RateRule> rules;
    for (const ConfigLine& line : split_config_lines(text, file)) {
        auto w = words(std::string_view(line.text).substr(0, line.text.find('#')));
        if (w.empty()) continue;
        auto rule = parse_rule(w, line.where);
        if (!rule) return rule.error();
        rules.push_back(std::move(*rule));
    }
    return rules;
}

std::optional<std::string> counter_key(const RateRule& rule, const Usage& usage) {
    std::string value;
    switch (rule.subject) {
    case Subject::ip:
        if (usage.ip.empty()) return std::nullopt;
        value = usage.ip.find(':') == std::string::npos ? usage.ip : peer_key(usage.ip).block + "::/64";
        break;
    case Subject::sender:
        if (usage.sender.empty()) return std::nullopt;   // bounces: one counter for all would block them all
        value = lowercase_ascii(usage.sender);
        break;
    case Subject::user:
        if (usage.user.empty()) return std::nullopt;
        value = usage.user;
        break;
    }
    return std::string(subject_name(rule.subject)) + " " + std::string(counted_name(rule.counted)) + " " +
           std::to_string(rule.window_seconds) + " " + xtext_encode(value);
}

uint64_t amount(const RateRule& rule, const Usage& usage) {
    return rule.counted == Counted::messages ? 1 : usage.recipients;
}

std::optional<long> window_of_key(std::string_view key) {
    auto f = split_record_fields(key);
    long seconds = 0;
    if (f.size() != 4 || !parse_decimal(f[2], seconds) || seconds <= 0) return std::nullopt;
    return seconds;
}

std::string format_window(const WindowState& w) {
    std::string out = "1";   // format version
    for (const auto& s : w) out += " " + std::to_string(s.end_ms) + ":" + std::to_string(s.count);
    return out;
}

std::optional<WindowState> parse_window(std::string_view text) {
    auto f = split_record_fields(text);
    if (f.empty() || f[0] != "1") return std::nullopt;
    WindowState w;
    for (size_t i = 1; i < f.size(); ++i) {
        size_t colon = f[i].find(':');
        if (colon == std::string_view::npos) return std::nullopt;
        WindowSlot s;
        if (!parse_decimal(f[i].substr(0, colon), s.end_ms) || !parse_decimal(f[i].substr(colon + 1), s.count))
            return std::nullopt;
        if (!w.empty() && s.end_ms <= w.back().end_ms) return std::nullopt;   // must be ascending
        w.push_back(s);
    }
    return w;
}

uint64_t count_in_window(const WindowState& w, int64_t now_ms, int64_t window_ms) {
    uint64_t total = 0;
    for (const auto& s : w)
        if (s.end_ms > now_ms - window_ms) total += s.count;
    return total;
}

void prune_window(WindowState& w, int64_t now_ms, int64_t window_ms) {
    std::erase_if(w, [&](const WindowSlot& s) { return s.end_ms <= now_ms - window_ms; });
}

void add_to_window(WindowState& w, int64_t now_ms, int64_t window_ms, uint64_t count) {
    int64_t slot = std::max<int64_t>(1, window_ms / kSlots);
    int64_t end = (now_ms / slot + 1) * slot;
    prune_window(w, now_ms, window_ms);
    if (!w.empty() && w.back().end_ms >= end) {
        w.back().count += count;   // same slot (or a clock that stepped back: keep it ordered)
        return;
    }
    w.push_back({end, count});
}

Fit fits(uint64_t in_window, uint64_t amount, uint64_t limit) {
    if (amount > limit) return Fit::never;
    return in_window + amount <= limit ? Fit::fits : Fit::exceeded;
}

}  // namespace ratelimit
