// cancelmsg <qid>: cancels a queued message (cancelmsg(1)). Every recipient not yet
// delivered gets a durable "failed" record, then courierd is told to look at the
// message at once (trigger FIFO "flush <qid>"): it returns the message to its sender as
// undeliverable and removes it, like any message whose recipients all failed.
// SECURITY: run by root or the mail user (the spool is theirs alone); root drops to the
// mail user first, so the status log keeps its owner. The queue id is validated before
// it becomes a path.
#include <sysexits.h>
#include <unistd.h>
#include <pwd.h>
#include <cstdio>
#include <cstring>
#include <ctime>
#include "courierd/queue_listing.h"
#include "courierd/queue_scan.h"
#include "courierd/trigger.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/paths.h"
#include "lib/process.h"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fputs("usage: cancelmsg <queue-id>\n", stderr);
        return EX_USAGE;
    }
    auto id = QueueId::parse(argv[1]);
    if (!id) {
        std::fprintf(stderr, "cancelmsg: bad queue id: %s\n", log_safe(argv[1]).c_str());
        return EX_USAGE;
    }
    log_open("cancelmsg");
    if (Status s = drop_to_mail_user(); !s) {
        std::fprintf(stderr, "cancelmsg: %s\n", s.error().text.c_str());
        return EX_NOPERM;
    }
    const Paths& p = paths();
    size_t offset = 0;
    auto env = read_envelope(queue_file_path(p.spool, *id), &offset);
    if (!env) {
        std::fprintf(stderr, "cancelmsg: %s: %s\n", id->text.c_str(),
                     env.error().sys_errno == ENOENT ? "no such message in the queue"
                                                     : env.error().text.c_str());
        return env.error().sys_errno == ENOENT ? EX_DATAERR : EX_NOPERM;
    }
    auto log = read_file(status_file_path(p.spool, *id), 16u * 1024 * 1024);
    auto listed = courierd::list_message(*env, log ? parse_status_log(*log) : std::vector<StatusRecord>{});
    const passwd* pw = getpwuid(getuid());
    std::string who = pw ? pw->pw_name : std::to_string(getuid());
    unsigned cancelled = 0;
    for (size_t i = 0; i < listed.rcpts.size(); ++i) {
        if (listed.rcpts[i].state == "delivered" || listed.rcpts[i].state == "failed") continue;
        StatusRecord r;
        r.kind = StatusRecord::Kind::failed;
        r.rcpt = i;
        r.when = std::time(nullptr);
        r.text = "554 5.0.0 Message cancelled by " + log_safe(who);
        if (Status s = append_status(p.spool, *id, r, true); !s) {
            std::fprintf(stderr, "cancelmsg: %s\n", s.error().text.c_str());
            return EX_IOERR;
        }
        ++cancelled;
    }
    log_info("cancelled id=" + id->text + " by=" + log_safe(who) + " rcpts=" +
             std::to_string(cancelled));
    // courierd settles it now; when it is not running it does so at its next start.
    (void)send_trigger_notice(p.trigger_fifo(), format_flush_notice(*id));
    std::printf("%s cancelled\n", id->text.c_str());
    return EX_OK;
}
