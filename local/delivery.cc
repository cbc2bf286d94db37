// One local delivery: account lookup and the parent's checks, reply texts, and the
// child's switch to the recipient followed by the Maildir writes.
#include "local/delivery.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <vector>
#include "config/config.h"
#include "lib/fileio.h"
#include "lib/process.h"
#include "local/forward.h"
#include "local/instructions.h"
#include "local/maildir.h"
#include "local/mbox.h"
#include "local/program.h"
#include "local/quota.h"

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

LocalConfig LocalConfig::load(const ConfigDir& cfg) {
    LocalConfig c;
    if (auto settings = Settings::load(cfg.path("courierd")); settings) {
        std::string dd = settings->get_or("DEFAULTDELIVERY", "");
        if (!dd.empty()) c.default_delivery = dd;
    }
    if (auto name = cfg.first_line("dotextension"); name && !name->empty()) c.dotname = *name;
    c.lowercase = cfg.exists("locallowercase");
    if (auto t = cfg.first_line("localtimeout"); t && !t->empty()) {
        if (auto secs = parse_interval(*t); secs && *secs > 0) c.timeout_s = *secs;
    }
    if (auto m = cfg.first_line("maildrop"); m) c.maildrop = *m;
    return c;
}

std::string step_key(const std::string& qid, size_t index, size_t n, const std::string& text) {
    return qid + " " + std::to_string(index) + " " + std::to_string(n) + " " + text;
}

namespace {

// Bytes of the message read for the Delivered-To loop check (its header section).
constexpr size_t kHeadLimit = 256 * 1024;
constexpr size_t kDotFileLimit = 64 * 1024;

// The header section of the message (up to the first empty line, bounded).
std::string read_message_head(const MessageSource& src) {
    std::string head;
    char buf[8192];
    while (head.size() < kHeadLimit && head.size() < src.size) {
        size_t want = static_cast<size_t>(std::min<uint64_t>(sizeof buf, src.size - head.size()));
        ssize_t n = ::pread(src.fd, buf, want, static_cast<off_t>(src.offset + head.size()));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        head.append(buf, static_cast<size_t>(n));
        if (head.find("\n\n") != std::string::npos || head.rfind("\n", 0) == 0) break;
    }
    return head;
}

std::string clean_value(std::string_view v) {
    std::string out(v);
    for (char& c : out)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    return out;
}

// The instructions that apply to one recipient: its .courier file, else defaults.
struct Instructions {
    std::optional<DeliveryResult> refused;   // set when the lookup itself failed
    std::string origin;                      // file name, or "DEFAULTDELIVERY"
    std::string text;
    std::string default_part;
};

Instructions find_instructions(const Account& account, const std::string& extension,
                               const LocalConfig& cfg, unsigned long id, size_t index,
                               const std::string& address) {
    Instructions out;
    auto fail = [&](DeliveryStatus st, std::string text) {
        out.refused = make_result(id, index, st, std::move(text));
        return out;
    };
    for (const auto& cand : local::dot_courier_candidates(extension, cfg.dotname, cfg.lowercase)) {
        std::string path = account.home + "/" + cand.name;
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0) {
            if (errno == ENOENT || errno == ENOTDIR) continue;
            return fail(DeliveryStatus::defer, "451 4.3.0 cannot read " + path + ": " + std::strerror(errno));
        }
        // dot-courier(5): a file anyone may change is not trusted.
        if (st.st_mode & S_IWOTH)
            return fail(DeliveryStatus::defer, "451 4.7.0 " + path + " is world-writable");
        auto text = read_file(path, kDotFileLimit);
        if (!text)
            return fail(DeliveryStatus::defer, "451 4.3.0 cannot read " + path + ": " + text.error().text);
        out.origin = path;
        out.text = *text;
        out.default_part = cand.default_part;
        break;
    }
    if (out.origin.empty() && !extension.empty())
        return fail(DeliveryStatus::fail, "550 5.1.1 <" + address + ">: unknown user");
    std::string ignored;
    if (out.origin.empty() || local::parse_instructions(out.text, &ignored).empty()) {
        if (!ignored.empty()) {
            return fail(DeliveryStatus::defer, "451 4.3.5 error in " + out.origin + ": " + ignored);
        }
        out.origin = "DEFAULTDELIVERY";
        out.text = cfg.default_delivery;
    }
    return out;
}

// Paths in instructions are relative to the home directory.
std::string resolve(const Account& account, const std::string& path) {
    if (!path.empty() && path[0] == '/') return path;
    std::string rel = path;
    while (rel.rfind("./", 0) == 0) rel.erase(0, 2);
    if (rel == ".") rel.clear();
    return account.home + (rel.empty() ? "" : "/" + rel);
}

// Everything one recipient's delivery needs.
struct RecipientJob {
    const DeliveryRequest* req;
    const Account* account;
    const ChildSetup* setup;
    const QueueEnvelope* env;
    MessageSource src;
    const std::string* head;
    int* message_copy;   // lazily made seekable copy of the message for programs
};

Status deliver_to_maildir(const RecipientJob& job, const std::string& dir, const std::string& headers,
                          size_t index) {
    MaildirWriter maildir(dir, job.setup->hostname);
    if (auto st = maildir.prepare(); !st) return st;
    uint64_t size = headers.size() + job.src.size;
    if (auto st = local::check_quota(dir, size); !st) return st;
    bool written = false;
    auto name = maildir.deliver(headers, job.src,
                                maildir_delivery_name(job.env->arrival, job.env->id.text, index,
                                                      maildir.host_part()),
                                &written);
    if (!name) return name.error();
    if (written) local::record_delivery(dir, size);
    return ok_status();
}

// A private, seekable copy of the message (no envelope) for program standard input.
Result<int> message_copy(const RecipientJob& job) {
    if (*job.message_copy >= 0) return *job.message_copy;
    int fd = ::open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
        // File systems without O_TMPFILE: a named file, removed at once.
        char name[] = "/tmp/courierlocal.XXXXXX";
        fd = ::mkostemp(name, O_CLOEXEC);
        if (fd >= 0) ::unlink(name);
    }
    if (fd < 0) return sys_error("cannot create a temporary file in /tmp");
    std::vector<char> buf(64 * 1024);
    uint64_t done = 0;
    while (done < job.src.size) {
        size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), job.src.size - done));
        ssize_t n = ::pread(job.src.fd, buf.data(), want, static_cast<off_t>(job.src.offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            ::close(fd);
            return Error{0, "reading the queue file failed"};
        }
        if (auto st = write_all(fd, std::string_view(buf.data(), static_cast<size_t>(n))); !st) {
            ::close(fd);
            return st.error();
        }
        done += static_cast<uint64_t>(n);
    }
    *job.message_copy = fd;
    return fd;
}

struct StepOutcome {
    DeliveryStatus status = DeliveryStatus::ok;
    std::string text;      // reply when not ok
    bool stop = false;     // exit code 99: the remaining instructions are skipped
};

StepOutcome run_step(const RecipientJob& job, const local::Instruction& ins, size_t index,
                     const std::string& address, const std::string& default_part,
                     const std::string& extension) {
    using Kind = local::Instruction::Kind;
    const Account& account = *job.account;
    std::string dtline = "Delivered-To: " + clean_value(address);
    std::string rpline = "Return-Path: <" + clean_value(job.env->sender) + ">";
    std::string ufline = local::mbox_from_line(job.env->sender, ::time(nullptr));
    StepOutcome out;
    auto failed = [&](const Error& e) {
        out.status = DeliveryStatus::defer;
        out.text = failure_reply(e);
        return out;
    };
    switch (ins.kind) {
    case Kind::maildir:
        if (auto st = deliver_to_maildir(job, resolve(account, ins.target),
                                         delivery_headers(job.env->sender, address), index);
            !st)
            return failed(st.error());
        return out;
    case Kind::mbox:
        if (auto st = local::deliver_mbox(resolve(account, ins.target), ufline,
                                          delivery_headers(job.env->sender, address), job.src);
            !st)
            return failed(st.error());
        return out;
    case Kind::program: {
        auto fd = message_copy(job);
        if (!fd) return failed(fd.error());
        local::ProgramContext ctx{account.home, account.name, job.env->sender, address,
                                  extension,    default_part, dtline,          rpline, ufline};
        std::vector<std::string> argv{"/bin/sh", "-c", ins.target};
        const LocalConfig& cfg = job.setup->config;
        if (!cfg.maildrop.empty() && ins.target == cfg.maildrop)
            argv = {cfg.maildrop, "-A", dtline, "-A", rpline, "-f", job.env->sender};
        auto run = local::run_program(argv, local::program_environment(ctx), *fd, cfg.timeout_s);
        if (!run) return failed(run.error());
        switch (run->outcome) {
        case local::ProgramOutcome::next: return out;
        case local::ProgramOutcome::stop: out.stop = true; return out;
        case local::ProgramOutcome::permanent: out.status = DeliveryStatus::fail; break;
        case local::ProgramOutcome::temporary: out.status = DeliveryStatus::defer; break;
        }
        out.text = local::program_reply(ins.target, *run, cfg.timeout_s);
        return out;
    }
    case Kind::forward: {
        SubmitReply r = local::request_forward(job.setup->forward_fd, index, ins.addresses);
        if (r.positive()) return out;
        out.status = r.code >= 500 ? DeliveryStatus::fail : DeliveryStatus::defer;
        out.text = r.line();
        return out;
    }
    }
    return out;
}

std::string describe(const Account& account, const local::Instruction& ins) {
    using Kind = local::Instruction::Kind;
    switch (ins.kind) {
    case Kind::maildir:
    case Kind::mbox: return resolve(account, ins.target);
    case Kind::program: return "|" + local::clean_output(ins.target, 100);
    case Kind::forward: {
        std::string s;
        for (const auto& a : ins.addresses) s += (s.empty() ? "&" : ", &") + a;
        return s;
    }
    }
    return "";
}

DeliveryResult deliver_recipient(const RecipientJob& job, const DeliveryRequest::Rcpt& r) {
    const Account& account = *job.account;
    const ChildSetup& setup = *job.setup;
    unsigned long id = job.req->id;
    if (local::count_delivered_to(*job.head, r.address) >= 1)
        return make_result(id, r.index, DeliveryStatus::fail,
                           "550 5.4.6 mail loop: the message was already delivered to <" +
                               clean_value(r.address) + ">");
    std::string extension = local::address_extension(r.address, account.name);
    Instructions found = find_instructions(account, extension, setup.config, id, r.index, r.address);
    if (found.refused) return *found.refused;
    std::string error;
    auto list = local::parse_instructions(found.text, &error);
    if (!error.empty())
        return make_result(id, r.index, DeliveryStatus::defer,
                           "451 4.3.5 error in " + found.origin + ": " + error);
    std::string done;
    for (size_t n = 0; n < list.size(); ++n) {
        const auto& ins = list[n];
        std::string key = step_key(job.env->id.text, r.index, n, ins.text);
        bool journaled = ins.kind != local::Instruction::Kind::maildir;
        if (!journaled || !setup.done_steps.count(key)) {
            StepOutcome o = run_step(job, ins, r.index, r.address, found.default_part, extension);
            if (o.status != DeliveryStatus::ok) return make_result(id, r.index, o.status, o.text);
            if (journaled && setup.step_done) setup.step_done(r.index, key);
            done += (done.empty() ? "" : ", ") + describe(account, ins);
            if (o.stop) break;
        } else {
            done += (done.empty() ? "" : ", ") + describe(account, ins);
        }
    }
    return make_result(id, r.index, DeliveryStatus::ok, success_reply(done));
}

}  // namespace

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
    // Programs run in the home directory (dot-courier(5)).
    if (::chdir(account.home.c_str()) != 0)
        return defer_all("451 4.2.0 cannot enter the home directory " + account.home + ": " +
                         std::strerror(errno));
    MessageSource src{queue_fd, data_offset, env->data_size};
    std::string head = read_message_head(src);
    int copy_fd = -1;
    RecipientJob job{&req, &account, &setup, &*env, src, &head, &copy_fd};
    for (const auto& r : req.rcpts) {
        if (r.index >= env->rcpts.size() || env->rcpts[r.index].address != r.address) {
            report(make_result(req.id, r.index, DeliveryStatus::defer,
                               "451 4.3.0 recipient " + std::to_string(r.index) +
                                   " of the queue file is not <" + r.address + ">"));
            continue;
        }
        report(deliver_recipient(job, r));
    }
    if (copy_fd >= 0) ::close(copy_fd);
}
