// Maildir writer (maildir(5), D. J. Bernstein's Maildir specification): one message
// becomes tmp/<unique>, is fsynced, linked to new/<unique> and the tmp name removed,
// then new/ is fsynced. A reader never sees a partial file in new/.
// Runs in courierlocal's child, already switched to the recipient's uid.
#pragma once
#include <sys/time.h>
#include <sys/types.h>
#include <cstdint>
#include <string>
#include <string_view>
#include "lib/result.h"

// The host part of a unique name: '/' and ':' would break the name (a path separator,
// and the separator of the info suffix in cur/), so the spec writes them as \057, \072.
std::string maildir_host_part(std::string_view hostname);
// "<sec>.M<usec>P<pid>Q<n>.<host>": time, process and a per-process counter make it
// unique on one host; the host part makes it unique across hosts sharing the folder.
std::string maildir_unique_name(const timeval& now, pid_t pid, unsigned long n,
                                std::string_view host_part);
// The name in new/ of one recipient's copy of one queued message:
// "<arrival>.Q<qid>R<index>.<host>" (the qid's dots written as '_'). Queue ids are
// unique on a host, so the name is unique; and because it is the same for every attempt
// of that delivery, an attempt repeated after a crash (the mail was linked into new/
// but courierd never learned it) finds the file there and does not deliver it twice.
std::string maildir_delivery_name(long long arrival, std::string_view qid, size_t index,
                                  std::string_view host_part);
// "Return-Path: <sender>\nDelivered-To: <rcpt>\n". Control bytes in either value are
// replaced by '?' so an envelope value can never add a header line of its own.
std::string delivery_headers(std::string_view sender, std::string_view recipient);

// The message bytes to copy: `size` bytes of `fd` from `offset` (the queue file after
// its envelope). Read with pread in chunks, so the descriptor's offset is not used.
struct MessageSource {
    int fd = -1;
    uint64_t offset = 0;
    uint64_t size = 0;
};

class MaildirWriter {
public:
    // `maildir` is the folder holding tmp/ new/ cur/; `hostname` the system's name.
    MaildirWriter(std::string maildir, std::string_view hostname);

    // Creates the folder and tmp/ new/ cur/ (mode 0700) where missing.
    Status prepare() const;
    // Writes headers + message into new/<final_name> (see maildir_delivery_name); when
    // that name exists already in new/ or cur/, an earlier attempt delivered it and
    // this one succeeds without writing. Returns the name. On any error nothing is
    // left in tmp/ or new/. Errors of the Maildir keep their errno; errors reading the
    // source have sys_errno 0 (they are not the mailbox's fault).
    // *written (when given) tells whether this call wrote the file (false when an
    // earlier attempt had delivered it).
    Result<std::string> deliver(std::string_view headers, const MessageSource& src,
                                const std::string& final_name, bool* written = nullptr);
    const std::string& host_part() const { return host_; }

    const std::string& folder() const { return maildir_; }

private:
    Result<std::string> write_tmp(std::string_view headers, const MessageSource& src);
    std::string maildir_;
    std::string host_;
    unsigned long seq_ = 0;
};
