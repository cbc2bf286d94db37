// libcourierfilter's server side (filters/filter_client.h): the socket, the accept loop
// with one thread per connection, and one request/answer exchange per connection.
#include "filters/filter_client.h"
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <thread>
#include "lib/fileio.h"
#include "lib/lineio.h"
#include "lib/unique_fd.h"

namespace courierfilter {

namespace {

// The signal handler's only way to reach run(): a pipe it writes one byte to.
std::atomic<int> g_signal_pipe{-1};

void on_stop_signal(int) {
    int fd = g_signal_pipe.load();
    if (fd >= 0) {
        char c = 's';
        [[maybe_unused]] auto n = ::write(fd, &c, 1);
    }
}

std::string dir_part(const std::string& path) {
    size_t slash = path.rfind('/');
    return slash == std::string::npos ? "." : path.substr(0, slash);
}

std::string base_part(const std::string& path) {
    size_t slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

void log_stderr(const std::string& text) {
    std::string line = "courierfilter client: " + text + "\n";
    [[maybe_unused]] auto n = ::write(2, line.data(), line.size());
}

}  // namespace

Result<std::string> FilterMessage::read_message(size_t limit) const {
    return read_file(message_path, limit);
}

Verdict Verdict::accept() { return Verdict{Answer{250, "Ok", {}, false, false, "", ""}}; }
Verdict Verdict::accept_skip_rest() { return Verdict{Answer{200, "Ok", {}, false, false, "", ""}}; }
Verdict Verdict::reject(std::string text, int code) {
    if (code / 100 != 5) code = 550;
    return Verdict{Answer{code, client_reply_text(code, text), {}, false, false, "", ""}};
}
Verdict Verdict::tempfail(std::string text, int code) {
    if (code / 100 != 4) code = 451;
    return Verdict{Answer{code, client_reply_text(code, text), {}, false, false, "", ""}};
}
Verdict Verdict::discard(std::string reason, std::string client_text) {
    return Verdict{Answer{250, client_reply_text(250, client_text), {}, false, true, "", std::move(reason)}};
}
Verdict Verdict::hold(std::string reason) {
    return Verdict{Answer{250, "Ok", {}, true, false, std::move(reason), ""}};
}
Verdict& Verdict::with_header(std::string header_line) {
    answer.prepend.push_back(std::move(header_line));
    return *this;
}

struct FilterServer::Impl {
    std::string socket_path;
    Handler handler;
    FilterServerOptions opts;
    UniqueFd listen_fd;
    UniqueFd wake_read, wake_write;     // stop() and signals
    std::mutex mu;
    std::condition_variable idle;
    size_t active = 0;
};

FilterServer::FilterServer(std::string socket_path, Handler handler, FilterServerOptions opts)
    : impl_(new Impl) {
    impl_->socket_path = std::move(socket_path);
    impl_->handler = std::move(handler);
    impl_->opts = opts;
    int p[2];
    if (::pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0) {
        impl_->wake_read.reset(p[0]);
        impl_->wake_write.reset(p[1]);
    }
}

FilterServer::~FilterServer() {
    {
        std::unique_lock lock(impl_->mu);
        impl_->idle.wait(lock, [&] { return impl_->active == 0; });
    }
    delete impl_;
}

Status FilterServer::listen() {
    const std::string& path = impl_->socket_path;
    std::string tmp = dir_part(path) + "/." + base_part(path);
    sockaddr_un addr{};
    if (tmp.size() >= sizeof(addr.sun_path)) return Error{0, "socket path too long: " + path};
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return sys_error("socket");
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, tmp.c_str(), tmp.size() + 1);
    ::unlink(tmp.c_str());
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
        return sys_error("bind " + tmp);
    ::chmod(tmp.c_str(), 0660);
    if (::listen(fd.get(), 64) != 0) return sys_error("listen " + tmp);
    // Only a listening socket gets the real name: submit never meets a half-made one.
    if (::rename(tmp.c_str(), path.c_str()) != 0) return sys_error("rename " + tmp);
    impl_->listen_fd = std::move(fd);
    return ok_status();
}

void FilterServer::stop() {
    if (impl_->wake_write) {
        char c = 's';
        [[maybe_unused]] auto n = ::write(impl_->wake_write.get(), &c, 1);
    }
}

void FilterServer::serve_connection(int raw_fd) {
    UniqueFd fd(raw_fd);
    LineReader in(fd.get(), kMaxLine + 2);
    std::vector<std::string> lines;
    std::optional<Result<Request>> parsed;
    while (!parsed) {
        std::string line;
        if (in.read_line(line, impl_->opts.read_timeout_ms) != LineReader::Status::line) return;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        lines.push_back(std::move(line));
        parsed = parse_request_lines(lines);
    }
    Answer answer;
    if (!*parsed) {
        log_stderr(parsed->error().text);
        answer = Answer{451, "4.7.0 Filter: malformed request", {}, false, false, "", ""};
    } else {
        FilterMessage m;
        m.message_path = (*parsed)->message_path;
        m.envelope_path = (*parsed)->envelope_path;
        auto text = read_file(m.envelope_path, 16 * 1024 * 1024);
        auto env = text ? parse_envelope_file(*text) : Result<Envelope>(text.error());
        if (!env) {
            log_stderr(env.error().text);
            answer = Answer{451, "4.7.0 Filter: cannot read the envelope", {}, false, false, "", ""};
        } else {
            m.envelope = std::move(*env);
            // A handler's exception must not take the whole filter down with it.
            try {
                answer = impl_->handler(m).answer;
            } catch (const std::exception& e) {
                log_stderr(std::string("handler failed: ") + e.what());
                answer = Answer{451, "4.7.0 Filter error", {}, false, false, "", ""};
            }
        }
    }
    Status st = write_all(fd.get(), format_answer(answer));
    if (!st) log_stderr(st.error().text);
}

int FilterServer::run() {
    if (!impl_->listen_fd) {
        log_stderr("run() without listen()");
        return 1;
    }
    ::signal(SIGPIPE, SIG_IGN);
    g_signal_pipe.store(impl_->wake_write.get());
    struct sigaction sa{};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
    int rc = 0;
    bool watch_stdin = impl_->opts.stop_on_stdin_eof;
    for (;;) {
        pollfd fds[3] = {{impl_->listen_fd.get(), POLLIN, 0}, {impl_->wake_read.get(), POLLIN, 0},
                         {watch_stdin ? 0 : -1, POLLIN, 0}};
        if (::poll(fds, 3, -1) < 0) {
            if (errno == EINTR) continue;
            rc = 1;
            break;
        }
        if (fds[1].revents) break;
        if (fds[2].revents) {
            char buf[256];
            ssize_t n = ::read(0, buf, sizeof buf);
            if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) break;   // stop
        }
        if (!(fds[0].revents & POLLIN)) continue;
        int c = ::accept4(impl_->listen_fd.get(), nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) continue;
        std::unique_lock lock(impl_->mu);
        impl_->idle.wait(lock, [&] { return impl_->active < impl_->opts.max_concurrent; });
        ++impl_->active;
        lock.unlock();
        std::thread([this, c] {
            serve_connection(c);
            std::lock_guard g(impl_->mu);
            --impl_->active;
            impl_->idle.notify_all();
        }).detach();
    }
    g_signal_pipe.store(-1);
    // Stop taking connections first, then let the ones in progress finish.
    ::unlink(impl_->socket_path.c_str());
    impl_->listen_fd.reset();
    std::unique_lock lock(impl_->mu);
    impl_->idle.wait(lock, [&] { return impl_->active == 0; });
    return rc;
}

int run_filter(int argc, char** argv, Handler handler, FilterServerOptions opts) {
    std::string path = argc > 1 ? argv[1] : "";
    if (path.empty())
        if (const char* env = std::getenv("FILTERSOCKET")) path = env;
    if (path.empty()) {
        log_stderr("no socket: give it as the first argument or in FILTERSOCKET");
        return 64;   // EX_USAGE
    }
    FilterServer server(path, std::move(handler), opts);
    if (Status st = server.listen(); !st) {
        log_stderr(st.error().text);
        return 71;   // EX_OSERR
    }
    return server.run();
}

}  // namespace courierfilter
