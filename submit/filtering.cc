// submit's side of the global filters; see filtering.h and doc/filters.md.
#include "submit/filtering.h"
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include "lib/fileio.h"
#include "lib/lineio.h"
#include "lib/log.h"
#include "lib/unique_fd.h"

namespace submit {

namespace {

using courierfilter::Answer;
using courierfilter::FailureMode;

// A file in spool/tmp that exists only while the filters read it. Left behind by a
// crash, courierd's tmp cleaner removes it after an hour.
class FilterInputFile {
public:
    FilterInputFile() = default;
    FilterInputFile(const FilterInputFile&) = delete;
    FilterInputFile& operator=(const FilterInputFile&) = delete;
    ~FilterInputFile() {
        if (!path_.empty()) ::unlink(path_.c_str());
    }
    Status create(std::string path) {
        fd_.reset(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640));
        if (!fd_) return sys_error("create " + path);
        path_ = std::move(path);
        return ok_status();
    }
    int fd() const { return fd_.get(); }
    const std::string& path() const { return path_; }
    void close() { fd_.reset(); }

private:
    std::string path_;
    UniqueFd fd_;
};

long now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

Result<UniqueFd> connect_socket(const std::string& path, int timeout_ms) {
    sockaddr_un addr{};
    if (path.size() >= sizeof addr.sun_path) return Error{0, "socket path too long"};
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) return sys_error("socket");
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        // A Unix socket with a full backlog says EAGAIN: the filter is too slow.
        if (errno != EAGAIN && errno != EINPROGRESS) return sys_error("connect " + path);
        pollfd p{fd.get(), POLLOUT, 0};
        if (::poll(&p, 1, timeout_ms) <= 0) return Error{ETIMEDOUT, "connect " + path + ": timed out"};
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
            errno = err;
            return sys_error("connect " + path);
        }
    }
    return fd;
}

Status write_input_files(FilterInputFile& msg, FilterInputFile& env_file, const QueueEnvelope& env,
                         MessageBuffer& body, const std::string& tmp_dir) {
    static unsigned sequence = 0;
    std::string base = tmp_dir + "/filter." + std::to_string(::getpid()) + "." +
                       std::to_string(++sequence);
    if (Status s = msg.create(base + ".msg"); !s) return s;
    if (Status s = body.write_to(msg.fd()); !s) return s;
    msg.close();
    courierfilter::Envelope fe;
    fe.source = env.source;
    fe.sender = env.sender;
    fe.size = body.size();
    fe.remote_ip = env.remote_ip;
    fe.remote_host = env.remote_host;
    fe.helo = env.helo;
    fe.local_ip = env.local_ip;
    fe.auth = env.auth_user;
    for (const auto& r : env.rcpts) fe.rcpts.push_back(r.address);
    if (Status s = env_file.create(base + ".env"); !s) return s;
    if (Status s = write_all(env_file.fd(), courierfilter::format_envelope_file(fe)); !s) return s;
    env_file.close();
    return ok_status();
}

std::string result_name(const Answer& a) {
    if (a.code / 100 == 4) return "tempfail";
    if (a.code / 100 == 5) return "reject";
    if (a.discard) return "discard";
    if (a.hold) return "hold";
    return "accept";
}

}  // namespace

std::string FilterOutcome::prepended() const {
    std::string out;
    for (const auto& h : prepend) out += h + "\n";
    return out;
}

std::string FilterOutcome::hold_record(std::time_t now) const {
    return hold ? format_hold_record(hold_reason, now) : "";
}

FilterSettings load_filter_settings(const ConfigDir& cfg) {
    FilterSettings s;
    std::string path = cfg.path("enablefiltering");
    if (auto text = read_file(path, 64 * 1024)) {
        s.sources = courierfilter::parse_enablefiltering(*text, path);
        for (const auto& e : s.sources.errors) log_warning("submit: " + log_safe(e));
    }
    if (s.sources.sources.empty()) return s;
    if (auto t = cfg.first_line("filtertimeout")) {
        auto v = parse_interval(*t);
        if (v && *v > 0 && *v <= 300) s.timeout_ms = int(*v * 1000);
        else log_warning("submit: " + cfg.path("filtertimeout") + ":1: bad interval, using 60s");
    }
    if (auto t = cfg.first_line("filterfailure")) {
        if (auto m = courierfilter::parse_failure_mode(*t)) s.failure = *m;
        else log_warning("submit: " + cfg.path("filterfailure") + ":1: expected tempfail or accept");
    }
    s.active = courierfilter::list_active_filters(cfg.path("filters/active"));
    return s;
}

bool apply_answer(FilterOutcome& out, const std::string& name, const Answer& a) {
    std::string text = courierfilter::client_reply_text(a.code, a.text);
    if (!a.accepted()) {
        out.reply = SubmitReply{a.code, text};
        return false;
    }
    if (a.discard) {
        out.reply = SubmitReply{a.code, text};
        return false;
    }
    for (const auto& h : a.prepend) out.prepend.push_back(h);
    if (a.hold && !out.hold) {
        out.hold = true;
        out.hold_reason = a.hold_reason.empty() ? "held by filter " + name : a.hold_reason;
    }
    return !a.skip_rest();
}

bool apply_failure(FilterOutcome& out, const std::string& name, FailureMode mode) {
    if (mode == FailureMode::accept) return true;
    out.reply = SubmitReply{451, "4.7.0 Filter " + name + " unavailable, try again later"};
    return false;
}

Result<Answer> ask_filter(const std::string& socket_path, const courierfilter::Request& request,
                          int timeout_ms) {
    long deadline = now_ms() + timeout_ms;
    auto fd = connect_socket(socket_path, timeout_ms);
    if (!fd) return fd.error();
    // The request is a few hundred bytes: it fits the socket buffer, so this write does
    // not block on a filter that reads nothing.
    if (Status s = write_all(fd->get(), courierfilter::format_request(request)); !s) return s.error();
    LineReader in(fd->get(), courierfilter::kMaxLine + 2);
    courierfilter::AnswerParser parser;
    std::string line;
    for (;;) {
        long left = deadline - now_ms();
        if (left <= 0) return Error{ETIMEDOUT, "no answer within the timeout"};
        auto st = in.read_line(line, int(left));
        if (st == LineReader::Status::timeout) return Error{ETIMEDOUT, "no answer within the timeout"};
        if (st == LineReader::Status::eof) return Error{0, "connection closed before the reply"};
        if (st == LineReader::Status::too_long) return Error{0, "answer line too long"};
        if (st != LineReader::Status::line) return Error{0, "cannot read the answer"};
        auto r = parser.feed(line);
        if (r == courierfilter::AnswerParser::State::error) return Error{0, parser.error()};
        if (r == courierfilter::AnswerParser::State::done) return parser.answer();
    }
}

FilterOutcome run_global_filters(const ConfigDir& cfg, const std::string& spool_dir,
                                 const QueueEnvelope& env, MessageBuffer& body) {
    FilterOutcome out;
    FilterSettings settings = load_filter_settings(cfg);
    if (!settings.sources.covers(env.source) || settings.active.empty()) return out;
    FilterInputFile msg, env_file;
    if (Status s = write_input_files(msg, env_file, env, body, spool_dir + "/tmp"); !s) {
        // Without the files no filter can judge: the client tries again later.
        log_error("submit: filters: " + s.error().text);
        out.reply = SubmitReply{451, "4.3.0 Cannot prepare the message for filtering"};
        return out;
    }
    courierfilter::Request request{msg.path(), env_file.path()};
    for (const auto& name : settings.active) {
        auto answer = ask_filter(spool_dir + "/filters/" + name, request, settings.timeout_ms);
        bool go_on;
        if (!answer) {
            go_on = apply_failure(out, name, settings.failure);
            log_warning("filter name=" + name + " from=<" + log_safe(env.sender) +
                        "> result=failure outcome=" +
                        (settings.failure == FailureMode::accept ? "skipped" : "tempfail") +
                        " reason=" + log_safe(answer.error().text));
        } else {
            go_on = apply_answer(out, name, *answer);
            log_info("filter name=" + name + " from=<" + log_safe(env.sender) +
                     "> result=" + result_name(*answer) + " prepend=" +
                     std::to_string(answer->prepend.size()) + " reply=" +
                     log_safe(std::to_string(answer->code) + " " + answer->text));
        }
        if (!go_on) break;
    }
    return out;
}

}  // namespace submit
