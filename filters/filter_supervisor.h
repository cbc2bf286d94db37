// The courierfilter daemon (courierfilter(8), doc/filters.md): starts every filter
// enabled in <config>/filters/active as a child with its socket path, restarts one that
// dies after a growing pause, starts and stops filters when filterctl sends SIGHUP, and
// on SIGTERM stops them all (stdin closed, then SIGTERM, then SIGKILL).
// SECURITY: root, like the courierd supervisor; every filter runs as the mail user. It
// reads only the filters' stdout/stderr, which it logs as untrusted text (log_safe).
#pragma once
#include <ctime>
#include <map>
#include <string>
#include <vector>

namespace courierfilter {

struct SupervisorPaths {
    std::string active_dir;    // <config>/filters/active
    std::string socket_dir;    // <spool>/filters
    std::string pid_file;      // <run>/courierfilter.pid
};

// What one reconciliation does, given the enabled names and the running ones.
struct FilterPlan {
    std::vector<std::string> start;   // enabled, not running
    std::vector<std::string> stop;    // running, no longer enabled
};
FilterPlan plan_filters(const std::vector<std::string>& enabled,
                        const std::vector<std::string>& running);

// Seconds to wait before starting a filter again after `failures` quick deaths:
// 5, 10, 20, 40, 60, 60, ...
int filter_restart_pause(unsigned failures);

// Runs the daemon loop in this process (already detached, pid file not yet written).
// Returns the exit code.
int run_filter_supervisor(const SupervisorPaths& paths);

}  // namespace courierfilter
