// smtpembed::Server: the listening socket, one thread per connection and stop(). Each
// connection runs courieresmtpd's SmtpSession through run_smtp_session (the same I/O
// layer, STARTTLS switch included) with a CallbackSink in place of submit.
// SECURITY: binds where it is told; clients beyond max_connections get 421 at once.
#include "esmtp/embedded_smtp_server.h"
#include <atomic>
#include <charconv>
#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <condition_variable>
#include <cstdio>
#include <list>
#include <mutex>
#include <optional>
#include <thread>
#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>
#include "esmtp/embedded_callbacks.h"
#include "esmtp/smtp_server.h"
#include "lib/lineio.h"
#include "lib/log.h"
#include "lib/tls.h"
#include "lib/unique_fd.h"

namespace smtpembed {
namespace {
// Errors a refused host may make before we hang up (as SessionConfig::max_errors).
constexpr unsigned kDeniedMaxErrors = 20;
constexpr int kHandshakeTimeoutMs = 30000;

struct Endpoint {
    std::string ip, port;
};

Endpoint endpoint_of(const sockaddr_storage& sa) {
    char host[INET6_ADDRSTRLEN] = "", port[8] = "";
    ::getnameinfo(reinterpret_cast<const sockaddr*>(&sa), sizeof sa, host, sizeof host, port, sizeof port,
                  NI_NUMERICHOST | NI_NUMERICSERV);
    std::string ip = host;
    // An IPv4 client of a dual-stack socket: callbacks see the plain dotted quad.
    if (ip.rfind("::ffff:", 0) == 0 && ip.find('.') != std::string::npos) ip = ip.substr(7);
    return {ip, port};
}

Endpoint local_endpoint(int fd) {
    sockaddr_storage sa{};
    socklen_t len = sizeof sa;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) return {};
    return endpoint_of(sa);
}

std::string host_name() {
    char buf[256] = "";
    if (::gethostname(buf, sizeof buf - 1) != 0 || !buf[0]) return "localhost";
    return buf;
}

// Only this library's threads: a TLS write to a client that went away must give
// EPIPE, not kill the embedding program.
void block_sigpipe_in_this_thread() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

Result<UniqueFd> listen_on(const std::string& address, uint16_t port) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* list = nullptr;
    std::string service = std::to_string(port);
    int rc = ::getaddrinfo(address.empty() ? nullptr : address.c_str(), service.c_str(), &hints, &list);
    if (rc != 0) return Error{0, "cannot resolve " + address + ": " + gai_strerror(rc)};
    // "" means every interface: prefer the IPv6 wildcard, which also takes IPv4.
    addrinfo* pick = list;
    for (addrinfo* a = list; address.empty() && a; a = a->ai_next)
        if (a->ai_family == AF_INET6) pick = a;
    UniqueFd fd(::socket(pick->ai_family, pick->ai_socktype | SOCK_CLOEXEC, 0));
    Error err{};
    if (!fd) err = sys_error("socket");
    int on = 1, off = 0;
    if (fd) ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (fd && pick->ai_family == AF_INET6 && address.empty())
        ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
    if (fd && ::bind(fd.get(), pick->ai_addr, pick->ai_addrlen) != 0) {
        err = sys_error("bind " + (address.empty() ? std::string("*") : address) + " port " + service);
        fd.reset();
    }
    ::freeaddrinfo(list);
    if (fd && ::listen(fd.get(), 64) != 0) {
        err = sys_error("listen");
        fd.reset();
    }
    if (!fd) return err;
    return fd;
}

// The connection's transport: plain until a TLS handshake, then everything via TLS
// (as courieresmtpd's own, over an accepted socket instead of stdin/stdout).
struct Transport {
    Transport(int socket_fd, const TlsContext* ctx, int timeout_ms)
        : fd(socket_fd), in(socket_fd, kMaxAuthLine - 1), tls_ctx(ctx), write_timeout_ms(timeout_ms) {}
    int fd;
    LineReader in;
    const TlsContext* tls_ctx;
    std::optional<TlsConnection> tls;
    int write_timeout_ms;
    std::string tls_error;

    bool write(std::string_view bytes) {
        if (tls) return tls->write_all(bytes, write_timeout_ms);
        return write_to_client(fd, bytes, write_timeout_ms);
    }
    std::optional<TlsInfo> start_tls() {
        if (!tls_ctx) return std::nullopt;
        auto conn = TlsConnection::accept(*tls_ctx, fd, kHandshakeTimeoutMs);
        if (!conn) {
            tls_error = conn.error().text;
            return std::nullopt;
        }
        tls.emplace(std::move(*conn));
        in.discard_buffered();
        in.set_reader(&TlsConnection::line_reader_fn, &*tls);
        return tls->info();
    }
    void wire(SmtpIo& io) {
        io.in = &in;
        io.write = [this](std::string_view b) { return write(b); };
        io.start_tls = [this]() { return start_tls(); };
        io.input_pending = [this]() { return tls && tls->has_pending(); };
        io.read_timed_out = [this]() { return tls && tls->timed_out(); };
        io.reader_waits = [this]() { return tls.has_value(); };
        io.set_read_timeout = [this](int ms) {
            if (tls) tls->set_read_timeout(ms);
        };
    }
};

struct Connection {
    UniqueFd fd;
    Endpoint peer;
    std::thread thread;
    std::atomic<bool> finished{false};
};
}  // namespace

struct Server::Impl {
    Options options;
    Callbacks callbacks;
    std::string me;
    CallbackGate gate;
    std::optional<TlsContext> tls_ctx;
    UniqueFd listener, wake_read, wake_write;
    uint16_t bound_port = 0;
    std::thread acceptor;
    std::atomic<bool> running{false};
    mutable std::mutex mutex;             // guards connections
    std::condition_variable session_ended;
    std::list<std::unique_ptr<Connection>> connections;

    Impl(Options o, Callbacks c)
        : options(std::move(o)), callbacks(std::move(c)),
          me(options.server_name.empty() ? host_name() : options.server_name), gate(options.serialize_callbacks) {}

    void log(const std::string& line) const {
        if (options.log) options.log(line);
    }
    // time.pid.count, like Courier's queue ids: unique across the servers of one
    // process and the processes of one host (smtpcapture names files after it).
    static std::string next_id() {
        static std::atomic<unsigned long> counter{0};
        char buf[64];
        std::snprintf(buf, sizeof buf, "%08lX.%08lX.%06lu", static_cast<unsigned long>(std::time(nullptr)),
                      static_cast<unsigned long>(::getpid()), ++counter);
        return buf;
    }

    void accept_loop();
    void admit(UniqueFd fd, const Endpoint& peer);
    void reap_finished();
    void serve(Connection& c);
    void serve_denied(Transport& t, const Verdict& v, const Endpoint& peer);
    SessionConfig session_config(const Endpoint& peer, const Endpoint& local) const;
};

SessionConfig Server::Impl::session_config(const Endpoint& peer, const Endpoint& local) const {
    SessionConfig cfg;
    cfg.me = me;
    cfg.default_domain = me;
    cfg.greeting = me + " " + options.banner;
    cfg.size_limit = options.size_limit;
    cfg.max_recipients = options.max_recipients;
    cfg.error_delay_ms = options.error_delay_ms;
    cfg.tls_available = tls_ctx.has_value();
    cfg.command_timeout_ms = options.command_timeout_ms;
    cfg.data_timeout_ms = options.data_timeout_ms;
    cfg.facts.remote_ip = peer.ip;
    cfg.facts.remote_port = peer.port;
    cfg.facts.local_ip = local.ip;
    cfg.facts.local_port = local.port;
    return cfg;
}

// smtpd(n) validate_host: the greeting is the refusal and only QUIT is answered; a
// callback that chose 421 is told goodbye at once (RFC 5321 3.8).
void Server::Impl::serve_denied(Transport& t, const Verdict& v, const Endpoint& peer) {
    std::string greeting = host_refusal_line(v);
    log("host refused client=" + peer.ip + " reason=" + log_safe(v.text()) + " reply=" + greeting.substr(0, 3));
    if (!t.write(greeting + "\r\n") || greeting.rfind("421", 0) == 0) return;
    std::string line;
    for (unsigned errors = 0; errors < kDeniedMaxErrors;) {
        auto st = t.in.read_line(line, options.command_timeout_ms);
        if (st == LineReader::Status::eof || st == LineReader::Status::error) return;
        if (st == LineReader::Status::timeout) {
            (void)t.write("421 4.4.2 " + me + " Timeout, closing connection\r\n");
            return;
        }
        DeniedHostAnswer a = answer_denied_host(st == LineReader::Status::line ? line : "", me);
        if (!t.write(a.reply + "\r\n") || a.close) return;
        ++errors;
    }
    (void)t.write("421 4.7.0 " + me + " Too many errors, closing connection\r\n");
}

void Server::Impl::serve(Connection& c) {
    block_sigpipe_in_this_thread();
    Transport t(c.fd.get(), tls_ctx ? &*tls_ctx : nullptr, options.command_timeout_ms);
    if (options.implicit_tls) {
        // RFC 8314 3.3: no greeting before the handshake; a failed one ends it.
        if (!t.start_tls()) {
            log("tls status=failed client=" + c.peer.ip + " error=" + log_safe(t.tls_error));
            return;
        }
    }
    if (callbacks.validate_host) {
        Verdict v = gate.call(callbacks.validate_host, c.peer.ip);
        if (!v.accepted()) return serve_denied(t, v, c.peer);
    }
    log("connect client=" + c.peer.ip + " port=" + c.peer.port);
    SinkSettings settings;
    settings.me = me;
    settings.next_id = &Impl::next_id;
    settings.log = options.log;
    CallbackSink sink(callbacks, gate, std::move(settings));
    SmtpSession session(session_config(c.peer, local_endpoint(c.fd.get())), sink);
    if (options.log) session.log = options.log;
    else session.log = nullptr;
    SmtpIo io;
    t.wire(io);
    if (t.tls) session.on_tls_started(t.tls->info());
    run_smtp_session(session, io);
    if (!t.tls_error.empty()) log("tls status=failed client=" + c.peer.ip + " error=" + log_safe(t.tls_error));
    if (t.tls) t.tls->shutdown(1000);
    log("disconnect client=" + c.peer.ip + " port=" + c.peer.port);
}

// Joins the threads of sessions that have ended; their descriptors close with them.
void Server::Impl::reap_finished() {
    std::list<std::unique_ptr<Connection>> done;
    {
        std::lock_guard<std::mutex> lock(mutex);
        for (auto it = connections.begin(); it != connections.end();) {
            if ((*it)->finished) done.splice(done.end(), connections, it++);
            else ++it;
        }
    }
    for (auto& c : done) c->thread.join();
}

void Server::Impl::admit(UniqueFd fd, const Endpoint& peer) {
    reap_finished();
    std::lock_guard<std::mutex> lock(mutex);
    if (connections.size() >= options.max_connections) {
        log("connection refused client=" + peer.ip + " reason=max_connections");
        (void)write_to_client(fd.get(), "421 4.7.0 " + me + " Too many connections, try again later\r\n", 1000);
        return;
    }
    auto c = std::make_unique<Connection>();
    c->fd = std::move(fd);
    c->peer = peer;
    Connection* raw = c.get();
    c->thread = std::thread([this, raw] {
        serve(*raw);
        // Told under the lock so that stop() cannot miss the last session's end.
        std::lock_guard<std::mutex> l(mutex);
        raw->finished = true;
        session_ended.notify_all();
    });
    connections.push_back(std::move(c));
}

void Server::Impl::accept_loop() {
    block_sigpipe_in_this_thread();
    while (true) {
        pollfd p[2] = {{listener.get(), POLLIN, 0}, {wake_read.get(), POLLIN, 0}};
        int r = ::poll(p, 2, 1000);
        if (r < 0 && errno != EINTR) break;
        if (p[1].revents) break;   // stop()
        if (r <= 0 || !(p[0].revents & POLLIN)) {
            reap_finished();
            continue;
        }
        sockaddr_storage sa{};
        socklen_t len = sizeof sa;
        UniqueFd fd(::accept4(listener.get(), reinterpret_cast<sockaddr*>(&sa), &len, SOCK_CLOEXEC));
        if (!fd) continue;   // the client gave up before accept(), or EMFILE: try again
        admit(std::move(fd), endpoint_of(sa));
    }
}

Server::Server(Options options, Callbacks callbacks)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(callbacks))) {}

Server::~Server() { stop(); }

bool Server::start(std::string* why) {
    auto fail = [why](std::string text) {
        if (why) *why = std::move(text);
        return false;
    };
    Impl& s = *impl_;
    if (s.running) return fail("the server is already running");
    if (!s.options.tls_cert_file.empty()) {
        TlsServerOptions t;
        t.cert_file = s.options.tls_cert_file;
        t.key_file = s.options.tls_key_file;
        auto ctx = TlsContext::server(t);
        if (!ctx) return fail("TLS: " + ctx.error().text);
        s.tls_ctx.emplace(std::move(*ctx));
    } else if (s.options.implicit_tls) {
        return fail("implicit_tls needs tls_cert_file");
    }
    auto fd = listen_on(s.options.address, s.options.port);
    if (!fd) return fail(fd.error().text);
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return fail(sys_error("pipe").text);
    s.wake_read.reset(pipe_fds[0]);
    s.wake_write.reset(pipe_fds[1]);
    s.listener = std::move(*fd);
    std::string bound = local_endpoint(s.listener.get()).port;
    if (std::from_chars(bound.data(), bound.data() + bound.size(), s.bound_port).ec != std::errc())
        return fail(sys_error("getsockname").text);
    s.running = true;
    s.acceptor = std::thread([&s] { s.accept_loop(); });
    s.log("listening address=" + (s.options.address.empty() ? std::string("*") : s.options.address) +
          " port=" + std::to_string(s.bound_port) + (s.tls_ctx ? " tls=yes" : ""));
    return true;
}

uint16_t Server::port() const { return impl_->running ? impl_->bound_port : 0; }

bool Server::running() const { return impl_->running; }

size_t Server::active_sessions() const {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    size_t n = 0;
    for (const auto& c : impl_->connections)
        if (!c->finished) ++n;
    return n;
}

void Server::stop(std::chrono::milliseconds grace) {
    Impl& s = *impl_;
    if (!s.running.exchange(false)) return;
    (void)!::write(s.wake_write.get(), "x", 1);
    s.acceptor.join();
    s.listener.reset();   // new clients are refused by the kernel from here on
    std::unique_lock<std::mutex> lock(s.mutex);
    auto all_done = [&s] {
        for (const auto& c : s.connections)
            if (!c->finished) return false;
        return true;
    };
    s.session_ended.wait_for(lock, grace, all_done);
    // The rest see end of input (or a failed write) and end their sessions; the
    // descriptors stay open until the threads are joined, so no number is reused.
    for (const auto& c : s.connections)
        if (!c->finished) ::shutdown(c->fd.get(), SHUT_RDWR);
    std::list<std::unique_ptr<Connection>> all = std::move(s.connections);
    s.connections.clear();
    lock.unlock();
    for (auto& c : all) c->thread.join();
    s.wake_read.reset();
    s.wake_write.reset();
    s.tls_ctx.reset();
    s.log("stopped port=" + std::to_string(s.bound_port));
}

}  // namespace smtpembed
