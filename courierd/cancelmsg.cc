// cancelmsg <qid>: cancels a queued message (cancelmsg(1)). Every recipient not yet
// delivered gets a durable "failed" record, then courierd is told to look at the
// message at once (trigger FIFO "flush <qid>"): it returns the message to its sender as
// undeliverable and removes it, like any message whose recipients all failed.
// SECURITY: installed set-uid to the mail user, so that the local user who submitted a
// message (its "owner" record) can cancel it without being able to read the queue.
// The real uid decides (courierd/cancel.h): root, the mail user or the owner; anyone
// else gets EX_NOPERM and the message is untouched. Set-uid, it ignores COURIER_ROOT
// except for an instance no user can have made (lib/paths.h), takes all its ids from
// the mail user before it opens anything, and validates the queue id before it becomes
// a path. Started by root without the bit, it switches to the mail user first.
#include <sysexits.h>
#include <unistd.h>
#include <pwd.h>
#include <sys/stat.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include "courierd/cancel.h"
#include "courierd/queue_listing.h"
#include "courierd/queue_scan.h"
#include "courierd/trigger.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/paths.h"
#include "lib/process.h"
#include "lib/setid_sanitizer.h"

namespace {

std::string account_name(uid_t uid) {
    const passwd* pw = ::getpwuid(uid);
    return pw ? pw->pw_name : "uid " + std::to_string(uid);
}

// Set-uid: the real uid becomes the mail user too, so the caller can no longer signal
// the process halfway through. Root (no set-uid bit) switches to the mail user.
Status become_mail_user_only() {
    if (::geteuid() == 0) return drop_to_mail_user();
    uid_t e = ::geteuid();
    if (::setresuid(e, e, e) < 0) return sys_error("setresuid");
    return ok_status();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fputs("usage: cancelmsg <queue-id>\n", stderr);
        return EX_USAGE;
    }
    // Strict: exactly TTTTTTTT.PPPPPPPP.SSSS in upper-case hex, so no path tricks.
    auto id = QueueId::parse(argv[1]);
    if (!id) {
        std::fprintf(stderr, "cancelmsg: bad queue id: %s\n", log_safe(argv[1]).c_str());
        return EX_USAGE;
    }
    ::umask(027);
    const uid_t caller = ::getuid();
    uid_t mail_uid = static_cast<uid_t>(-1);
    gid_t mail_gid = static_cast<gid_t>(-1);
    bool have_mail_user = lookup_mail_user(&mail_uid, &mail_gid).ok();
    const Paths p = have_mail_user ? paths_for_setid_program(mail_uid) : paths();
    log_open("cancelmsg");
    if (Status s = become_mail_user_only(); !s) {
        std::fprintf(stderr, "cancelmsg: %s\n", s.error().text.c_str());
        return EX_NOPERM;
    }
    size_t offset = 0;
    auto env = read_envelope(queue_file_path(p.spool, *id), &offset);
    if (!env) {
        bool missing = env.error().sys_errno == ENOENT;
        std::fprintf(stderr, "cancelmsg: %s: %s\n", id->text.c_str(),
                     missing ? "no such message in the queue" : env.error().text.c_str());
        return missing ? EX_DATAERR : EX_NOPERM;
    }
    if (env->id.text != id->text) {
        std::fprintf(stderr, "cancelmsg: %s: the queue file names another id\n", id->text.c_str());
        return EX_DATAERR;
    }
    const std::string who = account_name(caller);
    if (courierd::cancel_right(caller, mail_uid, env->owner_uid) == courierd::CancelRight::none) {
        log_warning("cancelmsg refused id=" + id->text + " by=" + log_safe(who) +
                    " rule=not-root-mail-user-or-owner");
        std::fprintf(stderr, "cancelmsg: %s: permission denied: only root, %s or the user who "
                     "sent it may cancel a message\n", id->text.c_str(), mail_user_name());
        return EX_NOPERM;
    }
    auto log = read_file(status_file_path(p.spool, *id), 16u * 1024 * 1024);
    auto listed = courierd::list_message(*env, log ? parse_status_log(*log) : std::vector<StatusRecord>{});
    auto records = courierd::cancel_records(listed, who, std::time(nullptr));
    for (const auto& r : records) {
        if (Status s = append_status(p.spool, *id, r, true); !s) {
            std::fprintf(stderr, "cancelmsg: %s\n", s.error().text.c_str());
            return EX_IOERR;
        }
    }
    log_info("cancelled id=" + id->text + " by=" + log_safe(who) + " rcpts=" +
             std::to_string(records.size()));
    // courierd settles it now; when it is not running it does so at its next start.
    (void)send_trigger_notice(p.trigger_fifo(), format_flush_notice(*id));
    std::printf("%s cancelled\n", id->text.c_str());
    return EX_OK;
}
