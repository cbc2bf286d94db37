// courierd: the queue manager daemon. Started by `courier start`; detaches, becomes the
// supervisor (supervisor.cc), which forks the scheduler (scheduler.cc). "-f" stays in
// the foreground, for debugging.
// SECURITY: started as root; the supervisor stays root and reads no input, the
// scheduler drops to the mail user after starting the modules.
#include <sysexits.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include "courierd/config_check.h"
#include "courierd/scheduler.h"
#include "courierd/supervisor.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/paths.h"
#include "lib/process.h"

int main(int argc, char** argv) {
    bool foreground = argc == 2 && std::strcmp(argv[1], "-f") == 0;
    if (argc > 2 || (argc == 2 && !foreground)) {
        std::fputs("usage: courierd [-f]\n", stderr);
        return EX_USAGE;
    }
    log_open("courierd");
    SupervisorOptions opts;
    opts.pid_file = paths().run + "/courierd.pid";
    if (const char* max = secure_getenv("COURIERD_RESTART_PAUSE_MAX")) {
        int v = std::atoi(max);
        if (v > 0 && v < opts.pause_max) opts.pause_max = v;
    }
    if (pid_t pid = read_live_pid(opts.pid_file); pid > 0) {
        std::fprintf(stderr, "courierd: already running (pid %d)\n", static_cast<int>(pid));
        return EX_OK;
    }
    // A configuration that `courier check` finds errors in is refused with the same
    // messages, on stderr and in the log, before anything starts.
    ConfigFindings findings = check_configuration(ConfigDir(paths().config));
    if (count_errors(findings) > 0) {
        for (const auto& f : findings) {
            if (f.severity != ConfigFinding::Severity::error) continue;
            std::fprintf(stderr, "courierd: %s\n", log_safe(format_finding(f)).c_str());
            log_error("config " + format_finding(f));
        }
        log_error("courierd: configuration errors, not starting");
        return EX_CONFIG;
    }
    if (Status s = ensure_dir(paths().run, 0755); !s) {
        std::fprintf(stderr, "courierd: %s\n", s.error().text.c_str());
        return EX_CANTCREAT;
    }
    if (!foreground) daemonize();
    return run_supervisor(opts, [] { return run_scheduler(); });
}
