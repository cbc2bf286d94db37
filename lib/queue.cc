// Queue file envelope and status log: formatting and parsing in one place.
#include "lib/queue.h"
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <unistd.h>
#include "lib/unique_fd.h"
#include "lib/xtext.h"

namespace {
constexpr std::string_view kMagic = "courier-queue 1";
constexpr size_t kMaxEnvelope = 4 * 1024 * 1024;   // 10,000 recipients fit easily

void put(std::string& out, std::string_view tag, std::string_view value) {
    out += tag;
    out += ' ';
    out += xtext_encode(value);
    out += '\n';
}

void put_opt(std::string& out, std::string_view tag, std::string_view value) {
    if (!value.empty()) put(out, tag, value);
}

bool is_hex_upper(std::string_view s) {
    for (char c : s)
        if (!(std::isdigit(static_cast<unsigned char>(c)) || (c >= 'A' && c <= 'F'))) return false;
    return true;
}
}  // namespace

QueueId QueueId::make(std::time_t now, long pid, unsigned seq) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%08lX.%08lX.%04X", static_cast<unsigned long>(now) & 0xffffffffUL,
                  static_cast<unsigned long>(pid) & 0xffffffffUL, seq & 0xffffU);
    return QueueId{buf};
}

std::optional<QueueId> QueueId::parse(std::string_view s) {
    if (s.size() != 22 || s[8] != '.' || s[17] != '.') return std::nullopt;
    if (!is_hex_upper(s.substr(0, 8)) || !is_hex_upper(s.substr(9, 8)) || !is_hex_upper(s.substr(18, 4)))
        return std::nullopt;
    return QueueId{std::string(s)};
}

std::string format_envelope(const QueueEnvelope& env) {
    std::string out;
    out.reserve(256 + env.rcpts.size() * 96);
    out += kMagic;
    out += '\n';
    put(out, "id", env.id.text);
    put(out, "time", std::to_string(static_cast<long long>(env.arrival)));
    put(out, "sender", env.sender);
    put(out, "source", env.source);
    put_opt(out, "ret", env.ret);
    put_opt(out, "envid", env.envid);
    put_opt(out, "body", env.body);
    if (env.smtputf8) put(out, "smtputf8", "1");
    if (env.requiretls) put(out, "requiretls", "1");
    put_opt(out, "remote-ip", env.remote_ip);
    put_opt(out, "remote-host", env.remote_host);
    put_opt(out, "helo", env.helo);
    put_opt(out, "local-ip", env.local_ip);
    put_opt(out, "auth", env.auth_user);
    put_opt(out, "vhost", env.vhost);
    if (env.owner_uid >= 0) put(out, "owner", std::to_string(env.owner_uid));
    for (const auto& r : env.rcpts) {
        put(out, "rcpt", r.address);
        put(out, "module", r.module);
        put(out, "host", r.host);
        put_opt(out, "orcpt", r.orcpt);
        put_opt(out, "notify", r.notify);
    }
    put(out, "data", std::to_string(env.data_size));
    return out;
}

static Result<QueueEnvelope> bad(std::string what) { return Error{EINVAL, "queue file: " + what}; }

Result<QueueEnvelope> parse_envelope(std::string_view head, size_t* data_offset) {
    QueueEnvelope env;
    size_t pos = head.find('\n');
    if (pos == std::string_view::npos || head.substr(0, pos) != kMagic) return bad("not a version 1 queue file");
    ++pos;
    bool have_id = false;
    for (;;) {
        size_t nl = head.find('\n', pos);
        if (nl == std::string_view::npos) return bad("truncated envelope");
        std::string_view line = head.substr(pos, nl - pos);
        pos = nl + 1;
        size_t sp = line.find(' ');
        std::string_view tag = line.substr(0, sp);
        auto value = xtext_decode(sp == line.npos ? std::string_view() : line.substr(sp + 1));
        if (!value) return bad("bad xtext in record " + std::string(tag));
        const std::string& v = *value;
        QueueRecipient* last = env.rcpts.empty() ? nullptr : &env.rcpts.back();
        if (tag == "id") {
            auto id = QueueId::parse(v);
            if (!id) return bad("bad id");
            env.id = *id;
            have_id = true;
        } else if (tag == "time") {
            long long t;
            if (!parse_decimal(v, t)) return bad("bad time");
            env.arrival = static_cast<std::time_t>(t);
        } else if (tag == "sender") env.sender = v;
        else if (tag == "source") env.source = v;
        else if (tag == "ret") env.ret = v;
        else if (tag == "envid") env.envid = v;
        else if (tag == "body") env.body = v;
        else if (tag == "smtputf8") env.smtputf8 = (v == "1");
        else if (tag == "requiretls") env.requiretls = (v == "1");
        else if (tag == "remote-ip") env.remote_ip = v;
        else if (tag == "remote-host") env.remote_host = v;
        else if (tag == "helo") env.helo = v;
        else if (tag == "local-ip") env.local_ip = v;
        else if (tag == "auth") env.auth_user = v;
        else if (tag == "vhost") env.vhost = v;
        else if (tag == "owner") {
            long long uid;
            if (!parse_decimal(v, uid) || uid < 0 || uid > 0xfffffffeLL) return bad("bad owner");
            env.owner_uid = static_cast<long>(uid);
        }
        else if (tag == "rcpt") env.rcpts.push_back(QueueRecipient{v, "", "", "", ""});
        else if (tag == "module" || tag == "host" || tag == "orcpt" || tag == "notify") {
            if (!last) return bad(std::string(tag) + " before rcpt");
            if (tag == "module") last->module = v;
            else if (tag == "host") last->host = v;
            else if (tag == "orcpt") last->orcpt = v;
            else last->notify = v;
        } else if (tag == "data") {
            if (!parse_decimal(v, env.data_size)) return bad("bad data size");
            if (!have_id) return bad("no id");
            for (const auto& r : env.rcpts)
                if (r.module.empty()) return bad("recipient without module");
            if (data_offset) *data_offset = pos;
            return env;
        }
        // Unknown tags are skipped: a newer writer may add records.
    }
}

Result<QueueEnvelope> read_envelope(const std::string& path, size_t* data_offset) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return sys_error(path);
    std::string head;
    char buf[16384];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return sys_error(path);
        if (n == 0) break;
        head.append(buf, static_cast<size_t>(n));
        // The envelope ends with the "data" record; stop reading once it is in.
        if (head.find("\ndata ") != std::string::npos &&
            head.find('\n', head.find("\ndata ") + 1) != std::string::npos)
            break;
        if (head.size() > kMaxEnvelope) return bad("envelope too large");
    }
    auto env = parse_envelope(head, data_offset);
    if (!env) return Error{env.error().sys_errno, path + ": " + env.error().text};
    return env;
}

std::string format_hold_record(const std::string& reason, std::time_t now) {
    StatusRecord r;
    r.kind = StatusRecord::Kind::hold;
    r.when = now;
    r.text = reason;
    return format_status(r);
}

std::string format_status(const StatusRecord& r) {
    std::string t = std::to_string(static_cast<long long>(r.when));
    switch (r.kind) {
    case StatusRecord::Kind::delivered:
        return "delivered " + std::to_string(r.rcpt) + " " + t + " " + xtext_encode(r.text) + "\n";
    case StatusRecord::Kind::relayed:
        return "relayed " + std::to_string(r.rcpt) + " " + t + " " + xtext_encode(r.text) + "\n";
    case StatusRecord::Kind::failed:
        return "failed " + std::to_string(r.rcpt) + " " + t + " " + xtext_encode(r.text) + "\n";
    case StatusRecord::Kind::deferred:
        return "deferred " + std::to_string(r.rcpt) + " " + t + " " + xtext_encode(r.text) + "\n";
    case StatusRecord::Kind::retry:
        return "retry " + std::to_string(static_cast<long long>(r.next)) + " " + std::to_string(r.attempts) + "\n";
    case StatusRecord::Kind::notice:
        return "notice " + t + " " + xtext_encode(r.text) + "\n";
    case StatusRecord::Kind::hold:
        return "hold " + t + " " + xtext_encode(r.text) + "\n";
    case StatusRecord::Kind::release:
        return "release " + t + " " + xtext_encode(r.text) + "\n";
    }
    return "";
}

static std::optional<StatusRecord> parse_status_line(std::string_view line) {
    auto f = split_record_fields(line);
    StatusRecord r;
    long long when = 0;
    if (f.size() == 4 && (f[0] == "delivered" || f[0] == "failed" || f[0] == "deferred" ||
                          f[0] == "relayed")) {
        r.kind = f[0] == "delivered" ? StatusRecord::Kind::delivered
               : f[0] == "relayed"   ? StatusRecord::Kind::relayed
               : f[0] == "failed"    ? StatusRecord::Kind::failed
                                     : StatusRecord::Kind::deferred;
        auto text = xtext_decode(f[3]);
        if (!parse_decimal(f[1], r.rcpt) || !parse_decimal(f[2], when) || !text) return std::nullopt;
        r.when = static_cast<std::time_t>(when);
        r.text = *text;
        return r;
    }
    if (f.size() == 3 && f[0] == "retry") {
        r.kind = StatusRecord::Kind::retry;
        long long next;
        if (!parse_decimal(f[1], next) || !parse_decimal(f[2], r.attempts)) return std::nullopt;
        r.next = static_cast<std::time_t>(next);
        return r;
    }
    if (f.size() == 3 && (f[0] == "notice" || f[0] == "hold" || f[0] == "release")) {
        r.kind = f[0] == "notice" ? StatusRecord::Kind::notice
               : f[0] == "hold"   ? StatusRecord::Kind::hold
                                  : StatusRecord::Kind::release;
        auto text = xtext_decode(f[2]);
        if (!parse_decimal(f[1], when) || !text) return std::nullopt;
        r.when = static_cast<std::time_t>(when);
        r.text = *text;
        return r;
    }
    return std::nullopt;
}

std::vector<StatusRecord> parse_status_log(std::string_view log) {
    std::vector<StatusRecord> out;
    size_t pos = 0;
    for (;;) {
        size_t nl = log.find('\n', pos);
        if (nl == std::string_view::npos) break;   // a torn last line is ignored
        if (auto r = parse_status_line(log.substr(pos, nl - pos))) out.push_back(std::move(*r));
        pos = nl + 1;
    }
    return out;
}

std::string queue_file_path(const std::string& spool, const QueueId& id) {
    return spool + "/msgs/" + id.bucket() + "/Q" + id.text;
}

std::string status_file_path(const std::string& spool, const QueueId& id) {
    return spool + "/msgs/" + id.bucket() + "/S" + id.text;
}
