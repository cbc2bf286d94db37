// couriertcpd's accept loop (couriertcpd(1): -maxprocs, -maxperip, -maxperc, -warn,
// -stop, -restart). SECURITY: runs as the -user; each connection is served by a
// forked child, so nothing a peer sends is ever read by this process.
#include "tcpd/tcpd_server.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "lib/log.h"
#include "lib/process.h"

namespace {

using Clock = std::chrono::steady_clock;

// Written by the signal handler only; the loop reads the other end.
volatile sig_atomic_t g_signal_pipe = -1;

const int k_handled_signals[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP};

extern "C" void on_signal(int sig) {
    int saved = errno;
    char c = static_cast<char>(sig);
    if (g_signal_pipe >= 0) (void)!::write(g_signal_pipe, &c, 1);
    errno = saved;
}

// A full pipe only means a wake-up is already pending, so dropping bytes is fine.
Status install_handlers() {
    for (int s : k_handled_signals) {
        struct sigaction sa {};
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART | (s == SIGCHLD ? SA_NOCLDSTOP : 0);
        if (::sigaction(s, &sa, nullptr) < 0) return sys_error("sigaction");
    }
    return ok_status();
}

// Accept errors that concern one connection only: go on with the next.
bool transient_accept_error(int err) {
    return err == EINTR || err == ECONNABORTED || err == EPROTO || err == EPERM ||
           err == ENETDOWN || err == ENOPROTOOPT || err == EHOSTDOWN || err == ENONET ||
           err == EHOSTUNREACH || err == EOPNOTSUPP || err == ENETUNREACH;
}

// Connections taken per listener per wake-up: enough to drain a burst, small
// enough that one busy port cannot starve the others or the signal pipe.
constexpr int k_accepts_per_wakeup = 16;
constexpr auto k_backoff = std::chrono::milliseconds(100);
constexpr auto k_error_log_interval = std::chrono::seconds(10);

const char* admission_text(Admission a) {
    return a == Admission::too_many_from_ip ? "maxperip" : "maxperc";
}

}  // namespace

TcpdServer::TcpdServer(ListenerSet listeners, ConnectionLimitConfig limits, ChildSetup child,
                       std::string pid_file)
    : listeners_(std::move(listeners)), limits_(limits), child_(std::move(child)),
      pid_file_(std::move(pid_file)) {
    child_.signals_to_reset.assign(std::begin(k_handled_signals), std::end(k_handled_signals));
}

void TcpdServer::set_access(std::unique_ptr<tcpd::AccessTable> access) {
    access_ = std::move(access);
    child_.access = access_.get();
}

void TcpdServer::set_stderr_logger(std::unique_ptr<StderrLogger> logger) {
    logger_ = std::move(logger);
    child_.stderr_fd = logger_->write_end.get();
    restart_logger();
}

int TcpdServer::poll_timeout_ms() const {
    auto now = Clock::now();
    auto until = paused_until_;
    if (logger_waiting_ && (until <= now || logger_due_ < until)) until = logger_due_;
    if (until <= now) return logger_waiting_ ? 0 : -1;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(until - now);
    return static_cast<int>(ms.count()) + 1;
}

// The logger runs as the -user, like the children that write to it; one that keeps
// dying is restarted at most once a second.
void TcpdServer::restart_logger() {
    auto now = Clock::now();
    if (now - logger_started_ < std::chrono::seconds(1)) {
        logger_waiting_ = true;
        logger_due_ = logger_started_ + std::chrono::seconds(1);
        return;
    }
    logger_waiting_ = false;
    logger_started_ = now;
    pid_t pid = ::fork();
    if (pid < 0) {
        log_error(sys_error("fork of the -stderrlogger").text);
        logger_waiting_ = true;
        logger_due_ = now + std::chrono::seconds(1);
        return;
    }
    if (pid == 0) {
        for (int s : child_.signals_to_reset) ::signal(s, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        if (::dup2(logger_->read_end.get(), 0) < 0) ::_exit(71);
        std::vector<char*> argv;
        for (auto& a : logger_->argv) argv.push_back(a.data());
        argv.push_back(nullptr);
        ::execv(argv[0], argv.data());
        log_error(sys_error("exec " + logger_->argv[0]).text);
        ::_exit(71);
    }
    logger_->pid = pid;
}

void TcpdServer::reload() {
    log_info("restart requested: reloading the access file and logs, listeners kept");
    if (access_) access_->reload();
    if (!reopen_.stderr_file.empty() && reopen_.stderr_fd >= 0) {
        UniqueFd f(::open(reopen_.stderr_file.c_str(),
                          O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640));
        // Same descriptor number: the children's setup keeps pointing at it.
        if (!f || ::dup3(f.get(), reopen_.stderr_fd, O_CLOEXEC) < 0)
            log_error(sys_error("reopen of -stderr=" + reopen_.stderr_file).text +
                      "; keeping the old file");
    }
}

TcpdServer::Wake TcpdServer::drain_signals() {
    Wake wake = Wake::none;
    char buf[64];
    for (;;) {
        ssize_t n = ::read(sig_read_.get(), buf, sizeof buf);
        if (n <= 0) break;
        for (ssize_t i = 0; i < n; ++i) {
            if (buf[i] == SIGTERM || buf[i] == SIGINT) wake = Wake::stop;
            else if (buf[i] == SIGHUP && wake != Wake::stop) wake = Wake::restart;
            else if (wake == Wake::none) wake = Wake::child;
        }
    }
    return wake;
}

void TcpdServer::reap_children() {
    int status = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
        if (logger_ && pid == logger_->pid) {
            log_warning("stderr logger pid=" + std::to_string(pid) + " exited; restarting it");
            logger_->pid = -1;
            restart_logger();
            continue;
        }
        limits_.remove(pid);
        // SIGTERM (our own -stop) and SIGPIPE (a client that hung up) are routine.
        if (WIFSIGNALED(status) && WTERMSIG(status) != SIGTERM && WTERMSIG(status) != SIGPIPE)
            log_warning("child pid=" + std::to_string(pid) + " killed by signal " +
                        std::to_string(WTERMSIG(status)));
    }
}

void TcpdServer::back_off(const char* why) {
    int err = errno;
    auto now = Clock::now();
    paused_until_ = now + k_backoff;
    if (now - last_error_log_ >= k_error_log_interval) {
        last_error_log_ = now;
        log_error(std::string(why) + ": " + std::strerror(err) + "; pausing accepts");
    }
}

void TcpdServer::start_child(UniqueFd sock, const sockaddr_storage& remote) {
    sockaddr_storage local{};
    socklen_t len = sizeof local;
    if (::getsockname(sock.get(), reinterpret_cast<sockaddr*>(&local), &len) < 0) return;
    ConnectionInfo info = describe_connection(remote, local);
    if (child_.haproxy.applies(info.local_ip, info.local_port)) {
        start_proxied_child(std::move(sock), info);
        return;
    }
    tcpd::AccessDecision d;
    if (access_) d = access_->check(info.remote_ip, info.local_ip, info.local_port);
    if (!d.allow) {
        refuse_by_access(sock.get(), info.remote_ip, d.matched, child_.deny_msg);
        return;
    }
    PeerKey peer = peer_key(info.remote_ip);
    Admission a = limits_.admit(peer, d.max_per_ip);
    if (a != Admission::accept) {
        log_warning(std::string("refused ip=") + info.remote_ip + " limit=" + admission_text(a));
        return;   // closing the socket is the refusal, as in Courier
    }
    pid_t pid = ::fork();
    if (pid < 0) {
        back_off("fork");
        return;
    }
    if (pid == 0) {
        ChildStart start;
        start.access_vars = std::move(d.variables);
        run_connection_child(std::move(sock), info, child_, std::move(start));
    }
    ++connections_;
    note_load(limits_.add(pid, peer));
}

// The header is read by the child; the slot is taken now and counted for the
// client's address once the child reports it (answer_admission).
void TcpdServer::start_proxied_child(UniqueFd sock, const ConnectionInfo& info) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        back_off("socketpair");
        return;
    }
    UniqueFd mine(sv[0]), theirs(sv[1]);
    pid_t pid = ::fork();
    if (pid < 0) {
        back_off("fork");
        return;
    }
    if (pid == 0) {
        ChildStart start;
        start.proxied = true;
        start.admit_fd = theirs.get();
        run_connection_child(std::move(sock), info, child_, std::move(start));
    }
    set_nonblock(mine.get(), true);
    ++connections_;
    note_load(limits_.add(pid, PeerKey{}));
    int fd = mine.get();
    admissions_.emplace(fd, std::make_pair(pid, std::move(mine)));
}

void TcpdServer::answer_admission(int fd) {
    auto it = admissions_.find(fd);
    if (it == admissions_.end()) return;
    char buf[256];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    std::string ip;
    std::optional<unsigned> max_per_ip;
    if (n > 0 && parse_admit_request(std::string_view(buf, static_cast<size_t>(n)), ip, max_per_ip)) {
        Admission a = limits_.assign(it->second.first, peer_key(ip), max_per_ip);
        std::string reply = a == Admission::accept ? "ok\n"
                                                   : std::string("refused ") + admission_text(a) + "\n";
        if (a != Admission::accept)
            log_warning("refused ip=" + ip + " limit=" + admission_text(a) + " via=haproxy");
        // MSG_NOSIGNAL: a child that died meanwhile must not take the server with it.
        (void)!::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    admissions_.erase(it);   // answered, or the child is gone
}

void TcpdServer::note_load(LoadEvent ev) {
    if (ev == LoadEvent::alert)
        log_line(LogLevel::alert, "maximum connections reached active=" +
                                      std::to_string(limits_.active()));
    else if (ev == LoadEvent::warning)
        log_warning("connections above warning level active=" +
                    std::to_string(limits_.active()));
}

void TcpdServer::accept_from(const Listener& l) {
    for (int i = 0; i < k_accepts_per_wakeup && !limits_.full(); ++i) {
        sockaddr_storage remote{};
        socklen_t len = sizeof remote;
        UniqueFd sock(::accept4(l.fd.get(), reinterpret_cast<sockaddr*>(&remote), &len,
                                SOCK_CLOEXEC));
        if (!sock) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            if (transient_accept_error(errno)) continue;
            back_off("accept");   // EMFILE, ENFILE, ENOBUFS, ENOMEM...
            return;
        }
        start_child(std::move(sock), remote);
    }
}

void TcpdServer::shut_down() {
    log_info("stopping active=" + std::to_string(limits_.active()));
    listeners_.close_all();
    limits_.for_each_pid([](pid_t pid) { ::kill(pid, SIGTERM); });
    if (!pid_file_.empty()) ::unlink(pid_file_.c_str());
    if (stats_) stats_->remove();
}

int TcpdServer::run() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) {
        log_error(sys_error("pipe").text);
        return 71;   // EX_OSERR
    }
    sig_read_.reset(fds[0]);
    sig_write_.reset(fds[1]);
    g_signal_pipe = fds[1];
    if (Status s = install_handlers(); !s) {
        log_error(s.error().text);
        return 71;
    }
    std::vector<pollfd> pfds;
    for (;;) {
        bool accepting = !limits_.full() && paused_until_ <= Clock::now();
        pfds.assign(1, pollfd{sig_read_.get(), POLLIN, 0});
        if (accepting)
            for (const Listener& l : listeners_.listeners())
                pfds.push_back(pollfd{l.fd.get(), POLLIN, 0});
        size_t n_listeners = pfds.size() - 1;
        for (const auto& [fd, waiting] : admissions_) pfds.push_back(pollfd{fd, POLLIN, 0});
        if (stats_) stats_->update(limits_.active(), connections_);
        int n = ::poll(pfds.data(), pfds.size(), poll_timeout_ms());
        if (n < 0 && errno != EINTR) {
            log_error(sys_error("poll").text);
            return 71;
        }
        Wake wake = drain_signals();
        reap_children();
        if (wake == Wake::stop) {
            shut_down();
            return 0;
        }
        if (wake == Wake::restart) reload();
        if (logger_waiting_ && Clock::now() >= logger_due_) restart_logger();
        for (size_t i = 1; n > 0 && i < pfds.size(); ++i) {
            if (!(pfds[i].revents & (POLLIN | POLLERR | POLLHUP))) continue;
            if (i <= n_listeners) accept_from(listeners_.listeners()[i - 1]);
            else answer_admission(pfds[i].fd);
        }
    }
}
