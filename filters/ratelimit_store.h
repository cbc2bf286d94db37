// The shared counters of ratelimit(8): one Berkeley DB (lib/bdb.h DbStore) that every
// filter process and thread reads and writes, so the limits hold across all receivers.
// A message is checked against every rule and then counted under one exclusive lock
// (<db>.check.lock, flock), so two concurrent messages can never both take the last
// place in a window, and a refused message is counted nowhere.
#pragma once
#include <cstdint>
#include <string>
#include <vector>
#include "filters/ratelimit.h"
#include "lib/bdb.h"
#include "lib/result.h"

namespace ratelimit {

struct Decision {
    bool allowed = true;
    std::string reply;          // refused: the 4xx (or 5xx for a message that can never fit)
    std::string rule_origin;    // refused: file:line of the rule
    std::string key;            // refused: the counter ("ip messages 60 127.0.0.1")
    uint64_t in_window = 0;     // refused: what the window already held
};

class RateStore {
public:
    explicit RateStore(std::string db_path, unsigned mode = 0660);
    // Checks the message against every rule that applies; when all fit, counts it in
    // each of their windows. One lock for the whole step.
    Result<Decision> check_and_record(const std::vector<RateRule>& rules, const Usage& usage, int64_t now_ms);
    // Removes counters whose windows are empty, so the file does not grow with every
    // address ever seen. Returns how many were removed.
    Result<size_t> expire(int64_t now_ms);

private:
    std::string lock_path_;
    unsigned mode_;
    DbStore store_;
};

// The reply for a refused message (pure; unit-tested).
std::string refusal_reply(const RateRule& rule, Fit fit);

}  // namespace ratelimit
