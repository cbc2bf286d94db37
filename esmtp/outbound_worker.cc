// courieresmtp's dispatcher and delivery workers: see outbound_worker.h.
#include "esmtp/outbound_worker.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <deque>
#include <list>
#include <memory>
#include <set>
#include "esmtp/outbound_route.h"
#include "esmtp/outbound_session.h"
#include "lib/address.h"
#include "lib/fileio.h"
#include "lib/lineio.h"
#include "lib/log.h"
#include "lib/module_protocol.h"
#include "lib/process.h"
#include "lib/unique_fd.h"
#include "lib/xtext.h"

namespace outbound {

namespace {
constexpr size_t kMaxLine = 64 * 1024;
constexpr size_t kMaxWorkers = 200;

// --- the worker (a forked child; stdin/stdout are its pipes to the dispatcher) ---

[[noreturn]] void worker_main(const ConfigDir& cfg, PenaltyBox penalties) {
    Deliverer d(cfg, std::move(penalties));
    LineReader in(STDIN_FILENO, kMaxLine);
    RequestParser parser;
    std::string line;
    std::time_t idle_since = std::time(nullptr), last_ping = idle_since;
    for (;;) {
        const Timeouts& t = d.timeouts();
        std::time_t now = std::time(nullptr);
        long wait = std::max<long>(1, std::min(idle_since + t.keepalive - now, last_ping + t.keepaliveping - now));
        auto s = in.read_line(line, static_cast<int>(std::min<long>(wait, 3600)) * 1000);
        if (s == LineReader::Status::timeout) {
            now = std::time(nullptr);
            if (now - idle_since >= t.keepalive) break;   // idle: end the session and the process
            if (now - last_ping >= t.keepaliveping) {
                d.ping();
                last_ping = now;
            }
            continue;
        }
        if (s != LineReader::Status::line) break;
        std::string error;
        auto req = parser.feed(line, &error);
        if (!error.empty()) _exit(EX_PROTOCOL);
        if (!req) continue;
        DeliveryOutcome out = d.deliver(*req);
        std::string text;
        for (const auto& [addr, until] : out.new_penalties)
            text += "notls " + xtext_encode(addr) + " " + std::to_string(until) + "\n";
        for (const auto& r : out.results) text += format_result(r);
        if (out.unreachable) text += "unreachable " + std::to_string(req->id) + "\n";
        text += format_done(req->id);
        if (!write_all(STDOUT_FILENO, text)) _exit(EX_IOERR);
        idle_since = last_ping = std::time(nullptr);
    }
    d.close();
    _exit(EX_OK);
}

// --- the dispatcher ---

struct Worker {
    pid_t pid = -1;
    UniqueFd to, from;
    std::unique_ptr<LineReader> reader;
    std::string domain;
    bool busy = false;
    bool closing = false;
    DeliveryRequest current;
    std::set<size_t> pending;   // recipient indexes still without a result
};

class Dispatcher {
public:
    explicit Dispatcher(const ConfigDir& cfg) : cfg_(cfg) {}
    int run();

private:
    void on_request(DeliveryRequest req);
    void dispatch();
    bool start_worker(const DeliveryRequest& req);
    void assign(Worker& w, DeliveryRequest req);
    void on_worker_output(Worker& w);
    void worker_gone(Worker& w);
    void send_up(const std::string& text);
    size_t sessions(const std::string& domain) const;

    ConfigDir cfg_;
    std::list<Worker> workers_;
    std::deque<DeliveryRequest> waiting_;
    DelayTable delays_;
    PenaltyBox penalties_;
    std::set<unsigned long> requeued_;   // delivery ids given to a second worker
    bool input_done_ = false;
};

void Dispatcher::send_up(const std::string& text) {
    if (!write_all(STDOUT_FILENO, text)) log_fatal("cannot write results", EX_IOERR);
}

size_t Dispatcher::sessions(const std::string& domain) const {
    return static_cast<size_t>(std::count_if(workers_.begin(), workers_.end(),
                                             [&](const Worker& w) { return w.domain == domain && !w.closing; }));
}

void Dispatcher::on_request(DeliveryRequest req) {
    std::time_t now = std::time(nullptr);
    delays_.activity(now);
    std::string domain = lowercase_ascii(req.host);
    if (delays_.postponed(domain, now)) {
        std::string out;
        for (const auto& r : req.rcpts)
            out += format_result({req.id, r.index, DeliveryStatus::defer,
                                  "451 4.4.1 no mail server of " + domain + " was reachable recently (esmtpdelay)"});
        send_up(out + format_done(req.id));
        log_info("outbound id=" + req.qid + " domain=" + domain + " status=postponed reason=esmtpdelay");
        return;
    }
    waiting_.push_back(std::move(req));
    dispatch();
}

void Dispatcher::assign(Worker& w, DeliveryRequest req) {
    w.busy = true;
    w.pending.clear();
    for (const auto& r : req.rcpts) w.pending.insert(r.index);
    if (!write_all(w.to.get(), format_request(req))) {
        w.current = std::move(req);
        worker_gone(w);
        return;
    }
    w.current = std::move(req);
}

bool Dispatcher::start_worker(const DeliveryRequest& req) {
    int down[2], up[2];
    if (::pipe2(down, O_CLOEXEC) != 0) return false;
    if (::pipe2(up, O_CLOEXEC) != 0) {
        ::close(down[0]);
        ::close(down[1]);
        return false;
    }
    pid_t pid = ::fork();
    if (pid < 0) {
        for (int fd : {down[0], down[1], up[0], up[1]}) ::close(fd);
        return false;
    }
    if (pid == 0) {
        ::dup2(down[0], STDIN_FILENO);
        ::dup2(up[1], STDOUT_FILENO);
        // The other workers' pipes are not ours (the log's descriptor stays open).
        for (int fd : {down[0], down[1], up[0], up[1]}) ::close(fd);
        for (auto& w : workers_) {
            w.to.reset();
            w.from.reset();
        }
        ::signal(SIGPIPE, SIG_IGN);
        worker_main(cfg_, penalties_);
    }
    ::close(down[0]);
    ::close(up[1]);
    Worker& w = workers_.emplace_back();
    w.pid = pid;
    w.to.reset(down[1]);
    w.from.reset(up[0]);
    w.reader = std::make_unique<LineReader>(w.from.get(), kMaxLine);
    w.domain = lowercase_ascii(req.host);
    return true;
}

void Dispatcher::dispatch() {
    unsigned max_sessions = load_max_sessions(cfg_);
    // assign() may put a request back (worker_gone): work on a copy of the queue.
    std::deque<DeliveryRequest> todo;
    todo.swap(waiting_);
    while (!todo.empty()) {
        DeliveryRequest req = std::move(todo.front());
        todo.pop_front();
        std::string domain = lowercase_ascii(req.host);
        Worker* idle = nullptr;
        for (auto& w : workers_)
            if (!w.busy && !w.closing && w.domain == domain) idle = &w;
        if (!idle && sessions(domain) < max_sessions) {
            if (workers_.size() >= kMaxWorkers) {
                // Make room: an idle session to another domain is ended.
                for (auto& w : workers_)
                    if (!w.busy && !w.closing) {
                        w.closing = true;
                        w.to.reset();
                        break;
                    }
            }
            if (start_worker(req)) idle = &workers_.back();
        }
        if (idle) assign(*idle, std::move(req));
        else waiting_.push_back(std::move(req));
    }
}

void Dispatcher::on_worker_output(Worker& w) {
    std::string line;
    for (;;) {
        auto s = w.reader->read_line(line, 0);
        if (s == LineReader::Status::timeout) return;
        if (s != LineReader::Status::line) {
            worker_gone(w);
            return;
        }
        if (line.rfind("notls ", 0) == 0) {
            size_t sp = line.find(' ', 6);
            auto addr = xtext_decode(line.substr(6, sp - 6));
            if (addr && sp != std::string::npos) penalties_[*addr] = std::atol(line.c_str() + sp + 1);
            continue;
        }
        if (line.rfind("unreachable ", 0) == 0) {
            delays_.set(w.domain, std::time(nullptr), load_esmtpdelay(cfg_));
            continue;
        }
        std::string error;
        auto reply = parse_module_reply(line, &error);
        if (!reply) {
            log_error("courieresmtp worker sent a bad line: " + log_safe(error));
            worker_gone(w);
            return;
        }
        if (reply->kind == ModuleReply::Kind::result) {
            w.pending.erase(reply->result.index);
            send_up(line + "\n");
        } else {
            send_up(line + "\n");
            requeued_.erase(reply->done_id);
            w.busy = false;
            w.pending.clear();
            dispatch();
        }
        if (!w.reader->has_buffered()) return;
    }
}

void Dispatcher::worker_gone(Worker& w) {
    // A worker that ended on its idle timeout just as a request reached it never saw
    // the request: give it to another worker, once.
    if (w.busy && w.pending.size() == w.current.rcpts.size() && !requeued_.count(w.current.id)) {
        requeued_.insert(w.current.id);
        waiting_.push_front(std::move(w.current));
        w.busy = false;
    }
    if (w.busy) {
        std::string out;
        for (size_t idx : w.pending)
            out += format_result({w.current.id, idx, DeliveryStatus::defer, "451 4.3.0 the delivery process ended unexpectedly"});
        send_up(out + format_done(w.current.id));
    }
    w.busy = false;
    w.closing = true;
    w.to.reset();
    w.from.reset();
}

int Dispatcher::run() {
    LineReader in(STDIN_FILENO, kMaxLine);
    RequestParser parser;
    for (;;) {
        // Reap finished workers.
        for (auto it = workers_.begin(); it != workers_.end();) {
            int st;
            if (!it->from && ::waitpid(it->pid, &st, WNOHANG) == it->pid) it = workers_.erase(it);
            else ++it;
        }
        if (!waiting_.empty()) dispatch();   // sessions freed, or requests put back
        if (input_done_ && waiting_.empty() &&
            std::none_of(workers_.begin(), workers_.end(), [](const Worker& w) { return w.busy; })) {
            for (auto& w : workers_) w.to.reset();          // workers QUIT and exit
            for (auto& w : workers_) ::waitpid(w.pid, nullptr, 0);
            return EX_OK;
        }
        std::vector<pollfd> fds;
        std::vector<Worker*> owners;
        if (!input_done_) {
            fds.push_back({STDIN_FILENO, POLLIN, 0});
            owners.push_back(nullptr);
        }
        for (auto& w : workers_) {
            if (!w.from) continue;
            fds.push_back({w.from.get(), POLLIN, 0});
            owners.push_back(&w);
        }
        int r = ::poll(fds.data(), fds.size(), 1000);
        if (r < 0 && errno != EINTR) log_fatal("poll failed", EX_OSERR);
        for (size_t i = 0; r > 0 && i < fds.size(); ++i) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            if (owners[i]) {
                // Skip a worker whose pipe was closed earlier in this round: its
                // descriptor number may already belong to a new worker.
                if (owners[i]->from.get() == fds[i].fd) on_worker_output(*owners[i]);
                continue;
            }
            std::string line;
            do {
                auto s = in.read_line(line, 0);
                if (s == LineReader::Status::timeout) break;
                if (s == LineReader::Status::eof) {
                    input_done_ = true;
                    break;
                }
                if (s != LineReader::Status::line) log_fatal("cannot read requests", EX_IOERR);
                std::string error;
                auto req = parser.feed(line, &error);
                if (!error.empty()) log_fatal("bad request from courierd: " + error, EX_PROTOCOL);
                if (req) on_request(std::move(*req));
            } while (in.has_buffered());
        }
    }
}
}  // namespace

int run_dispatcher(const ConfigDir& cfg) {
    Dispatcher d(cfg);
    return d.run();
}

}  // namespace outbound
