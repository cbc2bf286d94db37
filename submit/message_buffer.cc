// The message body while it arrives: CRLF -> LF conversion, memory up to a bound, then
// an unnamed spill file in spool/tmp (nothing is left behind if submit dies).
#include "submit/message_buffer.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>
#include "lib/fileio.h"

namespace submit {

namespace {
// Once spilled, converted bytes are gathered up to this size before each write.
constexpr size_t kSpillWriteSize = 64 * 1024;
}  // namespace

void CrlfToLf::convert(std::string_view in, std::string& out) {
    size_t i = 0;
    if (pending_cr_ && !in.empty()) {
        pending_cr_ = false;
        if (in[0] != '\n') out.push_back('\r');
    }
    while (i < in.size()) {
        const void* cr = std::memchr(in.data() + i, '\r', in.size() - i);
        if (!cr) {
            out.append(in.substr(i));
            return;
        }
        size_t j = static_cast<size_t>(static_cast<const char*>(cr) - in.data());
        out.append(in.substr(i, j - i));
        if (j + 1 == in.size()) {
            pending_cr_ = true;   // the LF may start the next chunk
            return;
        }
        if (in[j + 1] != '\n') out.push_back('\r');
        i = j + 1;
    }
}

void CrlfToLf::finish(std::string& out) {
    if (pending_cr_) out.push_back('\r');
    pending_cr_ = false;
}

MessageBuffer::MessageBuffer(std::string spill_dir, size_t memory_limit, uint64_t size_limit)
    : spill_dir_(std::move(spill_dir)), memory_limit_(memory_limit), size_limit_(size_limit) {}

void MessageBuffer::reset() {
    crlf_.reset();
    mem_.clear();
    spill_.reset();
    size_ = 0;
    too_big_ = false;
}

Status MessageBuffer::append(std::string_view raw) {
    scratch_.clear();
    crlf_.convert(raw, scratch_);
    return store(scratch_);
}

Status MessageBuffer::finish() {
    scratch_.clear();
    crlf_.finish(scratch_);
    Status st = store(scratch_);
    if (st && spilled() && !mem_.empty()) {
        st = write_all(spill_.get(), mem_);
        mem_.clear();
    }
    return st;
}

Status MessageBuffer::store(std::string_view converted) {
    size_ += converted.size();
    if (too_big_) return ok_status();
    if (size_limit_ != 0 && size_ > size_limit_) {
        // Keep counting for the log, keep nothing: the message will be refused.
        too_big_ = true;
        std::string().swap(mem_);
        spill_.reset();
        return ok_status();
    }
    mem_.append(converted);
    if (!spilled() && mem_.size() <= memory_limit_) return ok_status();
    if (!spilled()) {
        Status st = open_spill();
        if (!st) return st;
    }
    if (mem_.size() < kSpillWriteSize) return ok_status();
    Status st = write_all(spill_.get(), mem_);
    mem_.clear();
    return st;
}

Status MessageBuffer::open_spill() {
    int fd = ::open(spill_dir_.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
        // No O_TMPFILE on this file system: a named file, unlinked at once.
        std::string name = spill_dir_ + "/B" + std::to_string(getpid()) + "." +
                           std::to_string(reinterpret_cast<uintptr_t>(this));
        fd = ::open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) ::unlink(name.c_str());
    }
    if (fd < 0) return sys_error("cannot create spill file in " + spill_dir_);
    spill_.reset(fd);
    return ok_status();
}

Status MessageBuffer::write_to(int fd) {
    if (!spilled()) return write_all(fd, mem_);
    off_t in_off = 0;
    uint64_t left = size_;
    // In-kernel copy; plain reads and writes where the file system cannot do it.
    while (left > 0) {
        ssize_t n = ::copy_file_range(spill_.get(), &in_off, fd, nullptr, left, 0);
        if (n > 0) {
            left -= uint64_t(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n == 0) return Error{0, "spill file shorter than the message"};
        if (errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP)
            return sys_error("copying message into queue file");
        break;
    }
    std::string buf(kSpillWriteSize, '\0');
    while (left > 0) {
        size_t want = left < buf.size() ? size_t(left) : buf.size();
        ssize_t n = ::pread(spill_.get(), buf.data(), want, in_off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return sys_error("reading spill file");
        if (n == 0) return Error{0, "spill file shorter than the message"};
        Status st = write_all(fd, std::string_view(buf.data(), size_t(n)));
        if (!st) return st;
        in_off += n;
        left -= uint64_t(n);
    }
    return ok_status();
}

}  // namespace submit
