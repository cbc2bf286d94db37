// The `courier` command; see admin.h.
#include "courierd/admin.h"
#include <unistd.h>
#include <sysexits.h>
#include <csignal>
#include <cstdio>
#include "courierd/trigger.h"
#include "lib/log.h"
#include "lib/paths.h"
#include "lib/process.h"

namespace {

constexpr int kStartWaitMs = 10000;
// The supervisor gives the scheduler 10 s before SIGKILL; allow for that and more.
constexpr int kStopWaitMs = 20000;

std::string pid_file() { return paths().run + "/courierd.pid"; }

// Polls until ready() or timeout; true when ready.
template <typename F>
bool wait_until(F ready, int timeout_ms) {
    for (int waited = 0; waited < timeout_ms; waited += 100) {
        if (ready()) return true;
        usleep(100000);
    }
    return ready();
}

int start() {
    if (pid_t pid = read_live_pid(pid_file()); pid > 0) {
        std::printf("courierd is already running (pid %d)\n", static_cast<int>(pid));
        return EX_OK;
    }
    SpawnOptions o;
    o.argv = {paths().libexec + "/courierd"};
    auto child = ChildProcess::spawn(o);
    if (!child) {
        std::fprintf(stderr, "courier: cannot start courierd: %s\n", child.error().text.c_str());
        return EX_OSERR;
    }
    // courierd detaches at once; its first process exits as soon as it has forked.
    int status = child->wait();
    if (status != 0) {
        std::fprintf(stderr, "courier: courierd failed to start (status %d)\n", status);
        return EX_SOFTWARE;
    }
    if (!wait_until([] { return read_live_pid(pid_file()) > 0; }, kStartWaitMs)) {
        std::fprintf(stderr, "courier: courierd did not write %s\n", pid_file().c_str());
        return EX_SOFTWARE;
    }
    std::printf("courierd started\n");
    return EX_OK;
}

int stop() {
    pid_t pid = read_live_pid(pid_file());
    if (pid <= 0) {
        std::printf("courierd is not running\n");
        return EX_OK;
    }
    if (kill(pid, SIGTERM) != 0) {
        std::perror("courier: kill");
        return EX_NOPERM;
    }
    // The supervisor removes its pid file as its very last act.
    if (!wait_until([] { return read_live_pid(pid_file()) <= 0; }, kStopWaitMs)) {
        std::fprintf(stderr, "courier: courierd (pid %d) did not stop\n", static_cast<int>(pid));
        return EX_TEMPFAIL;
    }
    std::printf("courierd stopped\n");
    return EX_OK;
}

int flush(const std::optional<QueueId>& id) {
    if (read_live_pid(pid_file()) <= 0) {
        std::fprintf(stderr, "courier: courierd is not running\n");
        return EX_UNAVAILABLE;
    }
    if (Status s = send_trigger_notice(paths().trigger_fifo(), format_flush_notice(id)); !s) {
        std::fprintf(stderr, "courier: %s\n", s.error().text.c_str());
        return EX_UNAVAILABLE;
    }
    return EX_OK;
}

}  // namespace

const char* admin_usage() {
    return "usage: courier {start | stop | restart | flush [qid]}\n";
}

Result<AdminRequest> parse_admin_args(const std::vector<std::string>& args) {
    using C = AdminRequest::Command;
    AdminRequest r;
    if (args.empty()) return Error{0, admin_usage()};
    const std::string& cmd = args[0];
    if (cmd == "flush" && args.size() <= 2) {
        r.command = C::flush;
        if (args.size() == 2) {
            r.id = QueueId::parse(args[1]);
            if (!r.id) return Error{0, "courier: bad queue id: " + log_safe(args[1]) + "\n"};
        }
        return r;
    }
    if (args.size() != 1) return Error{0, admin_usage()};
    if (cmd == "start") r.command = C::start;
    else if (cmd == "stop") r.command = C::stop;
    else if (cmd == "restart") r.command = C::restart;
    else return Error{0, admin_usage()};
    return r;
}

int run_admin(const AdminRequest& request) {
    switch (request.command) {
    case AdminRequest::Command::start: return start();
    case AdminRequest::Command::stop: return stop();
    case AdminRequest::Command::restart: {
        // Not yet the "nice" restart of courier(8), which waits for deliveries in
        // progress: stop aborts them and they are attempted again after the start.
        int code = stop();
        return code == EX_OK ? start() : code;
    }
    case AdminRequest::Command::flush: return flush(request.id);
    }
    return EX_SOFTWARE;
}
