// The courierd supervisor; see supervisor.h.
#include "courierd/supervisor.h"
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sysexits.h>
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <ctime>
#include "courierd/signal_pipe.h"
#include "lib/log.h"
#include "lib/process.h"

namespace {

// A scheduler that ran this long before dying starts the pause series again.
constexpr std::time_t kHealthyRun = 60;

long now_ms() {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

// Waits up to timeout_ms (-1: no limit) for a signal; true when SIGTERM/SIGINT came.
// SIGCHLD just ends the wait early so the caller can reap; SIGHUP sets *hangup.
bool wait_for_signal(int timeout_ms, bool* child_event, bool* hangup = nullptr) {
    pollfd p{signal_pipe_fd(), POLLIN, 0};
    if (poll(&p, 1, timeout_ms) < 0 && errno != EINTR) usleep(100000);
    bool term = false;
    for (int sig : drain_signals()) {
        if (sig == SIGTERM || sig == SIGINT) term = true;
        if (sig == SIGCHLD) *child_event = true;
        if (sig == SIGHUP && hangup) *hangup = true;
    }
    return term;
}

// The scheduler child: its own process group, so that one kill() reaches it, its
// modules and their delivery children; they run as other users, which only root can
// signal.
pid_t fork_scheduler(const std::function<int()>& scheduler) {
    pid_t pid = fork();
    if (pid == 0) {
        reset_signal_pipe({SIGTERM, SIGINT, SIGCHLD, SIGHUP});
        setpgid(0, 0);
        _exit(scheduler());
    }
    if (pid > 0) setpgid(pid, pid);   // also here, so no kill can race the child's call
    return pid;
}

// Stops the scheduler's process group: SIGTERM, then SIGKILL after timeout; reaps.
void stop_scheduler(pid_t pid, int timeout_s) {
    kill(-pid, SIGTERM);
    long deadline = now_ms() + timeout_s * 1000L;
    int status;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (now_ms() >= deadline) {
            log_warning("courierd: scheduler did not stop, killing it");
            kill(-pid, SIGKILL);
            waitpid(pid, &status, 0);
            break;
        }
        bool child = false;
        wait_for_signal(200, &child);
    }
    kill(-pid, SIGTERM);   // modules that outlived it
}

std::string describe(int status) {
    if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return "signal " + std::to_string(WTERMSIG(status));
    return "status " + std::to_string(status);
}

// Sleeps the restart pause; false when SIGTERM came meanwhile.
bool pause_before_restart(int seconds) {
    long deadline = now_ms() + seconds * 1000L;
    for (long left; (left = deadline - now_ms()) > 0;) {
        bool child = false;
        if (wait_for_signal(static_cast<int>(left), &child)) return false;
    }
    return true;
}

}  // namespace

int restart_pause(unsigned failures, int pause_max) {
    long pause = 1;
    for (unsigned i = 1; i < failures && pause < pause_max; ++i) pause *= 2;
    return static_cast<int>(std::clamp<long>(pause, 1, std::max(pause_max, 1)));
}

int run_supervisor(const SupervisorOptions& opts, const std::function<int()>& scheduler) {
    if (Status s = install_signal_pipe({SIGTERM, SIGINT, SIGCHLD, SIGHUP}); !s) {
        log_error("courierd: " + s.error().text);
        return EX_OSERR;
    }
    if (Status s = write_pid_file(opts.pid_file); !s) {
        log_error("courierd: " + s.error().text);
        return EX_CANTCREAT;
    }
    log_info("courierd: started pid=" + std::to_string(getpid()));
    unsigned failures = 0;
    bool stopping = false;
    while (!stopping) {
        std::time_t started = std::time(nullptr);
        pid_t pid = fork_scheduler(scheduler);
        if (pid < 0) {
            log_error("courierd: fork failed");
        } else {
            int status = 0;
            for (;;) {
                bool child = false, hangup = false;
                if (wait_for_signal(-1, &child, &hangup)) {
                    stop_scheduler(pid, opts.stop_timeout);
                    stopping = true;
                    break;
                }
                // Only the scheduler gets SIGHUP: its modules must finish undisturbed.
                if (hangup) kill(pid, SIGHUP);
                if (waitpid(pid, &status, WNOHANG) == pid) {
                    kill(-pid, SIGTERM);   // its modules, if any outlived it
                    break;
                }
            }
            if (stopping) break;
            if (WIFEXITED(status) && WEXITSTATUS(status) == 0) break;
            if (WIFEXITED(status) && WEXITSTATUS(status) == kSchedulerRestartCode) {
                log_info("courierd: restarting the scheduler");
                failures = 0;
                continue;
            }
            log_error("courierd: scheduler ended with " + describe(status));
            if (std::time(nullptr) - started >= kHealthyRun) failures = 0;
        }
        int pause = restart_pause(++failures, opts.pause_max);
        log_info("courierd: restarting the scheduler in " + std::to_string(pause) + " s");
        stopping = !pause_before_restart(pause);
    }
    unlink(opts.pid_file.c_str());
    log_info("courierd: stopped");
    return EX_OK;
}
