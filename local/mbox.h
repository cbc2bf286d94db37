// mbox delivery (mbox(5), the "mboxrd" convention): one message appended to a mailbox
// file after a "From " separator line, every body line that reads ">*From " quoted with
// one more '>', and an empty line after it. The file is locked both ways mail readers
// lock it: a "<file>.lock" dot lock (skipped when the folder is not writable, as for
// /var/mail without the mail group) and an fcntl write lock. A failed write is cut off
// again (ftruncate), so the mailbox never keeps half a message.
// Runs in courierlocal's child as the recipient.
#pragma once
#include <string>
#include <string_view>
#include "lib/result.h"
#include "local/maildir.h"

namespace local {

// The line with one more '>' when it is a From_ line or a quoted one (">From ").
bool mbox_needs_quote(std::string_view line);
// Copies src to the end of the open mailbox, quoting From_ lines; returns the bytes
// written (prefix + message + the final empty line).
Status append_mbox_message(int fd, std::string_view prefix, const MessageSource& src);

// Locks and appends: `from_line` without LF, `headers` (Return-Path, Delivered-To) and
// the message. Errors keep their errno (ENOSPC/EDQUOT become 452 replies).
Status deliver_mbox(const std::string& path, std::string_view from_line,
                    std::string_view headers, const MessageSource& src);

}  // namespace local
