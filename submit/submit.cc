// submit: the only writer of the mail queue. Reads the submit protocol on stdin,
// replies on stdout (doc/architecture.md, "The submit protocol", "Crash safety of
// submit"). Usage: submit <esmtp|local|dsn|forward>
// SECURITY: installed set-uid to the mail user, so that any local user's sendmail can
// queue mail without being able to read or change the queue. The real uid decides the
// trust: root and the mail user may use every source and session fact; anyone else
// only "local" and "forward", its session facts are ignored and its account is named
// in the Received: header. Started by root without the set-uid bit, it switches to the
// mail user first (queue files belong to the mail user). Trusts nothing it reads;
// files it creates are 0640, folders 0750.
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sysexits.h>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "config/config.h"
#include "lib/log.h"
#include "lib/paths.h"
#include "lib/setid_sanitizer.h"
#include "lib/process.h"
#include "submit/session.h"

namespace {

// SIZELIMIT in the environment, which then also overrides every vhost's sizelimit
// file, else the sizelimit file, else 10 MiB; 0: no limit (courier(8), sizelimit).
uint64_t size_limit(const ConfigDir& cfg, bool* from_env) {
    std::string text;
    // secure_getenv: a local user running the set-uid submit cannot lift the limit.
    if (const char* env = ::secure_getenv("SIZELIMIT"); env && *env) text = env;
    else if (auto line = cfg.first_line("sizelimit")) text = *line;
    *from_env = ::secure_getenv("SIZELIMIT") && *::secure_getenv("SIZELIMIT");
    return submit::parse_size_limit(text);
}

int serve(const std::string& source) {
    uid_t ruid = ::getuid();
    uid_t mail_uid = static_cast<uid_t>(-1);
    gid_t mail_gid = static_cast<gid_t>(-1);
    bool have_mail_user = lookup_mail_user(&mail_uid, &mail_gid).ok();
    bool trusted = ruid == 0 || (have_mail_user && ruid == mail_uid);
    if (!trusted && source != "local" && source != "forward") {
        log_error("submit: uid " + std::to_string(ruid) + " may not submit " + source + " mail");
        std::fputs("submit: permission denied\n", stderr);
        return EX_NOPERM;
    }
    // Set-uid, COURIER_ROOT counts only for an instance no user can have made.
    Paths p = have_mail_user ? paths_for_setid_program(mail_uid) : paths();
    if (::geteuid() == 0 && have_mail_user) {
        if (auto st = drop_to_mail_user(); !st) log_fatal("submit: " + st.error().text, EX_OSERR);
    }
    submit::SubmitOptions opts;
    opts.source = source;
    opts.spool_dir = p.spool;
    opts.config_dir = p.config;
    opts.size_limit = size_limit(ConfigDir(p.config), &opts.size_limit_fixed);
    opts.trusted = trusted;
    if (const struct passwd* pw = ::getpwuid(ruid)) opts.local_user = pw->pw_name;
    else opts.local_user = "uid" + std::to_string(ruid);
    opts.local_uid = static_cast<long>(ruid);
    submit::SubmitSession session(0, 1, std::move(opts));
    return session.run();
}

}  // namespace

int main(int argc, char** argv) {
    log_open("submit");
    if (argc != 2 || !submit::valid_source(argv[1])) {
        log_error("usage: submit <esmtp|local|dsn|forward>");
        std::fputs("usage: submit <esmtp|local|dsn|forward>\n", stderr);
        return EX_USAGE;
    }
    // A trigger FIFO or caller that goes away must be an error value, not a signal.
    std::signal(SIGPIPE, SIG_IGN);
    ::umask(027);
    try {
        return serve(argv[1]);
    } catch (const std::exception& e) {
        log_error(std::string("submit: ") + e.what());
    } catch (...) {
        log_error("submit: unexpected exception");
    }
    return EX_SOFTWARE;
}
