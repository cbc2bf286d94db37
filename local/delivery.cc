// One local delivery: account lookup and the parent's checks, reply texts, and the
// child's switch to the recipient followed by the Maildir writes.
#include "local/delivery.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>
#include <vector>
#include "lib/process.h"
#include "local/maildir.h"

namespace {

// Envelopes are a few hundred bytes per recipient; anything larger than this is not
// a queue file this module should trust.
constexpr size_t kEnvelopeLimit = 16 * 1024 * 1024;
constexpr size_t kEnvelopeChunk = 64 * 1024;
constexpr size_t kPasswdBufferLimit = 1024 * 1024;

DeliveryResult make_result(unsigned long id, size_t index, DeliveryStatus status,
                           std::string text) {
    DeliveryResult r;
    r.id = id;
    r.index = index;
    r.status = status;
    r.text = std::move(text);
    return r;
}

// True once `head` holds the whole "data <size>" record, the envelope's last line.
bool has_data_record(const std::string& head) {
    size_t at = head.rfind("\ndata ");
    return at != std::string::npos && head.find('\n', at + 1) != std::string::npos;
}

// Switches to the account (or, when not root, checks that we already are it). The
// ids are read back: a delivery must never run with root's or another user's rights.
Status assume_account(const Account& account, bool switch_user) {
    if (switch_user) {
        if (auto st = become_user(account.uid, account.gid, account.name); !st) return st;
        if (::getgid() != account.gid || ::getegid() != account.gid)
            return Error{0, "group id did not change to " + std::to_string(account.gid)};
    }
    if (::getuid() != account.uid || ::geteuid() != account.uid)
        return Error{0, "running as uid " + std::to_string(::geteuid()) + ", not " +
                            std::to_string(account.uid)};
    return ok_status();
}

}  // namespace

AccountLookup lookup_account(const std::string& name) {
    AccountLookup out;
    if (name.empty()) return out;
    long hint = ::sysconf(_SC_GETPW_R_SIZE_MAX);
    std::vector<char> buf(hint > 0 ? static_cast<size_t>(hint) : 16384);
    passwd pw{};
    passwd* found = nullptr;
    int rc;
    while ((rc = ::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found)) == ERANGE &&
           buf.size() < kPasswdBufferLimit)
        buf.resize(buf.size() * 2);
    // POSIX lets a missing entry be reported as any of these instead of rc == 0.
    if (found == nullptr &&
        (rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF || rc == EPERM))
        return out;
    if (found == nullptr) {
        out.kind = AccountLookup::Kind::error;
        out.error = std::strerror(rc);
        return out;
    }
    out.kind = AccountLookup::Kind::found;
    out.account = Account{pw.pw_name, pw.pw_uid, pw.pw_gid, pw.pw_dir ? pw.pw_dir : ""};
    return out;
}

RunningAs running_as() {
    return RunningAs{::geteuid() == 0, ::getuid()};
}

std::optional<DeliveryResult> refuse_account(const AccountLookup& lookup, const RunningAs& self,
                                             unsigned long id, const DeliveryRequest::Rcpt& rcpt) {
    using Kind = AccountLookup::Kind;
    const Account& a = lookup.account;
    if (lookup.kind == Kind::unknown)
        return make_result(id, rcpt.index, DeliveryStatus::fail,
                           "550 5.1.1 <" + rcpt.address + ">: unknown user");
    if (lookup.kind == Kind::error)
        return make_result(id, rcpt.index, DeliveryStatus::defer,
                           "451 4.3.0 account lookup failed: " + lookup.error);
    if (a.uid == 0)
        return make_result(id, rcpt.index, DeliveryStatus::fail,
                           "550 5.7.1 delivery to root's mailbox is refused; use an alias");
    if (!self.root && a.uid != self.uid)
        return make_result(id, rcpt.index, DeliveryStatus::defer,
                           "451 4.3.0 cannot switch to " + a.name + ": not running as root");
    if (a.home.empty() || a.home[0] != '/')
        return make_result(id, rcpt.index, DeliveryStatus::defer,
                           "451 4.3.0 account " + a.name + " has no absolute home directory");
    return std::nullopt;
}

std::string failure_reply(const Error& e) {
    if (e.sys_errno == ENOSPC || e.sys_errno == EDQUOT) return "452 4.2.2 " + e.text;
    if (e.sys_errno != 0) return "451 4.2.0 " + e.text;
    return "451 4.3.0 " + e.text;
}

std::string success_reply(const std::string& maildir) {
    return "250 2.0.0 delivered to " + maildir;
}

std::string maildir_of(const Account& account) {
    std::string home = account.home;
    while (home.size() > 1 && home.back() == '/') home.pop_back();
    return (home == "/" ? "" : home) + "/Maildir";
}

Result<QueueEnvelope> read_envelope_from_fd(int fd, size_t* data_offset) {
    std::string head;
    std::vector<char> buf(kEnvelopeChunk);
    while (!has_data_record(head)) {
        if (head.size() >= kEnvelopeLimit) return Error{0, "queue file envelope too large"};
        ssize_t n = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(head.size()));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Error{0, std::string("reading the queue file: ") + std::strerror(errno)};
        if (n == 0) break;   // let the parser say what is missing
        head.append(buf.data(), static_cast<size_t>(n));
    }
    auto env = parse_envelope(head, data_offset);
    if (!env) return Error{0, "bad queue file: " + env.error().text};
    return env;
}

void deliver_as_recipient(const DeliveryRequest& req, const Account& account, int queue_fd,
                          const ChildSetup& setup,
                          const std::function<void(const DeliveryResult&)>& report) {
    auto defer_all = [&](const std::string& text) {
        for (const auto& r : req.rcpts)
            report(make_result(req.id, r.index, DeliveryStatus::defer, text));
    };
    if (auto st = assume_account(account, setup.switch_user); !st)
        return defer_all("451 4.3.0 cannot switch to " + account.name + ": " + st.error().text);
    ::umask(077);
    size_t data_offset = 0;
    auto env = read_envelope_from_fd(queue_fd, &data_offset);
    if (!env) return defer_all(failure_reply(env.error()));
    if (env->id.text != req.qid)
        return defer_all("451 4.3.0 queue file holds " + env->id.text + ", not " + req.qid);
    MaildirWriter maildir(maildir_of(account), setup.hostname);
    if (auto st = maildir.prepare(); !st) return defer_all(failure_reply(st.error()));
    MessageSource src{queue_fd, data_offset, env->data_size};
    for (const auto& r : req.rcpts) {
        if (r.index >= env->rcpts.size() || env->rcpts[r.index].address != r.address) {
            report(make_result(req.id, r.index, DeliveryStatus::defer,
                               "451 4.3.0 recipient " + std::to_string(r.index) +
                                   " of the queue file is not <" + r.address + ">"));
            continue;
        }
        auto name = maildir.deliver(delivery_headers(env->sender, r.address), src,
                                    maildir_delivery_name(env->arrival, env->id.text, r.index,
                                                          maildir.host_part()));
        report(name ? make_result(req.id, r.index, DeliveryStatus::ok,
                                  success_reply(maildir.folder()))
                    : make_result(req.id, r.index, DeliveryStatus::defer,
                                  failure_reply(name.error())));
    }
}
