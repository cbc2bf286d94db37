// The userdb backend of SMTP AUTH: see auth_userdb.h.
#include "esmtp/auth_userdb.h"
#include <algorithm>
#include <crypt.h>
#include <cstring>
#include <dirent.h>
#include <sys/stat.h>
#include "lib/fileio.h"

namespace esmtp {

Result<std::optional<UserDbEntry>> parse_userdb_line(std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos || line[first] == '#') return std::optional<UserDbEntry>();
    size_t tab = line.find('\t');
    if (tab == std::string_view::npos || tab == 0) return Error{0, "expected name<TAB>fields"};
    UserDbEntry e{std::string(line.substr(0, tab)), std::string(line.substr(tab + 1))};
    if (e.name.find_first_of(" |") != std::string::npos) return Error{0, "bad account name"};
    size_t i = 0;
    while (i <= e.fields.size()) {
        size_t bar = e.fields.find('|', i);
        std::string_view f = std::string_view(e.fields).substr(i, bar == std::string::npos ? std::string::npos : bar - i);
        if (f.find('=') == std::string_view::npos || f.front() == '=') return Error{0, "field without name=value"};
        if (bar == std::string::npos) break;
        i = bar + 1;
    }
    return std::optional<UserDbEntry>(std::move(e));
}

std::map<std::string, std::string> userdb_fields(std::string_view fields) {
    std::map<std::string, std::string> out;
    size_t i = 0;
    while (i <= fields.size()) {
        size_t bar = fields.find('|', i);
        std::string_view f = fields.substr(i, bar == std::string_view::npos ? std::string_view::npos : bar - i);
        size_t eq = f.find('=');
        if (eq != std::string_view::npos) out.emplace(std::string(f.substr(0, eq)), std::string(f.substr(eq + 1)));
        if (bar == std::string_view::npos) break;
        i = bar + 1;
    }
    return out;
}

namespace {
// The text files of the source: the file itself, or a folder's files in name order
// (hidden files and editor backups "~" skipped, as Courier's makeuserdb does).
Result<std::vector<std::string>> source_files(const std::string& source) {
    struct stat st;
    if (::stat(source.c_str(), &st) < 0) return sys_error("cannot read " + source);
    if (!S_ISDIR(st.st_mode)) return std::vector<std::string>{source};
    DIR* d = ::opendir(source.c_str());
    if (!d) return sys_error("cannot read folder " + source);
    std::vector<std::string> names;
    while (struct dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n.empty() || n[0] == '.' || n.back() == '~') continue;
        names.push_back(source + "/" + n);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    return names;
}
}  // namespace

Status build_userdb(const std::string& source, const std::string& db_path, unsigned* count) {
    auto files = source_files(source);
    if (!files) return files.error();
    auto db = DbBuilder::create(db_path, 0600);
    if (!db) return db.error();
    *count = 0;
    for (const std::string& file : *files) {
        auto text = read_file(file, 64 << 20);
        if (!text) return text.error();
        size_t lineno = 0, pos = 0;
        while (pos < text->size()) {
            size_t nl = text->find('\n', pos);
            std::string_view line = std::string_view(*text).substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
            pos = nl == std::string::npos ? text->size() : nl + 1;
            ++lineno;
            auto entry = parse_userdb_line(line);
            if (!entry) return Error{0, file + ":" + std::to_string(lineno) + ": " + entry.error().text};
            if (!*entry) continue;
            if (Status s = db->put((*entry)->name, (*entry)->fields); !s) return s;
            ++*count;
        }
    }
    return db->commit();
}

Result<std::string> hash_password(const std::string& password) {
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    if (!crypt_gensalt_rn("$6$", 0, nullptr, 0, salt, sizeof salt)) return sys_error("crypt_gensalt");
    struct crypt_data data;
    std::memset(&data, 0, sizeof data);
    const char* h = crypt_r(password.c_str(), salt, &data);
    if (!h || h[0] == '*') return sys_error("crypt");
    return std::string(h);
}

bool check_crypt(const std::string& password, const std::string& hash) {
    if (hash.empty() || hash[0] == '*' || hash[0] == '!') return false;
    struct crypt_data data;
    std::memset(&data, 0, sizeof data);
    const char* h = crypt_r(password.c_str(), hash.c_str(), &data);
    return h && h[0] != '*' && constant_time_equal(h, hash);
}

Result<std::optional<std::map<std::string, std::string>>> UserDbBackend::lookup(const std::string& user) {
    auto db = DbReader::open(path_);
    if (!db) return db.error();
    auto v = db->get(user);
    if (!v) return std::optional<std::map<std::string, std::string>>();
    return std::optional<std::map<std::string, std::string>>(userdb_fields(*v));
}

AuthBackend::Verdict UserDbBackend::check_password(const std::string& user, const std::string& password) {
    auto entry = lookup(user);
    if (!entry) return Verdict::temporary_failure;
    if (!*entry) {
        // Same work for an unknown user, so timing does not tell which names exist.
        (void)check_crypt(password, "$6$saltsaltsaltsalt$invalidinvalidinvalidinvalidinvalidinvalidinvalidinvalidinvalidinvalidinvalidinvalidinvalid");
        return Verdict::bad;
    }
    auto it = (*entry)->find("systempw");
    if (it == (*entry)->end()) return Verdict::bad;
    return check_crypt(password, it->second) ? Verdict::ok : Verdict::bad;
}

std::optional<std::string> UserDbBackend::cram_secret(const std::string& user) {
    auto entry = lookup(user);
    if (!entry || !*entry) return std::nullopt;
    auto it = (*entry)->find("crammd5pw");
    if (it == (*entry)->end()) return std::nullopt;
    return base64_decode(it->second);
}

}  // namespace esmtp
