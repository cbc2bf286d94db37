// The durable write of one queue file (doc/architecture.md, "Crash safety of submit").
// SECURITY: runs as the caller (the mail user for SMTP); creates files 0640 and
// buckets 0750, and never replaces an existing queue file (O_EXCL, link).
#include "submit/spool_writer.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include "lib/fileio.h"
#include "lib/log.h"

namespace submit {

namespace {
constexpr int kMaxIdAttempts = 64;
}  // namespace

PendingQueueFile::PendingQueueFile(PendingQueueFile&& o) noexcept
    : id_(std::move(o.id_)), fd_(std::move(o.fd_)), tmp_path_(std::move(o.tmp_path_)),
      bucket_dir_(std::move(o.bucket_dir_)), queue_path_(std::move(o.queue_path_)),
      linked_(o.linked_), committed_(o.committed_) {
    o.tmp_path_.clear();
    o.linked_ = false;
    o.committed_ = true;
}

PendingQueueFile& PendingQueueFile::operator=(PendingQueueFile&& o) noexcept {
    if (this != &o) {
        discard();
        id_ = std::move(o.id_);
        fd_ = std::move(o.fd_);
        tmp_path_ = std::move(o.tmp_path_);
        bucket_dir_ = std::move(o.bucket_dir_);
        queue_path_ = std::move(o.queue_path_);
        linked_ = o.linked_;
        committed_ = o.committed_;
        o.tmp_path_.clear();
        o.linked_ = false;
        o.committed_ = true;
    }
    return *this;
}

void PendingQueueFile::discard() {
    fd_.reset();
    if (committed_) return;
    // A link whose directory fsync failed is not in the queue as far as the client
    // knows; it must go too, or the client's retry would be delivered twice.
    if (linked_) ::unlink(queue_path_.c_str());
    if (!tmp_path_.empty()) ::unlink(tmp_path_.c_str());
    if (!status_path_.empty()) ::unlink(status_path_.c_str());
    status_path_.clear();
    linked_ = false;
    tmp_path_.clear();
    committed_ = true;
}

SpoolWriter::SpoolWriter(std::string spool_dir)
    : spool_(std::move(spool_dir)), tmp_dir_(spool_ + "/tmp"), msgs_dir_(spool_ + "/msgs"),
      fifo_(spool_ + "/trigger") {}

Result<PendingQueueFile> SpoolWriter::begin(std::time_t now) {
    for (int attempt = 0; attempt < kMaxIdAttempts; ++attempt) {
        PendingQueueFile f;
        f.id_ = QueueId::make(now, static_cast<long>(getpid()), seq_++ & 0xFFFFu);
        f.tmp_path_ = tmp_dir_ + "/T" + f.id_.text;
        int fd = ::open(f.tmp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
        if (fd < 0) {
            f.tmp_path_.clear();   // not ours: the destructor must not remove it
            if (errno == EEXIST) continue;
            return sys_error("cannot create " + tmp_dir_ + "/T" + f.id_.text);
        }
        f.fd_.reset(fd);
        f.committed_ = false;
        f.bucket_dir_ = msgs_dir_ + "/" + f.id_.bucket();
        f.queue_path_ = f.bucket_dir_ + "/Q" + f.id_.text;
        return f;
    }
    return Error{EEXIST, "no free queue id in " + tmp_dir_};
}

Status SpoolWriter::link_into_bucket(PendingQueueFile& f) {
    if (::link(f.tmp_path_.c_str(), f.queue_path_.c_str()) == 0) return ok_status();
    if (errno != ENOENT) return sys_error("cannot link " + f.queue_path_);
    // First message of this bucket: ensure_dir creates it and fsyncs msgs/.
    Status st = ensure_dir(f.bucket_dir_, 0750);
    if (!st) return st;
    if (::link(f.tmp_path_.c_str(), f.queue_path_.c_str()) != 0)
        return sys_error("cannot link " + f.queue_path_);
    return ok_status();
}

Status SpoolWriter::commit(PendingQueueFile& f, std::string_view initial_status) {
    Status st = fsync_fd(f.fd(), f.tmp_path_);
    if (st && !initial_status.empty()) {
        st = ensure_dir(f.bucket_dir_, 0750);
        if (st) st = write_file_durably(f.bucket_dir_, "S" + f.id_.text, initial_status, 0640);
        if (st) f.status_path_ = f.bucket_dir_ + "/S" + f.id_.text;
    }
    if (st) st = link_into_bucket(f);
    if (st) f.linked_ = true;
    // Another process may have created this bucket and not yet fsynced msgs/; the
    // queue file is only durable once the bucket's own entry is.
    if (st && durable_bucket_ != f.id_.bucket()) {
        st = fsync_dir(msgs_dir_);
        if (st) durable_bucket_ = f.id_.bucket();
    }
    if (st) st = fsync_dir(f.bucket_dir_);
    if (!st) {
        f.discard();
        return st;
    }
    f.committed_ = true;
    f.status_path_.clear();
    f.fd_.reset();
    // The message is queued; a stale T file would only be cleaned up by courierd.
    if (::unlink(f.tmp_path_.c_str()) != 0)
        log_warning("cannot remove " + f.tmp_path_ + ": " + std::to_string(errno));
    return ok_status();
}

void SpoolWriter::notify(const QueueId& id) const {
    int fd = ::open(fifo_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENXIO && errno != ENOENT)
            log_warning("cannot open trigger " + fifo_ + ": " + std::to_string(errno));
        return;
    }
    UniqueFd owner(fd);
    // Well under PIPE_BUF, so it arrives whole or not at all.
    std::string line = "new " + id.bucket() + "/Q" + id.text + "\n";
    ssize_t n = ::write(fd, line.data(), line.size());
    if (n < 0 && errno != EAGAIN && errno != EPIPE)
        log_warning("cannot write trigger " + fifo_ + ": " + std::to_string(errno));
}

}  // namespace submit
