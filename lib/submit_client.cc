// SubmitClient: the caller's side of the submit protocol (doc/architecture.md).
// A broken submit never throws: it becomes a 451 4.3.0 reply the caller passes on.
#include "lib/submit_client.h"
#include <csignal>
#include <cstdlib>
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/paths.h"
#include "lib/queue.h"
#include "lib/xtext.h"

namespace {
constexpr size_t kMaxReply = 4096;
constexpr int kReplyTimeoutMs = 10 * 60 * 1000;   // fsync under heavy load can be slow

SubmitReply parse_reply(const std::string& line) {
    SubmitReply r;
    if (line.size() < 4 || line[3] != ' ') return r;
    int code = std::atoi(line.substr(0, 3).c_str());
    if (code < 200 || code > 599) return r;
    r.code = code;
    r.text = line.substr(4);
    return r;
}
}  // namespace

SubmitClient::SubmitClient(std::string source, std::string program)
    : source_(std::move(source)), program_(std::move(program)) {
    if (program_.empty()) program_ = paths().libexec + "/submit";
}

void SubmitClient::set_session(std::string key, std::string value) {
    for (auto& kv : session_) {
        if (kv.first == key) {
            kv.second = std::move(value);
            session_sent_ = false;
            return;
        }
    }
    session_.emplace_back(std::move(key), std::move(value));
    session_sent_ = false;
}

Status SubmitClient::ensure_started() {
    if (child_.pid() <= 0) {
        // A dead submit must not kill its caller through SIGPIPE.
        ::signal(SIGPIPE, SIG_IGN);
        SpawnOptions o;
        o.argv = {program_, source_};
        o.pipe_stdin = true;
        o.pipe_stdout = true;
        auto c = ChildProcess::spawn(o);
        if (!c) return c.error();
        child_ = std::move(*c);
        reader_ = std::make_unique<LineReader>(child_.stdout_fd(), kMaxReply);
        session_sent_ = false;
    }
    if (!session_sent_) {
        std::string lines;
        for (const auto& [k, v] : session_) lines += "session " + k + " " + xtext_encode(v) + "\n";
        Status s = write_all(child_.stdin_fd(), lines);
        if (!s) return s;
        session_sent_ = true;
    }
    return ok_status();
}

SubmitReply SubmitClient::broken(const std::string& why) {
    log_error("submit failed: " + why);
    child_ = ChildProcess();
    reader_.reset();
    in_data_ = false;
    return SubmitReply{451, "4.3.0 Temporary failure in the queue, try again later"};
}

SubmitReply SubmitClient::round_trip(const std::string& line) {
    Status s = ensure_started();
    if (!s) return broken(s.error().text);
    s = write_all(child_.stdin_fd(), line);
    if (!s) return broken(s.error().text);
    std::string reply;
    if (reader_->read_line(reply, kReplyTimeoutMs) != LineReader::Status::line)
        return broken("no reply from submit");
    SubmitReply r = parse_reply(reply);
    if (r.code == 0) return broken("malformed reply from submit: " + reply);
    return r;
}

SubmitReply SubmitClient::mail(std::string_view sender, std::string_view params) {
    std::string line = "mail " + xtext_encode(sender);
    if (!params.empty()) line += " " + std::string(params);
    return round_trip(line + "\n");
}

SubmitReply SubmitClient::rcpt(std::string_view address, std::string_view params) {
    std::string line = "rcpt " + xtext_encode(address);
    if (!params.empty()) line += " " + std::string(params);
    return round_trip(line + "\n");
}

Status SubmitClient::send_data(std::string_view bytes) {
    if (bytes.empty()) return ok_status();
    if (child_.pid() <= 0) return Error{EPIPE, "submit is not running"};
    std::string head = in_data_ ? "" : "data\n";
    in_data_ = true;
    head += "chunk " + std::to_string(bytes.size()) + "\n";
    Status s = write_all(child_.stdin_fd(), head);
    if (s) s = write_all(child_.stdin_fd(), bytes);
    return s;
}

SubmitReply SubmitClient::finish() {
    std::string line = in_data_ ? "chunk 0\n" : "data\nchunk 0\n";
    in_data_ = false;
    Status s = ensure_started();
    if (s) s = write_all(child_.stdin_fd(), line);
    if (!s) return broken(s.error().text);
    // submit names the queue id ("queue <qid>") just before it commits; if it then dies
    // without its final reply, the queue file decides whether the message is in.
    std::string reply, qid;
    for (;;) {
        if (reader_->read_line(reply, kReplyTimeoutMs) != LineReader::Status::line)
            return qid.empty() ? broken("no reply from submit") : settle_lost_reply(qid);
        if (reply.rfind("queue ", 0) == 0 && qid.empty()) {
            qid = reply.substr(6);
            continue;
        }
        SubmitReply r = parse_reply(reply);
        if (r.code == 0) return broken("malformed reply from submit: " + reply);
        return r;
    }
}

// submit died after naming qid: the message is queued exactly when its queue file
// exists; fsync its folder ourselves, since submit may have died before doing so.
SubmitReply SubmitClient::settle_lost_reply(const std::string& qid) {
    auto id = QueueId::parse(qid);
    std::string path = id ? queue_file_path(paths().spool, *id) : "";
    if (id && path_exists(path) && fsync_dir(dir_of(path))) {
        log_warning("submit died after queueing id=" + qid + "; the message is in the queue");
        child_ = ChildProcess();
        reader_.reset();
        return SubmitReply{250, "2.0.0 Ok: queued as " + qid};
    }
    return broken("submit died while queueing id=" + qid);
}

void SubmitClient::reset() {
    in_data_ = false;
    if (child_.pid() > 0 && !write_all(child_.stdin_fd(), "rset\n")) broken("rset");
}

void SubmitClient::quit() {
    if (child_.pid() <= 0) return;
    (void)write_all(child_.stdin_fd(), "quit\n");
    child_.close_stdin();
    child_.wait();
    reader_.reset();
}
