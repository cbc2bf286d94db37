// couriertcpd: the TCP server daemon of couriertcpd(1). Binds the port list, puts
// itself in the background with -pid, drops to -user/-group and runs program once
// per connection. SECURITY: root only until the sockets are bound; it reads nothing
// from the network itself (each connection is handed to a child).
#include <fcntl.h>
#include <signal.h>
#include <sysexits.h>
#include <unistd.h>

#include <linux/close_range.h>

#include <algorithm>
#include <memory>
#include <cerrno>
#include <cstdio>
#include <string>
#include <vector>

#include "lib/log.h"
#include "lib/process.h"
#include "tcpd/listeners.h"
#include "tcpd/port_list.h"
#include "tcpd/run_as.h"
#include "tcpd/tcpd_options.h"
#include "tcpd/tcpd_server.h"

namespace {

int fail(int code, const std::string& text) {
    std::fprintf(stderr, "couriertcpd: %s\n", text.c_str());
    log_error(log_safe(text));
    return code;
}

// Paths given relative to the current folder stay valid after daemonize().
std::string absolute(const std::string& path) {
    if (path.empty() || path[0] == '/') return path;
    char buf[4096];
    if (!::getcwd(buf, sizeof buf)) return path;
    return std::string(buf) + "/" + path;
}

int signal_daemon(const TcpdOptions& o) {
    pid_t pid = read_live_pid(absolute(o.pid_file));
    bool stop = o.action == TcpdAction::stop;
    if (pid <= 0) {
        std::fprintf(stderr, "couriertcpd: not running (%s)\n", o.pid_file.c_str());
        return stop ? 0 : EX_UNAVAILABLE;
    }
    if (::kill(pid, stop ? SIGTERM : SIGHUP) < 0)
        return fail(EX_NOPERM, sys_error("kill " + std::to_string(pid)).text);
    return 0;
}

Result<ChildSetup> make_child_setup(const TcpdOptions& o, UniqueFd& stderr_log) {
    ChildSetup setup;
    setup.program = o.program;
    setup.program[0] = absolute(o.program[0]);
    if (::access(setup.program[0].c_str(), X_OK) < 0)
        return sys_error("program " + setup.program[0]);
    setup.stderr_to_socket = o.stderr_mode == StderrMode::socket;
    setup.dns_lookup = o.dns_lookup;
    setup.dns_timeout_seconds = o.dns_timeout;
    setup.dns_lists = o.dns_lists;
    setup.drop_vars = o.drop_vars;
    setup.deny_msg = o.deny_msg;
    setup.haproxy = o.haproxy;
    if (o.stderr_mode == StderrMode::logfile) {
        // Opened once, as root, so every child appends to it whatever its uid.
        stderr_log.reset(::open(o.stderr_file.c_str(),
                                O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640));
        if (!stderr_log) return sys_error("-stderr=" + o.stderr_file);
        setup.stderr_fd = stderr_log.get();
    }
    return setup;
}

// -stderrlogger: the pipe every child's stderr goes to; the server starts the logger.
Result<std::unique_ptr<StderrLogger>> make_logger(const TcpdOptions& o) {
    auto logger = std::make_unique<StderrLogger>();
    std::string name = o.stderr_logger_name;
    if (name.empty()) {
        name = o.program[0];
        if (auto slash = name.rfind('/'); slash != std::string::npos) name.erase(0, slash + 1);
    }
    logger->argv = {absolute(o.stderr_logger), name};
    if (::access(logger->argv[0].c_str(), X_OK) < 0) return sys_error("-stderrlogger " + logger->argv[0]);
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) < 0) return sys_error("pipe");
    logger->read_end.reset(fds[0]);
    logger->write_end.reset(fds[1]);
    return logger;
}

ConnectionLimitConfig limit_config(const TcpdOptions& o) {
    return ConnectionLimitConfig{o.max_procs, o.max_per_ip, o.max_per_c, o.warn_threshold()};
}

int serve(const TcpdOptions& o) {
    auto targets = parse_port_list(o.port_list, o.address);
    if (!targets) return fail(EX_USAGE, targets.error().text);
    auto run_as = resolve_run_as(o.user, o.group);
    if (!run_as)
        return fail(run_as.error().sys_errno == ENOENT ? EX_NOUSER : EX_NOPERM, run_as.error().text);
    UniqueFd stderr_log;
    auto setup = make_child_setup(o, stderr_log);
    if (!setup) return fail(EX_CONFIG, setup.error().text);
    std::unique_ptr<StderrLogger> logger;
    if (!o.stderr_logger.empty()) {
        auto l = make_logger(o);
        if (!l) return fail(EX_CONFIG, l.error().text);
        logger = std::move(*l);
    }
    std::string pid_file = absolute(o.pid_file);
    if (!pid_file.empty() && read_live_pid(pid_file) > 0)
        return fail(EX_UNAVAILABLE, "already running (" + pid_file + ")");
    auto listeners = ListenerSet::bind_all(*targets, o.listen_backlog);
    if (!listeners) return fail(EX_UNAVAILABLE, listeners.error().text);
    if (!pid_file.empty()) {
        daemonize();
        if (Status s = write_pid_file(pid_file); !s) return fail(EX_CANTCREAT, s.error().text);
    }
    if (Status s = apply_run_as(*run_as); !s) {
        if (!pid_file.empty()) ::unlink(pid_file.c_str());
        return fail(EX_NOPERM, s.error().text);
    }
    log_info("started ports=" + o.port_list + " program=" + setup->program[0] +
             " maxprocs=" + std::to_string(o.max_procs));
    TcpdServer server(std::move(*listeners), limit_config(o), std::move(*setup), pid_file);
    if (!o.access_file.empty()) {
        auto access = std::make_unique<tcpd::AccessTable>(absolute(o.access_file), o.access_local);
        access->reload();
        server.set_access(std::move(access));
    }
    if (logger) server.set_stderr_logger(std::move(logger));
    server.set_session_stats(o.port_list);
    if (stderr_log) server.set_reopenable(Reopenable{absolute(o.stderr_file), stderr_log.get()});
    return server.run();
}

// Descriptors inherited from whoever started us (a shell, an init system) must not
// reach every service we run; ours are all opened close-on-exec.
void mark_inherited_cloexec() {
    if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
    long max = std::min(::sysconf(_SC_OPEN_MAX), 65536L);
    for (int fd = 3; fd < max; ++fd) set_cloexec(fd);
}

}  // namespace

int main(int argc, char** argv) {
    mark_inherited_cloexec();
    log_open("couriertcpd");
    std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
    auto opts = parse_tcpd_options(args);
    if (!opts) {
        std::fprintf(stderr, "couriertcpd: %s\n%s\n", opts.error().text.c_str(), tcpd_usage());
        return EX_USAGE;
    }
    if (opts->action != TcpdAction::serve) return signal_daemon(*opts);
    return serve(*opts);
}
