// The durable write of one message into the queue, the sequence of doc/architecture.md
// "Crash safety of submit": tmp/T<qid> (O_EXCL, 0640) -> fsync -> link to
// msgs/<bucket>/Q<qid> -> fsync the bucket -> unlink tmp -> notice on the trigger FIFO.
// Until commit() has returned success nothing may tell the client the mail is queued.
#pragma once
#include <ctime>
#include <string>
#include <string_view>
#include "lib/queue.h"
#include "lib/result.h"
#include "lib/unique_fd.h"

namespace submit {

// tmp/T<qid> while it is written: removed by the destructor unless committed, so every
// early return and every refusal cleans up (STYLE.md 3, TempFile).
class PendingQueueFile {
public:
    PendingQueueFile() = default;
    PendingQueueFile(PendingQueueFile&& o) noexcept;
    PendingQueueFile& operator=(PendingQueueFile&& o) noexcept;
    PendingQueueFile(const PendingQueueFile&) = delete;
    PendingQueueFile& operator=(const PendingQueueFile&) = delete;
    ~PendingQueueFile() { discard(); }

    const QueueId& id() const { return id_; }
    int fd() const { return fd_.get(); }
    const std::string& queue_path() const { return queue_path_; }
    void discard();   // removes the tmp file (and a queue link not yet durable)

private:
    friend class SpoolWriter;
    QueueId id_;
    UniqueFd fd_;
    std::string tmp_path_, bucket_dir_, queue_path_, status_path_;
    bool linked_ = false;
    bool committed_ = true;   // nothing to clean up until begin() made the file
};

class SpoolWriter {
public:
    explicit SpoolWriter(std::string spool_dir);

    // Creates tmp/T<qid> for a new queue id made of `now`, this pid and the next
    // sequence number; a name already in use is skipped (O_EXCL), never reused.
    Result<PendingQueueFile> begin(std::time_t now);
    // fsync, link into msgs/<bucket>/Q<qid> (creating the bucket), fsync the bucket,
    // unlink the tmp name. On failure the file is removed and the error says why.
    // initial_status: status log records (submitdelay's "retry") written durably to
    // S<qid> before the queue file appears, so courierd never sees one without the other.
    Status commit(PendingQueueFile& file, std::string_view initial_status = "");
    // "new <bucket>/Q<qid>" on the trigger FIFO. Never blocks; a missing reader, a
    // missing FIFO or a full one are normal (courierd rescans the queue).
    void notify(const QueueId& id) const;

private:
    Status link_into_bucket(PendingQueueFile& file);
    std::string spool_, tmp_dir_, msgs_dir_, fifo_;
    unsigned seq_ = 0;
    // The bucket whose own entry in msgs/ this process has made durable.
    std::string durable_bucket_;
};

}  // namespace submit
