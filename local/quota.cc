// Maildir++ quota: parsing maildirsize, counting usage, the over-quota rule.
#include "local/quota.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include "lib/fileio.h"
#include "lib/unique_fd.h"

namespace local {

namespace {

constexpr size_t kMaildirsizeLimit = 1024 * 1024;

bool parse_u64(std::string_view s, uint64_t* out) {
    if (s.empty() || s.size() > 19) return false;
    uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    *out = v;
    return true;
}

bool parse_i64(std::string_view s, int64_t* out) {
    bool neg = !s.empty() && s[0] == '-';
    uint64_t v = 0;
    if (!parse_u64(neg ? s.substr(1) : s, &v)) return false;
    *out = neg ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
    return true;
}

void scan_folder(const std::string& dir, MaildirUsage* u) {
    for (const char* sub : {"/new", "/cur"}) {
        std::string d = dir + sub;
        DIR* dp = ::opendir(d.c_str());
        if (!dp) continue;
        while (dirent* e = ::readdir(dp)) {
            if (e->d_name[0] == '.') continue;
            struct stat st {};
            if (::stat((d + "/" + e->d_name).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
            u->bytes += st.st_size;
            u->count += 1;
        }
        ::closedir(dp);
    }
}

}  // namespace

std::optional<MaildirQuota> parse_quota(std::string_view spec) {
    MaildirQuota q;
    bool any = false;
    size_t pos = 0;
    while (pos < spec.size()) {
        size_t comma = spec.find(',', pos);
        std::string_view part = spec.substr(pos, comma == std::string_view::npos ? std::string_view::npos
                                                                                 : comma - pos);
        pos = comma == std::string_view::npos ? spec.size() : comma + 1;
        if (part.size() < 2) return std::nullopt;
        uint64_t v = 0;
        if (!parse_u64(part.substr(0, part.size() - 1), &v)) return std::nullopt;
        if (part.back() == 'S') q.bytes = v;
        else if (part.back() == 'C') q.count = v;
        else return std::nullopt;
        any = true;
    }
    if (!any) return std::nullopt;
    return q;
}

std::string format_quota(const MaildirQuota& q) {
    std::string out;
    if (q.bytes) out += std::to_string(q.bytes) + "S";
    if (q.count) out += (out.empty() ? "" : ",") + std::to_string(q.count) + "C";
    return out;
}

std::optional<MaildirQuota> parse_maildirsize(std::string_view text, MaildirUsage* usage) {
    *usage = {};
    size_t lf = text.find('\n');
    auto q = parse_quota(text.substr(0, lf));
    if (!q) return std::nullopt;
    size_t pos = lf == std::string_view::npos ? text.size() : lf + 1;
    while (pos < text.size()) {
        lf = text.find('\n', pos);
        if (lf == std::string_view::npos) break;   // an append still in progress
        std::string_view line = text.substr(pos, lf - pos);
        pos = lf + 1;
        while (!line.empty() && (line[0] == ' ' || line[0] == '\t')) line.remove_prefix(1);
        size_t sp = line.find_first_of(" \t");
        int64_t b = 0, c = 0;
        if (sp == std::string_view::npos) continue;
        std::string_view rest = line.substr(sp + 1);
        while (!rest.empty() && (rest[0] == ' ' || rest[0] == '\t')) rest.remove_prefix(1);
        if (!parse_i64(line.substr(0, sp), &b) || !parse_i64(rest, &c)) continue;
        usage->bytes += b;
        usage->count += c;
    }
    return q;
}

bool over_quota(const MaildirQuota& q, const MaildirUsage& u, uint64_t add_bytes, uint64_t add_count) {
    if (q.bytes && u.bytes + static_cast<int64_t>(add_bytes) > static_cast<int64_t>(q.bytes)) return true;
    if (q.count && u.count + static_cast<int64_t>(add_count) > static_cast<int64_t>(q.count)) return true;
    return false;
}

MaildirUsage scan_usage(const std::string& maildir) {
    MaildirUsage u;
    scan_folder(maildir, &u);
    if (DIR* dp = ::opendir(maildir.c_str())) {
        while (dirent* e = ::readdir(dp)) {
            std::string name = e->d_name;
            if (name.size() < 2 || name[0] != '.' || name == ".." || name == ".Trash") continue;
            scan_folder(maildir + "/" + name, &u);
        }
        ::closedir(dp);
    }
    return u;
}

Status write_maildirsize(const std::string& maildir, const MaildirQuota& q, const MaildirUsage& u) {
    std::string text = format_quota(q) + "\n" + std::to_string(u.bytes) + " " +
                       std::to_string(u.count) + "\n";
    return write_file_durably(maildir, "maildirsize", text, 0600);
}

Status check_quota(const std::string& maildir, uint64_t bytes) {
    auto text = read_file(maildir + "/maildirsize", kMaildirsizeLimit);
    if (!text) return ok_status();   // no maildirsize: no quota
    MaildirUsage usage;
    auto q = parse_maildirsize(*text, &usage);
    if (!q || !q->limited() || !over_quota(*q, usage, bytes, 1)) return ok_status();
    // The recorded usage may be stale (messages deleted without an update): count.
    usage = scan_usage(maildir);
    if (auto st = write_maildirsize(maildir, *q, usage); !st) return st;
    if (over_quota(*q, usage, bytes, 1))
        return Error{EDQUOT, maildir + " is over quota (" + format_quota(*q) + ")"};
    return ok_status();
}

void record_delivery(const std::string& maildir, uint64_t bytes) {
    std::string path = maildir + "/maildirsize";
    // Only a Maildir that has a quota keeps the file; never create it here.
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) return;
    (void)write_all(fd.get(), std::to_string(bytes) + " 1\n");
}

}  // namespace local
