// Maildir writer: unique names, the two delivery headers, and the
// tmp -> fsync -> link new -> unlink tmp -> fsync new sequence (maildir(5)).
#include "local/maildir.h"

#include <fcntl.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>
#include "lib/fileio.h"
#include "lib/unique_fd.h"

namespace {

// Owns a tmp/ name: removed on every early return, so a failed delivery leaves no
// file behind. release() once the name has been dealt with.
class TempName {
public:
    explicit TempName(std::string path) : path_(std::move(path)) {}
    TempName(const TempName&) = delete;
    TempName& operator=(const TempName&) = delete;
    ~TempName() {
        if (!path_.empty()) ::unlink(path_.c_str());
    }
    void release() { path_.clear(); }

private:
    std::string path_;
};

constexpr size_t kCopyChunk = 64 * 1024;
// Names collide only when two writers share pid, microsecond and counter: a few
// retries with the next counter value are plenty.
constexpr int kCreateAttempts = 8;

std::string clean_header_value(std::string_view v) {
    std::string out(v);
    for (char& c : out) {
        unsigned char u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) c = '?';
    }
    return out;
}

Error in_context(Error e, const std::string& path) {
    e.text = "writing " + path + ": " + e.text;
    return e;
}

// Streams src into fd; read errors become Errors without errno (see maildir.h).
Status copy_source(int fd, const MessageSource& src, const std::string& what) {
    std::vector<char> buf(kCopyChunk);
    uint64_t done = 0;
    while (done < src.size) {
        size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), src.size - done));
        ssize_t n = ::pread(src.fd, buf.data(), want, static_cast<off_t>(src.offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0)
            return Error{0, std::string("reading the queue file: ") + std::strerror(errno)};
        if (n == 0) return Error{0, "the queue file is shorter than its data record"};
        if (auto st = write_all(fd, std::string_view(buf.data(), static_cast<size_t>(n))); !st)
            return in_context(st.error(), what);
        done += static_cast<uint64_t>(n);
    }
    return ok_status();
}

}  // namespace

std::string maildir_host_part(std::string_view hostname) {
    std::string out;
    for (char c : hostname) {
        if (c == '/') out += "\\057";
        else if (c == ':') out += "\\072";
        else out += c;
    }
    return out.empty() ? "localhost" : out;
}

std::string maildir_unique_name(const timeval& now, pid_t pid, unsigned long n,
                                std::string_view host_part) {
    return std::to_string(static_cast<long long>(now.tv_sec)) + ".M" +
           std::to_string(static_cast<long>(now.tv_usec)) + "P" +
           std::to_string(static_cast<long>(pid)) + "Q" + std::to_string(n) + "." +
           std::string(host_part);
}

std::string maildir_delivery_name(long long arrival, std::string_view qid, size_t index,
                                  std::string_view host_part) {
    std::string q(qid);
    std::replace(q.begin(), q.end(), '.', '_');
    return std::to_string(arrival) + ".Q" + q + "R" + std::to_string(index) + "." +
           std::string(host_part);
}

static bool already_delivered(const std::string& maildir, const std::string& name) {
    // cur/ holds it as "<name>:2,<flags>" once a reader has seen it; the common
    // unflagged form is checked, and new/ of course.
    for (const std::string& p : {maildir + "/new/" + name, maildir + "/cur/" + name,
                                 maildir + "/cur/" + name + ":2,"})
        if (path_exists(p)) return true;
    return false;
}

std::string delivery_headers(std::string_view sender, std::string_view recipient) {
    return "Return-Path: <" + clean_header_value(sender) + ">\nDelivered-To: " +
           clean_header_value(recipient) + "\n";
}

MaildirWriter::MaildirWriter(std::string maildir, std::string_view hostname)
    : maildir_(std::move(maildir)), host_(maildir_host_part(hostname)) {}

Status MaildirWriter::prepare() const {
    for (const std::string& dir :
         {maildir_, maildir_ + "/tmp", maildir_ + "/new", maildir_ + "/cur"}) {
        if (auto st = ensure_dir(dir, 0700); !st) return st;
    }
    return ok_status();
}

// Creates tmp/<unique> and fills it durably; returns the unique name. The file is
// removed again unless this returns a name.
Result<std::string> MaildirWriter::write_tmp(std::string_view headers,
                                             const MessageSource& src) {
    for (int attempt = 0; attempt < kCreateAttempts; ++attempt) {
        timeval now{};
        ::gettimeofday(&now, nullptr);
        std::string name = maildir_unique_name(now, ::getpid(), ++seq_, host_);
        std::string path = maildir_ + "/tmp/" + name;
        UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                           0600));
        if (!fd && errno == EEXIST) continue;
        if (!fd) return sys_error("cannot create " + path);
        TempName guard(path);
        if (auto st = write_all(fd.get(), headers); !st) return in_context(st.error(), path);
        if (auto st = copy_source(fd.get(), src, path); !st) return st.error();
        if (auto st = fsync_fd(fd.get(), path); !st) return st.error();
        // close() is where NFS and some quota implementations report a failed write.
        if (::close(fd.release()) != 0) return sys_error("cannot close " + path);
        guard.release();
        return name;
    }
    return Error{EEXIST, "no unique name free in " + maildir_ + "/tmp"};
}

Result<std::string> MaildirWriter::deliver(std::string_view headers, const MessageSource& src,
                                           const std::string& final_name, bool* written) {
    if (written) *written = false;
    if (already_delivered(maildir_, final_name)) return final_name;
    auto name = write_tmp(headers, src);
    if (!name) return name.error();
    std::string tmp_path = maildir_ + "/tmp/" + *name;
    std::string new_path = maildir_ + "/new/" + final_name;
    TempName tmp_guard(tmp_path);
    // link never replaces an existing file; EEXIST means an earlier attempt of this
    // very delivery got there first (see maildir_delivery_name).
    if (::link(tmp_path.c_str(), new_path.c_str()) != 0) {
        if (errno == EEXIST) return final_name;
        return sys_error("cannot link " + tmp_path + " to " + new_path);
    }
    tmp_guard.release();
    ::unlink(tmp_path.c_str());
    if (auto st = fsync_dir(maildir_ + "/new"); !st) {
        // Not durable: report a deferral, and take the file back so the retry that
        // follows does not deliver it twice.
        ::unlink(new_path.c_str());
        return st.error();
    }
    if (written) *written = true;
    return final_name;
}
