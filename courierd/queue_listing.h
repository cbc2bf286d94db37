// What mailq shows of each queued message (mailq(1)): id, size, arrival, sender, and
// each recipient with its state, last reply and the next attempt; as the classic text
// listing or as JSON; and the summary view (mailq -s): recipients still to deliver per
// destination domain and state. Pure functions over the envelope and status log.
#pragma once
#include <cstdint>
#include <ctime>
#include <string>
#include <vector>
#include "lib/queue.h"

namespace courierd {

struct ListedRecipient {
    std::string address;
    std::string state;   // pending (no attempt yet), deferred, delivered, failed
    std::string text;    // the last reply, "" when none
};

struct ListedMessage {
    std::string id;
    uint64_t size = 0;
    std::time_t arrival = 0;
    std::string sender;
    std::string source;
    unsigned attempts = 0;
    std::time_t next_attempt = 0;   // 0: as soon as courierd gets to it
    std::vector<ListedRecipient> rcpts;
    bool held = false;              // a filter's hold record not yet released
    std::string hold_reason;
};

ListedMessage list_message(const QueueEnvelope& env, const std::vector<StatusRecord>& log);
std::string format_listing_text(const std::vector<ListedMessage>& msgs);
std::string format_listing_json(const std::vector<ListedMessage>& msgs);
std::string json_string(const std::string& s);   // a quoted JSON string

// mailq -s: the recipients not yet delivered or failed, per destination domain (the
// part after the last '@', lower-cased; "(local)" without one), as qshape does.
struct DomainSummary {
    std::string domain;
    unsigned pending = 0;    // not attempted yet
    unsigned deferred = 0;   // attempted, failed temporarily
    unsigned messages = 0;   // messages with at least one such recipient
    unsigned total() const { return pending + deferred; }
};
// Most recipients first, then by name; the last row is "TOTAL".
std::vector<DomainSummary> summarize_by_domain(const std::vector<ListedMessage>& msgs);
std::string format_summary_text(const std::vector<DomainSummary>& rows);

}  // namespace courierd
