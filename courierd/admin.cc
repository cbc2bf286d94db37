// The `courier` command; see admin.h.
#include "courierd/admin.h"
#include <unistd.h>
#include <sysexits.h>
#include <csignal>
#include <cstdio>
#include "courierd/config_check.h"
#include "courierd/trigger.h"
#include "filters/hold.h"
#include "lib/backscatter.h"
#include "lib/log.h"
#include "lib/paths.h"
#include "lib/process.h"
#include "lib/systemd_handover.h"

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

// The "nice" restart of courier(8): SIGHUP to the supervisor, which passes it to the
// scheduler; the scheduler lets the deliveries in progress finish, then a new one
// starts with the configuration read afresh. Not running: a plain start.
int restart() {
    pid_t pid = read_live_pid(pid_file());
    if (pid <= 0) return start();
    if (kill(pid, SIGHUP) != 0) {
        std::perror("courier: kill");
        return EX_NOPERM;
    }
    std::printf("courierd restarting after the deliveries in progress\n");
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

// The backscatter list is the mail user's file: root drops to that user first, so a
// database or lock file it creates keeps the owner courierd and submit need.
int backscatter(const AdminRequest& request) {
    if (Status s = drop_to_mail_user(); !s) {
        std::fprintf(stderr, "courier: %s\n", s.error().text.c_str());
        return EX_NOPERM;
    }
    BackscatterList list;
    std::time_t now = std::time(nullptr);
    if (request.command == AdminRequest::Command::show_all) {
        auto all = list.list(now);
        if (!all) {
            std::fprintf(stderr, "courier: %s\n", all.error().text.c_str());
            return EX_IOERR;
        }
        for (const auto& [address, when] : *all) {
            char buf[32];
            struct tm tm;
            localtime_r(&when, &tm);
            strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
            std::printf("%s %s\n", address.c_str(), buf);
        }
        return EX_OK;
    }
    Status s = request.command == AdminRequest::Command::clear_all ? list.clear()
                                                                   : list.remove(request.address);
    if (!s) {
        std::fprintf(stderr, "courier: %s\n", s.error().text.c_str());
        return EX_IOERR;
    }
    return EX_OK;
}

// A message a global filter held (doc/filters.md, HOLD): the release record, then a
// flush so that a running courierd delivers it now.
int release(const QueueId& id) {
    if (Status s = drop_to_mail_user(); !s) {
        std::fprintf(stderr, "courier: %s\n", s.error().text.c_str());
        return EX_NOPERM;
    }
    auto r = release_held_message(paths().spool, id, std::time(nullptr), "courier release");
    if (!r) {
        std::fprintf(stderr, "courier: release: %s\n", r.error().text.c_str());
        return EX_IOERR;
    }
    if (*r != ReleaseOutcome::released) {
        std::fprintf(stderr, "courier: %s: %s\n", id.text.c_str(),
                     *r == ReleaseOutcome::not_held ? "not held" : "no such message");
        return EX_DATAERR;
    }
    log_info("released id=" + id.text);
    std::printf("%s released\n", id.text.c_str());
    if (read_live_pid(pid_file()) > 0) return flush(id);
    return EX_OK;
}

int check(bool errors_only) {
    size_t errors = print_config_check(stdout, errors_only);
    return errors ? EX_CONFIG : EX_OK;
}

}  // namespace

size_t print_config_check(FILE* out, bool errors_only) {
    ConfigFindings findings = check_configuration(ConfigDir(paths().config));
    size_t errors = count_errors(findings);
    for (const auto& f : findings) {
        if (errors_only && f.severity != ConfigFinding::Severity::error) continue;
        std::fprintf(out, "%s\n", log_safe(format_finding(f)).c_str());
    }
    if (!errors_only)
        std::fprintf(out, "courier check: %zu error%s, %zu warning%s in %s\n", errors,
                     errors == 1 ? "" : "s", findings.size() - errors,
                     findings.size() - errors == 1 ? "" : "s", paths().config.c_str());
    return errors;
}

const char* admin_usage() {
    return "usage: courier {start | stop | restart | flush [qid] | clear user@domain | "
           "clear all | show all | check [-q] | release qid}\n";
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
    if (cmd == "release" && args.size() == 2) {
        r.command = C::release;
        r.id = QueueId::parse(args[1]);
        if (!r.id) return Error{0, "courier: bad queue id: " + log_safe(args[1]) + "\n"};
        return r;
    }
    if (cmd == "show" && args.size() == 2 && args[1] == "all") {
        r.command = C::show_all;
        return r;
    }
    if (cmd == "clear" && args.size() == 2) {
        if (args[1] == "all") {
            r.command = C::clear_all;
            return r;
        }
        if (args[1].find('@') == std::string::npos || args[1].find_first_of(" \t\r\n<>") != std::string::npos)
            return Error{0, "courier: clear: not an address: " + log_safe(args[1]) + "\n"};
        r.command = C::clear_one;
        r.address = args[1];
        return r;
    }
    if (cmd == "check" && (args.size() == 1 || (args.size() == 2 && args[1] == "-q"))) {
        r.command = C::check;
        r.errors_only = args.size() == 2;
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
    // Where systemd runs the machine, courier.service owns courierd (doc/install.md).
    case AdminRequest::Command::start:
        // courierd would refuse too (courierd.cc); checking here shows the messages on
        // the terminal, also when systemd starts the daemon.
        if (print_config_check(stderr, true) > 0) {
            std::fputs("courier: configuration errors, courierd not started (run courier check)\n", stderr);
            return EX_CONFIG;
        }
        if (auto handed = hand_to_systemd("start", "courier.service")) return *handed;
        return start();
    case AdminRequest::Command::stop:
        if (auto handed = hand_to_systemd("stop", "courier.service")) return *handed;
        return stop();
    case AdminRequest::Command::restart:
        // The restarted scheduler reads the configuration afresh: a broken one is
        // refused here, and the running scheduler keeps working with the old one.
        if (print_config_check(stderr, true) > 0) {
            std::fputs("courier: configuration errors, not restarting (run courier check)\n", stderr);
            return EX_CONFIG;
        }
        if (auto handed = hand_to_systemd("reload-or-restart", "courier.service")) return *handed;
        return restart();
    case AdminRequest::Command::flush: return flush(request.id);
    case AdminRequest::Command::show_all:
    case AdminRequest::Command::clear_one:
    case AdminRequest::Command::clear_all: return backscatter(request);
    case AdminRequest::Command::check: return check(request.errors_only);
    case AdminRequest::Command::release: return release(*request.id);
    }
    return EX_SOFTWARE;
}
