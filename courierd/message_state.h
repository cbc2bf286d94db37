// One queued message as the scheduler holds it in memory: its envelope's recipients and
// where each one stands, rebuilt from the queue file and its status log (doc/
// architecture.md, "Status log") so that a restart never redelivers a recipient that
// has a final record.
#pragma once
#include <ctime>
#include <string>
#include <vector>
#include "lib/queue.h"

enum class RcptPhase {
    pending,       // waiting for a delivery slot
    in_progress,   // handed to a module, no result yet
    deferred,      // this attempt failed temporarily
    final_,        // delivered or failed: has a durable record
};

struct Message {
    QueueId id;
    std::string queue_file;            // path of Q<qid>
    std::string sender;
    std::time_t arrival = 0;
    std::vector<QueueRecipient> rcpts;
    std::vector<RcptPhase> phase;      // one per recipient
    unsigned attempts = 0;             // attempts completed, from the last retry record
    // Kept up to date by the scheduler so that settling a message is O(1), whatever
    // its number of recipients.
    size_t open = 0;                   // recipients pending or in progress
    bool deferred = false;             // some recipient deferred in this attempt
};

// What a message's status log says.
struct StatusSummary {
    std::vector<bool> final_rcpt;      // delivered or failed, per recipient
    unsigned attempts = 0;             // from the last retry record
    std::time_t retry_next = 0;        // 0: no retry record
    bool held = false;                 // a hold record not followed by a release
    bool all_final() const;
};
StatusSummary summarize_status(const std::vector<StatusRecord>& log, size_t rcpt_count);

// A message ready for the scheduler: recipients without a final record are pending.
Message make_message(const QueueEnvelope& env, const std::string& queue_file,
                     const StatusSummary& status);
