// The courierd supervisor: the root process `courier start` leaves behind. It writes
// the pid file, forks the scheduler into its own process group, restarts it with a
// growing pause (1 s, 2 s, 4 s ... up to 60 s) when it dies, and on SIGTERM, at any
// moment including the pause, stops the scheduler and its modules and exits.
// SECURITY: root; reads no input at all, only forks, waits and signals.
#pragma once
#include <functional>
#include <string>

struct SupervisorOptions {
    std::string pid_file;
    int pause_max = 60;            // seconds; COURIERD_RESTART_PAUSE_MAX may lower it
    int stop_timeout = 10;         // seconds between SIGTERM and SIGKILL of the scheduler
};

// The scheduler's exit code for "restart me now": after SIGHUP it stops dispatching,
// waits for the deliveries in progress, and exits with this code; the supervisor then
// starts a new scheduler at once (courier restart, the "nice" restart of courier(8)).
constexpr int kSchedulerRestartCode = 99;

// The restart pause after `failures` consecutive failures (1 for the first).
int restart_pause(unsigned failures, int pause_max);

// Runs until SIGTERM or until the scheduler exits normally; `scheduler` is the body
// of the forked child and returns its exit code. Returns the supervisor's exit code.
int run_supervisor(const SupervisorOptions& opts, const std::function<int()>& scheduler);
