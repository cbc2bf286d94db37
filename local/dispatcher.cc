// DeliveryDispatcher: the poll loop over courierd's requests, a SIGCHLD self-pipe and
// the children's result pipes; one forked child per delivery.
#include "local/dispatcher.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/process.h"
#include "lib/xtext.h"
#include "local/forward.h"

namespace {

// Requests are a few short xtext fields; a longer line is not from courierd.
constexpr size_t kMaxRequestLine = 64 * 1024;
// A child writes one short result line per recipient; more than this is ignored.
constexpr size_t kMaxChildOutput = 256 * 1024;
// poll() wakes at least this often to reap children, should a wake-up byte be lost.
constexpr int kPollTimeoutMs = 5000;
// Journal entries kept at most (the oldest queue ids go first).
constexpr size_t kMaxJournalSteps = 100000;

int g_sigchld_write_fd = -1;

extern "C" void on_sigchld(int) {
    int saved = errno;
    if (g_sigchld_write_fd >= 0) {
        // The pipe is non-blocking: when full, a wake-up is already pending.
        ssize_t ignored = ::write(g_sigchld_write_fd, "c", 1);
        (void)ignored;
    }
    errno = saved;
}

std::string as_line(std::string s) {
    if (s.empty() || s.back() != '\n') s += '\n';
    return s;
}

// Closes every descriptor above stderr except the two the child needs, so that the
// recipient's process holds no other message's queue file and no courierd pipe.
void close_other_fds(int keep_a, int keep_b) {
    unsigned lo = static_cast<unsigned>(std::min(keep_a, keep_b));
    unsigned hi = static_cast<unsigned>(std::max(keep_a, keep_b));
    unsigned next = 3;
    for (unsigned keep : {lo, hi}) {
        if (keep >= next) {
            if (keep > next) ::close_range(next, keep - 1, 0);
            next = keep + 1;
        }
    }
    ::close_range(next, ~0U, 0);
}

// Points stdin and stdout at /dev/null: courierd's pipes are the parent's alone.
void detach_stdio(int keep_a, int keep_b) {
    UniqueFd null_fd(::open("/dev/null", O_RDWR | O_CLOEXEC));
    if (!null_fd) return;
    for (int fd : {0, 1})
        if (fd != keep_a && fd != keep_b) ::dup2(null_fd.get(), fd);
}

std::string exit_reply(int wait_status, unsigned timeout_s) {
    if (WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == SIGALRM)
        return "451 4.4.7 delivery timed out after " + std::to_string(timeout_s) + "s";
    if (WIFSIGNALED(wait_status))
        return "451 4.3.0 delivery process killed by signal " +
               std::to_string(WTERMSIG(wait_status));
    return "451 4.3.0 delivery process exited with status " +
           std::to_string(WEXITSTATUS(wait_status)) + " without a result";
}

}  // namespace

DeliveryDispatcher::DeliveryDispatcher(DispatcherOptions opts)
    : opts_(std::move(opts)), self_(running_as()) {
    opts_.max_children = std::max<size_t>(opts_.max_children, 1);
}

DeliveryDispatcher::~DeliveryDispatcher() {
    // Children still running keep delivering; init reaps them after we are gone.
    if (g_sigchld_write_fd == sigchld_write_.get()) g_sigchld_write_fd = -1;
}

int DeliveryDispatcher::run() {
    int p[2];
    if (::pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) {
        log_error(std::string("courierlocal: pipe: ") + std::strerror(errno));
        return EX_OSERR;
    }
    sigchld_read_.reset(p[0]);
    sigchld_write_.reset(p[1]);
    g_sigchld_write_fd = sigchld_write_.get();
    struct sigaction sa {}, old {};
    sa.sa_handler = on_sigchld;
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    ::sigemptyset(&sa.sa_mask);
    ::sigaction(SIGCHLD, &sa, &old);

    while (!input_done_ || !children_.empty()) {
        std::vector<pollfd> fds;
        fds.push_back({sigchld_read_.get(), POLLIN, 0});
        bool polling_input = !input_done_;
        if (polling_input) fds.push_back({opts_.in_fd, POLLIN, 0});
        for (auto& [pid, child] : children_)
            if (child.results) fds.push_back({child.results.get(), POLLIN, 0});
        if (::poll(fds.data(), fds.size(), kPollTimeoutMs) < 0 && errno != EINTR) {
            log_error(std::string("courierlocal: poll: ") + std::strerror(errno));
            exit_code_ = EX_OSERR;
            break;
        }
        char drain[64];
        while (::read(sigchld_read_.get(), drain, sizeof drain) > 0) {}
        reap_children();
        for (auto& [pid, child] : children_)
            for (const pollfd& f : fds)
                if (child.results && f.fd == child.results.get() && f.revents != 0)
                    read_child(pid, child);
        if (polling_input && !input_done_ && fds[1].revents != 0) read_requests();
        finish_ready_children();
    }
    ::sigaction(SIGCHLD, &old, nullptr);
    g_sigchld_write_fd = -1;
    return exit_code_;
}

// One read per wake-up (poll said it will not block), then every complete line.
void DeliveryDispatcher::read_requests() {
    char buf[16384];
    ssize_t n = ::read(opts_.in_fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) {
        if (n < 0) log_error(std::string("courierlocal: reading requests: ") + std::strerror(errno));
        if (!in_buf_.empty()) log_error("courierlocal: request stream ends inside a line");
        input_done_ = true;
        return;
    }
    in_buf_.append(buf, static_cast<size_t>(n));
    size_t start = 0, lf;
    while (!input_done_ && (lf = in_buf_.find('\n', start)) != std::string::npos) {
        std::string line = in_buf_.substr(start, lf - start);
        start = lf + 1;
        std::string error;
        auto req = parser_.feed(line, &error);
        if (!error.empty()) {
            log_error("courierlocal: malformed request: " + log_safe(error));
            input_done_ = true;
            exit_code_ = EX_PROTOCOL;
        } else if (req) {
            handle_request(*req);
        }
    }
    in_buf_.erase(0, start);
    if (in_buf_.size() > kMaxRequestLine) {
        log_error("courierlocal: request line too long");
        input_done_ = true;
        exit_code_ = EX_PROTOCOL;
    }
}

void DeliveryDispatcher::handle_request(const DeliveryRequest& req) {
    if (req.rcpts.empty()) return emit(req, {});
    if (children_.size() >= opts_.max_children)
        return refuse_all(req, DeliveryStatus::defer,
                          "451 4.3.2 too many local deliveries in progress");
    AccountLookup lookup = lookup_account(req.host);
    std::vector<DeliveryResult> refused;
    for (const auto& rcpt : req.rcpts)
        if (auto r = refuse_account(lookup, self_, req.id, rcpt)) refused.push_back(*r);
    if (!refused.empty()) return emit(req, refused);
    start_child(req, lookup.account);
}

// Opens the queue file here, as root: the spool is not readable by recipients, so the
// child inherits the descriptor instead of opening the path after it switched ids.
void DeliveryDispatcher::start_child(const DeliveryRequest& req, const Account& account) {
    UniqueFd queue(::open(req.queue_file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    struct stat st {};
    if (!queue || ::fstat(queue.get(), &st) != 0 || !S_ISREG(st.st_mode))
        return refuse_all(req, DeliveryStatus::defer,
                          "451 4.3.0 cannot open queue file " + req.queue_file + ": " +
                              (queue ? "not a regular file" : std::strerror(errno)));
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0)
        return refuse_all(req, DeliveryStatus::defer,
                          std::string("451 4.3.0 pipe: ") + std::strerror(errno));
    UniqueFd results(p[0]), results_write(p[1]);
    pid_t pid = ::fork();
    if (pid < 0)
        return refuse_all(req, DeliveryStatus::defer,
                          std::string("451 4.3.0 fork: ") + std::strerror(errno));
    if (pid == 0) child_main(req, account, queue.get(), results_write.get());
    Child& child = children_[pid];
    child.req = req;
    child.results = std::move(results);
}

// The delivery child, still root: forks the worker that becomes the recipient, then
// drops to the mail user and serves the worker's forward requests (forward.h) until
// the worker closes its socket. Exits as the worker did.
void DeliveryDispatcher::child_main(const DeliveryRequest& req, const Account& account,
                                    int queue_fd, int result_fd) {
    ::signal(SIGCHLD, SIG_DFL);
    ::signal(SIGPIPE, SIG_DFL);
    detach_stdio(queue_fd, result_fd);
    close_other_fds(queue_fd, result_fd);
    // Bounds a delivery stuck on a hung file system; the parent reports it as deferred.
    ::alarm(opts_.child_timeout_s);
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) ::_exit(EX_OSERR);
    pid_t worker = ::fork();
    if (worker < 0) ::_exit(EX_OSERR);
    if (worker == 0) {
        ::close(sv[0]);
        worker_main(req, account, queue_fd, result_fd, sv[1]);
    }
    ::close(sv[1]);
    ::close(result_fd);
    if (drop_to_mail_user()) {
        try {
            local::serve_forwards(sv[0], queue_fd, req);
        } catch (...) {
        }
    }
    ::close(sv[0]);
    int status = 0;
    while (::waitpid(worker, &status, 0) < 0 && errno == EINTR) {}
    if (WIFSIGNALED(status)) {
        ::signal(WTERMSIG(status), SIG_DFL);
        ::raise(WTERMSIG(status));
    }
    ::_exit(WIFEXITED(status) ? WEXITSTATUS(status) : EX_SOFTWARE);
}

void DeliveryDispatcher::worker_main(const DeliveryRequest& req, const Account& account,
                                     int queue_fd, int result_fd, int forward_fd) {
    ::alarm(opts_.child_timeout_s);
    ChildSetup setup{self_.root, opts_.hostname};
    setup.config = opts_.config;
    setup.forward_fd = forward_fd;
    // Only this message's entries: the journal may hold many others.
    for (auto it = done_steps_.lower_bound(req.qid + " ");
         it != done_steps_.end() && it->rfind(req.qid + " ", 0) == 0; ++it)
        setup.done_steps.insert(*it);
    auto write_line = [&](const std::string& line) {
        if (!write_all(result_fd, as_line(line))) ::_exit(EX_IOERR);
    };
    setup.step_done = [&](size_t index, const std::string& key) {
        write_line("step " + std::to_string(req.id) + " " + std::to_string(index) + " " +
                   xtext_encode(key));
    };
    // No exception may unwind into the parent's code that this process inherited;
    // unreported recipients are deferred by the parent.
    try {
        deliver_as_recipient(req, account, queue_fd, setup,
                             [&](const DeliveryResult& r) { write_line(format_result(r)); });
    } catch (...) {
        ::_exit(EX_SOFTWARE);
    }
    ::_exit(0);
}

void DeliveryDispatcher::read_child(pid_t pid, Child& child) {
    char buf[4096];
    ssize_t n = ::read(child.results.get(), buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) {
        child.results.reset();
        return;
    }
    child.output.append(buf, static_cast<size_t>(n));
    if (child.output.size() > kMaxChildOutput) {
        log_warning("courierlocal: delivery process " + std::to_string(pid) +
                    " wrote too much; ignoring the rest");
        child.results.reset();
    }
}

void DeliveryDispatcher::reap_children() {
    int status = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
        auto it = children_.find(pid);
        if (it == children_.end()) continue;
        it->second.reaped = true;
        it->second.wait_status = status;
    }
}

void DeliveryDispatcher::finish_ready_children() {
    for (auto it = children_.begin(); it != children_.end();) {
        if (it->second.reaped && !it->second.results) {
            finish_child(it->second);
            it = children_.erase(it);
        } else {
            ++it;
        }
    }
}

// Forwards the child's result for each recipient of the delivery; a recipient the
// child did not report (it died, or wrote nonsense) is deferred, never lost.
void DeliveryDispatcher::finish_child(const Child& child) {
    const DeliveryRequest& req = child.req;
    std::map<size_t, DeliveryResult> reported;
    size_t start = 0, lf;
    while ((lf = child.output.find('\n', start)) != std::string::npos) {
        std::string_view line(child.output.data() + start, lf - start);
        start = lf + 1;
        if (line.rfind("step ", 0) == 0) {
            auto f = split_record_fields(line);
            unsigned long id = 0;
            auto key = f.size() == 4 ? xtext_decode(f[3]) : std::nullopt;
            if (key && parse_decimal(f[1], id) && id == req.id) done_steps_.insert(*key);
            continue;
        }
        std::string error;
        auto reply = parse_module_reply(line, &error);
        if (!reply || reply->kind != ModuleReply::Kind::result || reply->result.id != req.id)
            continue;
        reported.emplace(reply->result.index, reply->result);
    }
    std::vector<DeliveryResult> results;
    for (const auto& rcpt : req.rcpts) {
        auto it = reported.find(rcpt.index);
        if (it != reported.end()) {
            results.push_back(it->second);
            continue;
        }
        DeliveryResult r;
        r.id = req.id;
        r.index = rcpt.index;
        r.status = DeliveryStatus::defer;
        r.text = exit_reply(child.wait_status, opts_.child_timeout_s);
        results.push_back(r);
    }
    record_steps(child, results);
    emit(req, results);
}

// A recipient with a final result needs its journal no longer; the journal is bounded.
void DeliveryDispatcher::record_steps(const Child& child, const std::vector<DeliveryResult>& results) {
    for (const DeliveryResult& r : results) {
        if (r.status == DeliveryStatus::defer) continue;
        std::string prefix = child.req.qid + " " + std::to_string(r.index) + " ";
        auto it = done_steps_.lower_bound(prefix);
        while (it != done_steps_.end() && it->rfind(prefix, 0) == 0) it = done_steps_.erase(it);
    }
    while (done_steps_.size() > kMaxJournalSteps) done_steps_.erase(done_steps_.begin());
}

void DeliveryDispatcher::refuse_all(const DeliveryRequest& req, DeliveryStatus status,
                                    const std::string& text) {
    std::vector<DeliveryResult> results;
    for (const auto& rcpt : req.rcpts) {
        DeliveryResult r;
        r.id = req.id;
        r.index = rcpt.index;
        r.status = status;
        r.text = text;
        results.push_back(r);
    }
    emit(req, results);
}

// Writes the results and "done" in one write, and logs one line per recipient.
void DeliveryDispatcher::emit(const DeliveryRequest& req,
                              const std::vector<DeliveryResult>& results) {
    std::string out;
    for (const DeliveryResult& r : results) {
        out += as_line(format_result(r));
        std::string address;
        for (const auto& rcpt : req.rcpts)
            if (rcpt.index == r.index) address = rcpt.address;
        log_info("delivery id=" + log_safe(req.qid) + " rcpt=" + log_safe(address) +
                 " module=local status=" + status_name(r.status) + " text=" + log_safe(r.text));
    }
    out += as_line(format_done(req.id));
    if (output_broken_) return;
    if (auto st = write_all(opts_.out_fd, out); !st) {
        log_error("courierlocal: writing results: " + st.error().text);
        output_broken_ = true;
        input_done_ = true;
        exit_code_ = EX_IOERR;
    }
}
