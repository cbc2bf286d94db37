// mbox delivery: dot lock + fcntl lock, From_ quoting, truncate on failure.
#include "local/mbox.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <vector>
#include "lib/fileio.h"
#include "lib/unique_fd.h"

namespace local {

namespace {

// A dot lock older than this is left over by a crashed writer (mail readers use 5 min).
constexpr long kStaleLockSeconds = 300;
// How long to wait for another writer's dot lock before deferring.
constexpr int kLockWaitSeconds = 120;
constexpr size_t kCopyChunk = 64 * 1024;

// Holds "<path>.lock" while alive.
class DotLock {
public:
    DotLock() = default;
    DotLock(const DotLock&) = delete;
    DotLock& operator=(const DotLock&) = delete;
    ~DotLock() {
        if (!path_.empty()) ::unlink(path_.c_str());
    }
    // Ok when held, or when the folder does not let us create a lock at all.
    Status acquire(const std::string& mailbox) {
        std::string lock = mailbox + ".lock";
        for (int waited = 0;; ++waited) {
            UniqueFd fd(::open(lock.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                               0600));
            if (fd) {
                path_ = lock;
                return ok_status();
            }
            if (errno == EACCES || errno == EPERM || errno == EROFS) return ok_status();
            if (errno != EEXIST) return sys_error("cannot create " + lock);
            struct stat st {};
            if (::lstat(lock.c_str(), &st) == 0 &&
                std::time(nullptr) - st.st_mtime > kStaleLockSeconds) {
                ::unlink(lock.c_str());
                continue;
            }
            if (waited >= kLockWaitSeconds) return Error{EAGAIN, mailbox + " is locked (" + lock + ")"};
            ::sleep(1);
        }
    }

private:
    std::string path_;
};

}  // namespace

bool mbox_needs_quote(std::string_view line) {
    size_t i = 0;
    while (i < line.size() && line[i] == '>') ++i;
    return line.substr(i).substr(0, 5) == "From ";
}

Status append_mbox_message(int fd, std::string_view prefix, const MessageSource& src) {
    std::string out(prefix);
    std::string carry;   // a line not yet complete
    std::vector<char> buf(kCopyChunk);
    uint64_t done = 0;
    auto emit_line = [&](std::string_view line) {
        if (mbox_needs_quote(line)) out += '>';
        out += line;
    };
    while (done < src.size) {
        size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), src.size - done));
        ssize_t n = ::pread(src.fd, buf.data(), want, static_cast<off_t>(src.offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Error{0, std::string("reading the queue file: ") + std::strerror(errno)};
        if (n == 0) return Error{0, "the queue file is shorter than its data record"};
        done += static_cast<uint64_t>(n);
        carry.append(buf.data(), static_cast<size_t>(n));
        size_t start = 0, lf;
        while ((lf = carry.find('\n', start)) != std::string::npos) {
            emit_line(std::string_view(carry).substr(start, lf + 1 - start));
            start = lf + 1;
        }
        carry.erase(0, start);
        if (out.size() >= kCopyChunk) {
            if (auto st = write_all(fd, out); !st) return st;
            out.clear();
        }
    }
    if (!carry.empty()) {
        emit_line(carry);
        out += '\n';
    }
    out += '\n';   // the empty line that separates messages
    return write_all(fd, out);
}

Status deliver_mbox(const std::string& path, std::string_view from_line,
                    std::string_view headers, const MessageSource& src) {
    DotLock dot;
    if (auto st = dot.acquire(path); !st) return st;
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) return sys_error("cannot open " + path);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return sys_error("cannot stat " + path);
    if (!S_ISREG(st.st_mode)) return Error{EINVAL, path + " is not a regular file"};
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    // Blocks until the other writer is done; the child's alarm bounds the wait.
    while (::fcntl(fd.get(), F_SETLKW, &fl) != 0) {
        if (errno != EINTR) return sys_error("cannot lock " + path);
    }
    off_t size = ::lseek(fd.get(), 0, SEEK_END);
    if (size < 0) return sys_error("cannot seek " + path);
    std::string prefix = std::string(from_line) + "\n" + std::string(headers);
    Status written = append_mbox_message(fd.get(), prefix, src);
    if (written) written = fsync_fd(fd.get(), path);
    if (!written) {
        // Take the partial message back out: readers must never see half of one.
        if (::ftruncate(fd.get(), size) != 0) {}
        Error e = written.error();
        if (e.sys_errno != 0) e.text = "writing " + path + ": " + e.text;
        return e;
    }
    return ok_status();
}

}  // namespace local
