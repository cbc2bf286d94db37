// What mailq shows of each queued message (mailq(1)): id, size, arrival, sender, and
// each recipient with its state, last reply and the next attempt; as the classic text
// listing or as JSON. Pure functions over the envelope and status log.
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
};

ListedMessage list_message(const QueueEnvelope& env, const std::vector<StatusRecord>& log);
std::string format_listing_text(const std::vector<ListedMessage>& msgs);
std::string format_listing_json(const std::vector<ListedMessage>& msgs);
std::string json_string(const std::string& s);   // a quoted JSON string

}  // namespace courierd
