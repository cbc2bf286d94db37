// Releasing a held message; see hold.h.
#include "filters/hold.h"
#include <cerrno>
#include "courierd/queue_scan.h"
#include "lib/fileio.h"

bool is_held(const std::vector<StatusRecord>& log) {
    bool held = false;
    for (const auto& r : log) {
        if (r.kind == StatusRecord::Kind::hold) held = true;
        if (r.kind == StatusRecord::Kind::release) held = false;
    }
    return held;
}

Result<ReleaseOutcome> release_held_message(const std::string& spool, const QueueId& id,
                                            std::time_t now, const std::string& who) {
    if (!path_exists(queue_file_path(spool, id))) return ReleaseOutcome::no_such_message;
    auto log = read_file(status_file_path(spool, id), 16u * 1024 * 1024);
    if (!log) {
        if (log.error().sys_errno == ENOENT) return ReleaseOutcome::not_held;
        return log.error();
    }
    if (!is_held(parse_status_log(*log))) return ReleaseOutcome::not_held;
    StatusRecord r;
    r.kind = StatusRecord::Kind::release;
    r.when = now;
    r.text = who;
    // Durable: a release the administrator was told about must survive a crash.
    if (Status s = append_status(spool, id, r, true); !s) return s.error();
    return ReleaseOutcome::released;
}
