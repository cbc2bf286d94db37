// The queue file: what submit writes and every later stage reads. One file per message,
// msgs/<bucket>/Q<qid>, holding the envelope as one record per line followed by the
// message itself; and an append-only status log, msgs/<bucket>/S<qid>, written by
// courierd. Format and crash-safety argument: doc/architecture.md, "The queue".
#pragma once
#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include "lib/result.h"

// Queue ids are "TTTTTTTT.PPPPPPPP.SSSS": arrival time, submit's pid and a per-process
// sequence number, in upper-case hex. Sorting ids sorts messages by arrival second.
struct QueueId {
    std::string text;
    static QueueId make(std::time_t now, long pid, unsigned seq);
    static std::optional<QueueId> parse(std::string_view s);
    // Folder under msgs/ that holds the message: the first five hex digits of the
    // time (a new folder every 4096 s), so a scan in name order is oldest first.
    std::string bucket() const { return text.substr(0, 5); }
};

struct QueueRecipient {
    std::string address;   // RFC 5321 form, as it will be delivered
    std::string module;    // "local" or "esmtp"
    std::string host;      // local: the account; esmtp: the domain
    std::string orcpt;     // DSN ORCPT (RFC 3461), "" when absent
    std::string notify;    // DSN NOTIFY list, e.g. "SUCCESS,FAILURE"; "" when absent
};

struct QueueEnvelope {
    QueueId id;
    std::time_t arrival = 0;
    std::string sender;                 // "" for the null reverse path
    std::string source;                 // esmtp, local, dsn, forward
    std::string ret;                    // DSN RET: "", FULL or HDRS
    std::string envid;                  // DSN ENVID
    std::string body;                   // "", 7BIT or 8BITMIME
    bool smtputf8 = false;
    bool requiretls = false;            // RFC 8689 REQUIRETLS: only over verified TLS
    // Session facts, kept for the vhost lookups of later stages and for notices.
    std::string remote_ip, remote_host, helo, local_ip, auth_user;
    std::string vhost;                  // key of the vhost.<key> file in force, or ""
    // The local account that submitted it (sendmail through the set-uid submit): the
    // owner who may cancel it (cancelmsg(1)); -1 when unknown (esmtp mail, old files).
    long owner_uid = -1;
    std::vector<QueueRecipient> rcpts;
    uint64_t data_size = 0;             // bytes of message after the envelope
};

// The envelope lines, ending with "data <size>\n"; the message bytes follow it.
std::string format_envelope(const QueueEnvelope& env);
// Parses the envelope at the start of a queue file. *data_offset receives where the
// message starts. Unknown record tags are skipped (newer writers may add some).
Result<QueueEnvelope> parse_envelope(std::string_view file_head, size_t* data_offset);
// Reads and parses the envelope of a queue file on disk (reads only the head).
Result<QueueEnvelope> read_envelope(const std::string& path, size_t* data_offset);

// Status log records (S<qid>), one per line, appended by courierd.
struct StatusRecord {
    // hold/release: a global filter held the message; `courier release` frees it.
    // relayed: delivered to a next hop without DSN support (a final success).
    enum class Kind { delivered, failed, deferred, retry, notice, hold, release, relayed };
    Kind kind = Kind::deferred;
    size_t rcpt = 0;            // recipient index (delivered/failed/deferred)
    std::time_t when = 0;
    std::time_t next = 0;       // retry: when the next attempt is due
    unsigned attempts = 0;      // retry: attempts made so far
    std::string text;           // reply text (delivered/failed/deferred), notice kind,
                                // hold reason, who released
};
std::string format_status(const StatusRecord& r);     // one line with its LF
// The `hold` record that keeps a message queued until `courier release` (filters, DMARC).
std::string format_hold_record(const std::string& reason, std::time_t now);
// Parses a whole status log; a torn last line (no LF) is ignored, as after a crash.
std::vector<StatusRecord> parse_status_log(std::string_view log);

// Spool file names for a message.
std::string queue_file_path(const std::string& spool, const QueueId& id);   // .../Q<id>
std::string status_file_path(const std::string& spool, const QueueId& id);  // .../S<id>
