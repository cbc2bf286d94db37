// Reading the spool for the scheduler (doc/architecture.md, "The queue"): start-up
// cleaning of spool/tmp, the scan of msgs/<bucket>/ in name order (oldest mail first),
// and loading one message's envelope and status log.
#pragma once
#include <ctime>
#include <functional>
#include <string>
#include "courierd/message_state.h"
#include "lib/queue.h"
#include "lib/result.h"

// Removes files of spool/tmp older than max_age, and at once those whose submit process
// (named by the pid in the T<qid> name) no longer exists: they can never be committed.
void clean_spool_tmp(const std::string& tmp_dir, std::time_t now, long max_age);

// Calls visit(id) for each Q<qid> under `msgs_dir`, buckets and files in name order,
// until visit returns false. Returns true when the whole spool was visited. A status log
// without its queue file (a crash between the two unlinks) is removed on the way.
// Memory: one bucket's names at a time.
bool scan_spool(const std::string& msgs_dir, const std::function<bool(const QueueId&)>& visit);

struct LoadedMessage {
    QueueEnvelope envelope;
    std::string queue_file;
    StatusSummary status;
};
// Reads Q<qid> and S<qid> of one message.
Result<LoadedMessage> load_message(const std::string& spool, const QueueId& id);

// Unlinks Q<qid>, then S<qid>: a crash in between leaves only a status log, which
// scan_spool removes; the other order could lose the record of delivered recipients.
Status remove_message_files(const std::string& spool, const QueueId& id);
// Appends one record to S<qid>; `durable`: fsync before returning.
Status append_status(const std::string& spool, const QueueId& id, const StatusRecord& r,
                     bool durable);
