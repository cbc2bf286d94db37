// courierfilter: starts and stops the global mail filter daemons (courierfilter(8)).
// `courierfilter start` detaches a supervisor (filters/filter_supervisor.h) that runs
// every filter enabled in <config>/filters/active; `courierfilter stop` ends it.
// SECURITY: run by root; the filters themselves run as the mail user.
#include <signal.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>
#include <cstdio>
#include <string>
#include "filters/filter_supervisor.h"
#include "lib/log.h"
#include "lib/paths.h"
#include "lib/process.h"

namespace {

courierfilter::SupervisorPaths supervisor_paths() {
    return {paths().config + "/filters/active", paths().spool + "/filters",
            paths().run + "/courierfilter.pid"};
}

bool wait_for(bool want_running, int timeout_ms) {
    for (int waited = 0; waited <= timeout_ms; waited += 100) {
        if ((read_live_pid(supervisor_paths().pid_file) > 0) == want_running) return true;
        usleep(100000);
    }
    return false;
}

int start() {
    auto sp = supervisor_paths();
    if (pid_t pid = read_live_pid(sp.pid_file); pid > 0) {
        std::printf("courierfilter is already running (pid %d)\n", int(pid));
        return EX_OK;
    }
    pid_t pid = ::fork();
    if (pid < 0) {
        std::perror("courierfilter: fork");
        return EX_OSERR;
    }
    if (pid == 0) {
        daemonize();   // the intermediate process exits here; the daemon carries on
        log_open("courierfilter");
        ::_exit(courierfilter::run_filter_supervisor(sp));
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!wait_for(true, 10000)) {
        std::fprintf(stderr, "courierfilter: did not start (see the mail log)\n");
        return EX_SOFTWARE;
    }
    std::printf("courierfilter started\n");
    return EX_OK;
}

int stop() {
    pid_t pid = read_live_pid(supervisor_paths().pid_file);
    if (pid <= 0) {
        std::printf("courierfilter is not running\n");
        return EX_OK;
    }
    if (::kill(pid, SIGTERM) != 0) {
        std::perror("courierfilter: kill");
        return EX_NOPERM;
    }
    // Filters get 10 s to finish after end of input, then 5 s after SIGTERM.
    if (!wait_for(false, 30000)) {
        std::fprintf(stderr, "courierfilter: pid %d did not stop\n", int(pid));
        return EX_TEMPFAIL;
    }
    std::printf("courierfilter stopped\n");
    return EX_OK;
}

}  // namespace

int main(int argc, char** argv) {
    std::string cmd = argc == 2 ? argv[1] : "";
    if (cmd == "start") return start();
    if (cmd == "stop") return stop();
    if (cmd == "restart") {
        int rc = stop();
        return rc == EX_OK ? start() : rc;
    }
    std::fputs("usage: courierfilter {start | stop | restart}\n", stderr);
    return EX_USAGE;
}
