// Maildir++ quotas: the maildirsize file in the Maildir's top folder. Its first line
// is the quota ("<bytes>S,<count>C", either part optional); every further line is
// "<bytes> <count>", a change of the folder's contents; their sums are the usage.
// A delivery that would go over the quota is refused as a temporary failure (EDQUOT,
// 452 4.2.2). Before refusing, the usage is counted afresh from the files (messages
// deleted since the last count free their space) and maildirsize rewritten.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include "lib/result.h"

namespace local {

struct MaildirQuota {
    uint64_t bytes = 0;   // 0: no limit on bytes
    uint64_t count = 0;   // 0: no limit on messages
    bool limited() const { return bytes != 0 || count != 0; }
};
struct MaildirUsage {
    int64_t bytes = 0;
    int64_t count = 0;
};

// "1000000S,500C", "5000S", "100C"; nullopt when malformed.
std::optional<MaildirQuota> parse_quota(std::string_view spec);
std::string format_quota(const MaildirQuota& q);
// Parses a maildirsize file's text: its quota line and the sum of the others.
std::optional<MaildirQuota> parse_maildirsize(std::string_view text, MaildirUsage* usage);
bool over_quota(const MaildirQuota& q, const MaildirUsage& u, uint64_t add_bytes, uint64_t add_count);

// Counts the messages of the Maildir and its folders (".name", except .Trash).
MaildirUsage scan_usage(const std::string& maildir);
// Writes maildirsize afresh (quota line + one usage line), atomically.
Status write_maildirsize(const std::string& maildir, const MaildirQuota& q, const MaildirUsage& u);
// Ok when a message of `bytes` fits (or there is no maildirsize); EDQUOT when not.
Status check_quota(const std::string& maildir, uint64_t bytes);
// Records a delivered message ("<bytes> 1" appended) when the Maildir has a quota.
void record_delivery(const std::string& maildir, uint64_t bytes);

}  // namespace local
