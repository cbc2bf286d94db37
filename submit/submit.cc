// submit: the only writer of the mail queue. Reads the submit protocol on stdin,
// replies on stdout (doc/architecture.md, "The submit protocol", "Crash safety of
// submit"). Usage: submit <esmtp|local|dsn|forward>
// SECURITY: runs as its caller (the mail user for SMTP) and changes no ids; trusts
// nothing it reads; files it creates are 0640, folders 0750.
#include <sys/stat.h>
#include <sysexits.h>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include "config/config.h"
#include "lib/log.h"
#include "lib/paths.h"
#include "submit/session.h"

namespace {

// SIZELIMIT in the environment, else the sizelimit file, else 10 MiB; 0: no limit
// (courier(8), sizelimit).
uint64_t size_limit(const ConfigDir& cfg) {
    std::string text;
    if (const char* env = std::getenv("SIZELIMIT"); env && *env) text = env;
    else if (auto line = cfg.first_line("sizelimit")) text = *line;
    if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos ||
        text.size() > 18)
        return 10485760;
    return std::strtoull(text.c_str(), nullptr, 10);
}

int serve(const std::string& source) {
    const Paths& p = paths();
    submit::SubmitOptions opts;
    opts.source = source;
    opts.spool_dir = p.spool;
    opts.config_dir = p.config;
    opts.size_limit = size_limit(ConfigDir(p.config));
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
