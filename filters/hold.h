// HOLD (doc/filters.md): a message a global filter held is queued with a "hold" record
// in its status log, and courierd leaves it alone until `courier release <qid>` appends
// a "release" record. This is the release side, used by the courier command.
// SECURITY: called as the mail user (courier drops to it first); changes nothing but
// one durable append to the message's status log.
#pragma once
#include <ctime>
#include <string>
#include <vector>
#include "lib/queue.h"
#include "lib/result.h"

enum class ReleaseOutcome { released, not_held, no_such_message };

// True when the last hold/release record of the log is a hold.
bool is_held(const std::vector<StatusRecord>& log);
// Appends "release <now> <who>" (fsync) when the message is held.
Result<ReleaseOutcome> release_held_message(const std::string& spool, const QueueId& id,
                                            std::time_t now, const std::string& who);
