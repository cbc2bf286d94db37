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

int TcpdServer::poll_timeout_ms() const {
    auto now = Clock::now();
    if (paused_until_ <= now) return -1;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(paused_until_ - now);
    return static_cast<int>(ms.count()) + 1;
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
    PeerKey peer = peer_key(info.remote_ip);
    Admission a = limits_.admit(peer);
    if (a != Admission::accept) {
        log_warning(std::string("refused ip=") + info.remote_ip + " limit=" + admission_text(a));
        return;   // closing the socket is the refusal, as in Courier
    }
    pid_t pid = ::fork();
    if (pid < 0) {
        back_off("fork");
        return;
    }
    if (pid == 0) run_connection_child(std::move(sock), info, child_);
    LoadEvent ev = limits_.add(pid, peer);
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
        if (wake == Wake::restart) log_info("restart requested: nothing to reload, listeners kept");
        for (size_t i = 1; n > 0 && i < pfds.size(); ++i)
            if (pfds[i].revents & (POLLIN | POLLERR))
                accept_from(listeners_.listeners()[i - 1]);
    }
}
