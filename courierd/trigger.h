// The trigger FIFO (doc/architecture.md, "The trigger FIFO"): the notices submit and
// `courier flush` write, parsed here and only here, and the FIFO's creation and opening.
// SECURITY: any member of the mail group can write the FIFO, so every line is untrusted:
// a notice names at most a queue id, which is validated before it becomes a path.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include "lib/queue.h"
#include "lib/result.h"
#include "lib/unique_fd.h"

struct TriggerNotice {
    enum class Kind { new_message, flush_all, flush_one, flush_domain };
    Kind kind = Kind::flush_all;
    std::optional<QueueId> id;   // new_message, flush_one
    std::string domain;          // flush_domain: "example.com" or "@example.com"
};

// "new <bucket>/Q<qid>", "flush", "flush <qid>", "etrn <domain>" and "etrn @<domain>"
// (courieresmtpd's ETRN, RFC 1985); nullopt for anything else (also a bucket that is
// not the id's own, or a domain with bytes other than letters, digits, '-' and '.').
std::optional<TriggerNotice> parse_trigger_notice(std::string_view line);
std::string format_flush_notice(const std::optional<QueueId>& id);
// "etrn <domain>\n"; domain as parse_etrn_argument gives it (lower case, "@" prefix
// for subdomains too).
std::string format_etrn_notice(std::string_view domain);
// Does an ETRN domain cover the host of an esmtp recipient? "example.com" names that
// host only, "@example.com" it and every subdomain (RFC 1985 section 3). Host names
// compare case-insensitively; a trailing dot on the host is ignored.
bool etrn_covers(std::string_view etrn_domain, std::string_view host);

// The reading end for courierd: creates the FIFO when missing (mode 0620, owned by
// uid/gid unless they are -1) and opens it O_RDONLY|O_NONBLOCK. `dummy_writer` receives
// a write descriptor that courierd keeps open so the reader never sees EOF (which
// would make poll report the FIFO readable for ever once the last writer closed).
// Does the message have a recipient still open (no final record) for the esmtp
// module at a host the ETRN domain covers? `final_rcpt` as summarize_status gives it.
bool etrn_wants(const QueueEnvelope& env, const std::vector<bool>& final_rcpt,
                std::string_view etrn_domain);
// The queued messages an ETRN names, oldest first (the queue files of the spool,
// read as courier flush <qid> would load them).
std::vector<QueueId> etrn_messages(const std::string& spool, std::string_view etrn_domain);

Result<UniqueFd> open_trigger_reader(const std::string& path, uid_t uid, gid_t gid,
                                     UniqueFd* dummy_writer);
// Writes one notice without blocking; fails when nobody reads the FIFO.
Status send_trigger_notice(const std::string& path, std::string_view line);
