// Trigger FIFO notices and the FIFO itself; see trigger.h.
#include "courierd/trigger.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include "courierd/queue_scan.h"
#include "lib/fileio.h"
#include "lib/process.h"

namespace {
// ETRN domains reach the FIFO from courieresmtpd already checked; anyone in the mail
// group can write the FIFO, so they are checked again here.
bool plain_domain(std::string_view d) {
    if (d.empty() || d.size() > 253 || d.front() == '.' || d.front() == '-') return false;
    for (char c : d)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return false;
    return true;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}
}  // namespace

std::optional<TriggerNotice> parse_trigger_notice(std::string_view line) {
    TriggerNotice n;
    if (line == "flush") return n;
    if (line.substr(0, 5) == "etrn ") {
        std::string_view d = line.substr(5);
        if (!plain_domain(d.substr(d.substr(0, 1) == "@" ? 1 : 0))) return std::nullopt;
        n.kind = TriggerNotice::Kind::flush_domain;
        n.domain = std::string(d);
        return n;
    }
    if (line.substr(0, 6) == "flush ") {
        n.id = QueueId::parse(line.substr(6));
        if (!n.id) return std::nullopt;
        n.kind = TriggerNotice::Kind::flush_one;
        return n;
    }
    if (line.substr(0, 4) != "new ") return std::nullopt;
    std::string_view path = line.substr(4);
    size_t slash = path.find('/');
    if (slash == std::string_view::npos || path.substr(slash + 1, 1) != "Q")
        return std::nullopt;
    n.id = QueueId::parse(path.substr(slash + 2));
    if (!n.id || n.id->bucket() != path.substr(0, slash)) return std::nullopt;
    n.kind = TriggerNotice::Kind::new_message;
    return n;
}

std::string format_flush_notice(const std::optional<QueueId>& id) {
    return id ? "flush " + id->text + "\n" : std::string("flush\n");
}

std::string format_etrn_notice(std::string_view domain) { return "etrn " + std::string(domain) + "\n"; }

bool etrn_covers(std::string_view etrn_domain, std::string_view host) {
    std::string h = lower(host);
    if (!h.empty() && h.back() == '.') h.pop_back();
    if (etrn_domain.substr(0, 1) != "@") return h == etrn_domain;
    std::string_view d = etrn_domain.substr(1);
    if (h == d) return true;
    return h.size() > d.size() && h.compare(h.size() - d.size(), d.size(), d) == 0 &&
           h[h.size() - d.size() - 1] == '.';
}

bool etrn_wants(const QueueEnvelope& env, const std::vector<bool>& final_rcpt,
                std::string_view etrn_domain) {
    for (size_t i = 0; i < env.rcpts.size(); ++i) {
        if (i < final_rcpt.size() && final_rcpt[i]) continue;
        const QueueRecipient& r = env.rcpts[i];
        if (r.module == "esmtp" && etrn_covers(etrn_domain, r.host)) return true;
    }
    return false;
}

std::vector<QueueId> etrn_messages(const std::string& spool, std::string_view etrn_domain) {
    std::vector<QueueId> out;
    scan_spool(spool + "/msgs", [&](const QueueId& id) {
        auto m = load_message(spool, id);
        if (m && etrn_wants(m->envelope, m->status.final_rcpt, etrn_domain)) out.push_back(id);
        return true;
    });
    return out;
}

Result<UniqueFd> open_trigger_reader(const std::string& path, uid_t uid, gid_t gid,
                                     UniqueFd* dummy_writer) {
    struct stat st;
    if (lstat(path.c_str(), &st) == 0 && !S_ISFIFO(st.st_mode))
        return Error{0, path + ": exists and is not a FIFO"};
    if (mkfifo(path.c_str(), 0620) != 0 && errno != EEXIST)
        return sys_error("mkfifo " + path);
    // mkfifo honours the umask; the mode is part of the contract.
    if (chmod(path.c_str(), 0620) != 0) return sys_error("chmod " + path);
    if ((uid != static_cast<uid_t>(-1) || gid != static_cast<gid_t>(-1)) &&
        lchown(path.c_str(), uid, gid) != 0)
        return sys_error("chown " + path);
    UniqueFd reader(open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    if (!reader) return sys_error("open " + path);
    UniqueFd writer(open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
    if (!writer) return sys_error("open " + path + " for writing");
    *dummy_writer = std::move(writer);
    return reader;
}

Status send_trigger_notice(const std::string& path, std::string_view line) {
    // O_NONBLOCK: open fails with ENXIO instead of hanging when courierd is not reading.
    UniqueFd fd(open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
    if (!fd) return sys_error("open " + path);
    struct stat st;
    if (fstat(fd.get(), &st) != 0 || !S_ISFIFO(st.st_mode))
        return Error{0, path + ": not a FIFO"};
    return write_all(fd.get(), line);
}
