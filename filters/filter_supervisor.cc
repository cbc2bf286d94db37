// The courierfilter daemon loop; see filter_supervisor.h.
#include "filters/filter_supervisor.h"
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>
#include <algorithm>
#include <chrono>
#include "courierd/signal_pipe.h"
#include "filters/filter_protocol.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/process.h"

namespace courierfilter {

namespace {

constexpr long kStopGraceMs = 10000;    // stdin closed -> SIGTERM
constexpr long kKillGraceMs = 5000;     // SIGTERM -> SIGKILL
constexpr std::time_t kHealthyRun = 60; // a filter that ran this long starts afresh

long now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

struct RunningFilter {
    ChildProcess child;
    UniqueFd output;            // the filter's stdout and stderr
    std::string partial;        // output line not yet complete
    std::time_t started = 0;
    long stop_since = 0;        // 0: not stopping
    bool term_sent = false;
};

struct RestartState {
    unsigned failures = 0;
    long not_before = 0;        // now_ms() before which it is not started again
};

class Supervisor {
public:
    explicit Supervisor(const SupervisorPaths& p) : paths_(p) {}
    int run();

private:
    void reconcile();
    void start(const std::string& name);
    void begin_stop(const std::string& name, RunningFilter& f);
    void reap();
    void read_output(const std::string& name, RunningFilter& f, bool flush_all);
    void escalate();

    SupervisorPaths paths_;
    std::map<std::string, RunningFilter> running_;
    std::map<std::string, RestartState> restart_;
    uid_t uid_ = static_cast<uid_t>(-1);
    gid_t gid_ = static_cast<gid_t>(-1);
};

void Supervisor::start(const std::string& name) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) {
        log_error("courierfilter: pipe: cannot start " + name);
        return;
    }
    UniqueFd out_r(p[0]), out_w(p[1]);
    std::string socket = paths_.socket_dir + "/" + name;
    ::unlink(socket.c_str());   // a socket left by a filter that died
    SpawnOptions o;
    o.argv = {paths_.active_dir + "/" + name, socket};
    o.extra_env = {"FILTERSOCKET=" + socket, "FILTERNAME=" + name};
    o.pipe_stdin = true;
    o.stdout_fd = out_w.get();
    o.stderr_fd = out_w.get();
    o.uid = uid_;
    o.gid = gid_;
    auto child = ChildProcess::spawn(o);
    RestartState& rs = restart_[name];
    if (!child) {
        rs.not_before = now_ms() + 1000L * filter_restart_pause(++rs.failures);
        log_error("courierfilter: cannot start filter " + name + ": " + child.error().text);
        return;
    }
    set_nonblock(out_r.get(), true);
    RunningFilter f;
    f.child = std::move(*child);
    f.output = std::move(out_r);
    f.started = std::time(nullptr);
    log_info("courierfilter: started filter name=" + name + " pid=" + std::to_string(f.child.pid()));
    running_.emplace(name, std::move(f));
}

void Supervisor::begin_stop(const std::string& name, RunningFilter& f) {
    if (f.stop_since) return;
    log_info("courierfilter: stopping filter name=" + name);
    f.child.close_stdin();   // the filter's "stop" (doc/filters.md)
    f.stop_since = now_ms();
}

void Supervisor::reconcile() {
    std::vector<std::string> enabled = list_active_filters(paths_.active_dir);
    std::vector<std::string> names;
    for (const auto& [name, f] : running_)
        if (!f.stop_since) names.push_back(name);
    FilterPlan plan = plan_filters(enabled, names);
    for (const auto& name : plan.stop) begin_stop(name, running_.at(name));
    long now = now_ms();
    for (const auto& name : plan.start) {
        if (running_.count(name)) continue;   // the old instance is still stopping
        if (restart_[name].not_before > now) continue;
        start(name);
    }
}

void Supervisor::read_output(const std::string& name, RunningFilter& f, bool flush_all) {
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(f.output.get(), buf, sizeof buf);
        if (n <= 0) break;
        f.partial.append(buf, size_t(n));
        if (f.partial.size() > 64 * 1024) f.partial.resize(64 * 1024);
    }
    size_t nl;
    while ((nl = f.partial.find('\n')) != std::string::npos) {
        log_info("courierfilter: filter " + name + ": " + log_safe(f.partial.substr(0, nl)));
        f.partial.erase(0, nl + 1);
    }
    if (flush_all && !f.partial.empty()) {
        log_info("courierfilter: filter " + name + ": " + log_safe(f.partial));
        f.partial.clear();
    }
}

void Supervisor::reap() {
    for (auto it = running_.begin(); it != running_.end();) {
        int status = 0;
        if (!it->second.child.try_wait(&status)) {
            ++it;
            continue;
        }
        const std::string& name = it->first;
        RunningFilter& f = it->second;
        read_output(name, f, true);
        ::unlink((paths_.socket_dir + "/" + name).c_str());
        std::string how = WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                                            : "signal " + std::to_string(WTERMSIG(status));
        if (f.stop_since) {
            log_info("courierfilter: filter name=" + name + " stopped (" + how + ")");
            restart_.erase(name);
        } else {
            RestartState& rs = restart_[name];
            if (std::time(nullptr) - f.started >= kHealthyRun) rs.failures = 0;
            int pause = filter_restart_pause(++rs.failures);
            rs.not_before = now_ms() + 1000L * pause;
            log_error("courierfilter: filter name=" + name + " died (" + how + "), restart in " +
                      std::to_string(pause) + " s");
        }
        it = running_.erase(it);
    }
}

void Supervisor::escalate() {
    long now = now_ms();
    for (auto& [name, f] : running_) {
        if (!f.stop_since) continue;
        if (!f.term_sent && now - f.stop_since >= kStopGraceMs) {
            log_warning("courierfilter: filter name=" + name + " ignores end of input, SIGTERM");
            f.child.kill(SIGTERM);
            f.term_sent = true;
        } else if (f.term_sent && now - f.stop_since >= kStopGraceMs + kKillGraceMs) {
            log_warning("courierfilter: filter name=" + name + " ignores SIGTERM, SIGKILL");
            f.child.kill(SIGKILL);
        }
    }
}

int Supervisor::run() {
    if (Status s = install_signal_pipe({SIGTERM, SIGINT, SIGCHLD, SIGHUP}); !s) {
        log_error("courierfilter: " + s.error().text);
        return EX_OSERR;
    }
    ::signal(SIGPIPE, SIG_IGN);
    if (::geteuid() == 0) {
        if (Status s = lookup_mail_user(&uid_, &gid_); !s) {
            log_error("courierfilter: " + s.error().text);
            return EX_NOUSER;
        }
    }
    if (Status s = ensure_dir(paths_.socket_dir, 0750); !s) {
        log_error("courierfilter: " + s.error().text);
        return EX_CANTCREAT;
    }
    if (uid_ != static_cast<uid_t>(-1) && ::chown(paths_.socket_dir.c_str(), uid_, gid_) != 0) {
        log_error("courierfilter: cannot chown " + paths_.socket_dir);
        return EX_NOPERM;
    }
    if (Status s = write_pid_file(paths_.pid_file); !s) {
        log_error("courierfilter: " + s.error().text);
        return EX_CANTCREAT;
    }
    log_info("courierfilter: started pid=" + std::to_string(::getpid()));
    bool stopping = false;
    long stop_deadline = 0;
    for (;;) {
        reap();
        if (stopping) {
            escalate();
            if (running_.empty() || now_ms() > stop_deadline) break;
        } else {
            reconcile();
        }
        std::vector<pollfd> fds{{signal_pipe_fd(), POLLIN, 0}};
        std::vector<std::string> names;
        for (auto& [name, f] : running_) {
            fds.push_back({f.output.get(), POLLIN, 0});
            names.push_back(name);
        }
        ::poll(fds.data(), fds.size(), 1000);
        for (size_t i = 1; i < fds.size(); ++i)
            if (fds[i].revents) read_output(names[i - 1], running_.at(names[i - 1]), false);
        for (int sig : drain_signals()) {
            if ((sig == SIGTERM || sig == SIGINT) && !stopping) {
                stopping = true;
                stop_deadline = now_ms() + kStopGraceMs + 2 * kKillGraceMs;
                for (auto& [name, f] : running_) begin_stop(name, f);
            }
            if (sig == SIGHUP && !stopping) log_info("courierfilter: rereading filters/active");
        }
    }
    running_.clear();   // anything left is killed and reaped by ChildProcess
    ::unlink(paths_.pid_file.c_str());
    log_info("courierfilter: stopped");
    return EX_OK;
}

}  // namespace

FilterPlan plan_filters(const std::vector<std::string>& enabled,
                        const std::vector<std::string>& running) {
    FilterPlan plan;
    for (const auto& n : enabled)
        if (std::find(running.begin(), running.end(), n) == running.end()) plan.start.push_back(n);
    for (const auto& n : running)
        if (std::find(enabled.begin(), enabled.end(), n) == enabled.end()) plan.stop.push_back(n);
    return plan;
}

int filter_restart_pause(unsigned failures) {
    int pause = 5;
    for (unsigned i = 1; i < failures && pause < 60; ++i) pause *= 2;
    return std::min(pause, 60);
}

int run_filter_supervisor(const SupervisorPaths& paths) { return Supervisor(paths).run(); }

}  // namespace courierfilter
