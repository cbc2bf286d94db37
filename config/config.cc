// Reading /etc/courier-style configuration files (courier(8), CONFIGURATION FILES).
#include "config/config.h"
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <dirent.h>
#include <idn2.h>
#include <netdb.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lib/address.h"
#include "lib/fileio.h"

namespace {
constexpr size_t kMaxConfigFile = 64 * 1024 * 1024;

std::string trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return std::string(s);
}


bool is_dir(const std::string& p) {
    struct stat st;
    return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
}  // namespace

ConfigDir::ConfigDir(std::string dir) : dir_(std::move(dir)) {}

bool ConfigDir::exists(std::string_view name) const { return path_exists(path(name)); }

std::string ConfigDir::file_for(std::string_view name, std::string_view vhost) const {
    if (!vhost.empty()) {
        std::string specific = std::string(name) + "." + std::string(vhost);
        // A vhost key never contains '/', so it cannot name a file elsewhere.
        if (specific.find('/') == std::string::npos && exists(specific)) return specific;
    }
    return std::string(name);
}

std::optional<std::string> ConfigDir::first_line(std::string_view name, std::string_view vhost) const {
    auto text = read_file(path(file_for(name, vhost)), kMaxConfigFile);
    if (!text) return std::nullopt;
    std::string_view t = *text;
    return trim(t.substr(0, t.find('\n')));
}

void append_config_lines(std::string_view text, const std::string& label, std::vector<ConfigLine>& out) {
    size_t pos = 0;
    int lineno = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        ++lineno;
        std::string line = trim(text.substr(pos, nl == text.npos ? text.npos : nl - pos));
        if (!line.empty() && line[0] != '#') out.push_back({std::move(line), label + ":" + std::to_string(lineno)});
        if (nl == text.npos) break;
        pos = nl + 1;
    }
}

std::vector<ConfigLine> split_config_lines(std::string_view text, const std::string& label) {
    std::vector<ConfigLine> out;
    append_config_lines(text, label, out);
    return out;
}

std::vector<ConfigLine> read_config_lines(const std::string& p, const std::string& label) {
    std::vector<ConfigLine> out;
    std::string name = label.empty() ? p.substr(p.rfind('/') + 1) : label;
    if (is_dir(p)) {
        for (const auto& f : directory_names(p)) {
            if (f.back() == '~') continue;   // an editor's backup
            if (auto text = read_file(p + "/" + f, kMaxConfigFile)) append_config_lines(*text, name + "/" + f, out);
        }
        return out;
    }
    if (auto text = read_file(p, kMaxConfigFile)) append_config_lines(*text, name, out);
    return out;
}

std::vector<ConfigLine> ConfigDir::lines(std::string_view name, std::string_view vhost) const {
    std::string f = file_for(name, vhost);
    return read_config_lines(path(f), f);
}

std::vector<std::string> ConfigDir::list(std::string_view name, std::string_view vhost) const {
    std::vector<std::string> out;
    for (auto& l : lines(name, vhost)) out.push_back(std::move(l.text));
    return out;
}

std::string ConfigDir::me(std::string_view vhost) const {
    if (auto m = first_line("me", vhost); m && !m->empty())
        return lowercase_ascii(m->find('*') == std::string::npos ? *m
                                                                 : expand_hostname_entry(*m, system_hostname()));
    return system_hostname();
}

std::string ConfigDir::default_domain(std::string_view vhost) const {
    if (auto d = first_line("defaultdomain", vhost); d && !d->empty()) return lowercase_ascii(*d);
    return me(vhost);
}

std::vector<std::string> ConfigDir::locals(std::string_view vhost) const {
    std::string f = file_for("locals", vhost);
    if (!exists(f)) return {me(vhost)};
    std::vector<std::string> out = list(f);
    for (auto& entry : out)
        if (entry.find('*') != std::string::npos) entry = expand_hostname_entry(entry, system_hostname());
    return out;
}

bool ConfigDir::is_local_domain(std::string_view domain, std::string_view vhost) const {
    return domain_in_list(domain, locals(vhost));
}

int domain_list_match(std::string_view domain, const std::vector<std::string>& list) {
    std::string d = normalize_domain(domain);
    if (d.empty()) return -1;
    for (size_t i = 0; i < list.size(); ++i) {
        std::string_view entry = list[i];
        bool negate = !entry.empty() && entry[0] == '!';
        if (negate) entry.remove_prefix(1);
        bool wildcard = !entry.empty() && entry[0] == '.';
        if (wildcard) entry.remove_prefix(1);
        std::string e = normalize_domain(entry);
        if (e.empty()) continue;
        bool match = wildcard ? d.size() > e.size() + 1 && d.compare(d.size() - e.size(), e.size(), e) == 0 &&
                                    d[d.size() - e.size() - 1] == '.'
                              : d == e;
        if (match) return int(i);
    }
    return -1;
}

bool domain_in_list(std::string_view domain, const std::vector<std::string>& list) {
    int i = domain_list_match(domain, list);
    return i >= 0 && list[size_t(i)].front() != '!';
}

std::string normalize_domain(std::string_view domain) {
    std::string d(domain);
    while (!d.empty() && d.back() == '.') d.pop_back();
    if (d.empty() || d.front() == '[') return lowercase_ascii(d);
    bool ascii = std::all_of(d.begin(), d.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
    std::string lower = lowercase_ascii(d);
    if (ascii && lower.find("xn--") == std::string::npos) return lower;
    // UTS #46 mapping (case folding, NFC) to A-labels, then back to U-labels: every
    // spelling of one name meets in the same UTF-8 string.
    char* alabels = nullptr;
    if (idn2_lookup_u8(reinterpret_cast<const uint8_t*>(lower.c_str()), reinterpret_cast<uint8_t**>(&alabels),
                       IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL) != IDN2_OK)
        return lower;
    char* ulabels = nullptr;
    int rc = idn2_to_unicode_8z8z(alabels, &ulabels, 0);
    idn2_free(alabels);
    if (rc != IDN2_OK) return lower;
    std::string out = ulabels;
    idn2_free(ulabels);
    return out;
}

std::string expand_hostname_entry(std::string_view entry, std::string_view hostname) {
    std::string prefix;
    while (!entry.empty() && (entry.front() == '!' || entry.front() == '.') && prefix.size() < 2) {
        prefix += entry.front();
        entry.remove_prefix(1);
    }
    if (entry == "*") return prefix + std::string(hostname);
    if (entry.size() > 2 && entry.substr(0, 2) == "*.")
        return prefix + std::string(hostname.substr(0, hostname.find('.'))) + std::string(entry.substr(1));
    return prefix + std::string(entry);
}

std::vector<std::string> split_words(std::string_view line) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
        size_t start = i;
        while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i]))) ++i;
        if (i > start) out.emplace_back(line.substr(start, i - start));
    }
    return out;
}

std::optional<long> parse_interval(std::string_view text) {
    std::string t = trim(text);
    if (t.empty()) return std::nullopt;
    long total = 0;
    size_t i = 0;
    while (i < t.size()) {
        if (!std::isdigit(static_cast<unsigned char>(t[i]))) return std::nullopt;
        long n = 0;
        while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]))) {
            if (n > (LONG_MAX - 9) / 10) return std::nullopt;
            n = n * 10 + (t[i] - '0');
            ++i;
        }
        while (i < t.size() && t[i] == ' ') ++i;
        long unit = 1;
        if (i < t.size() && std::isalpha(static_cast<unsigned char>(t[i]))) {
            switch (std::tolower(static_cast<unsigned char>(t[i]))) {
            case 's': unit = 1; break;
            case 'm': unit = 60; break;
            case 'h': unit = 3600; break;
            case 'd': unit = 86400; break;
            case 'w': unit = 7 * 86400; break;
            default: return std::nullopt;
            }
            ++i;
        } else if (i < t.size()) {
            return std::nullopt;
        }
        if (n > LONG_MAX / unit || total > LONG_MAX - n * unit) return std::nullopt;
        total += n * unit;
        while (i < t.size() && t[i] == ' ') ++i;
    }
    return total;
}

static bool valid_name(std::string_view n) {
    if (n.empty() || std::isdigit(static_cast<unsigned char>(n[0]))) return false;
    return std::all_of(n.begin(), n.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
    });
}

// One value: unquoted (up to a '#' comment), or '...' / "..." with \" and \\ escapes.
static std::optional<std::string> parse_value(std::string_view v) {
    std::string out;
    size_t i = 0;
    while (i < v.size()) {
        char c = v[i];
        if (c == '\'') {
            size_t end = v.find('\'', i + 1);
            if (end == v.npos) return std::nullopt;
            out.append(v.substr(i + 1, end - i - 1));
            i = end + 1;
        } else if (c == '"') {
            ++i;
            while (i < v.size() && v[i] != '"') {
                if (v[i] == '\\' && i + 1 < v.size()) ++i;
                out += v[i++];
            }
            if (i >= v.size()) return std::nullopt;
            ++i;
        } else if (c == '#' && (i == 0 || std::isspace(static_cast<unsigned char>(v[i - 1])))) {
            break;
        } else if (std::isspace(static_cast<unsigned char>(c))) {
            // Unquoted white space ends the value, as in the shell; a comment may follow.
            std::string rest = trim(v.substr(i));
            if (!rest.empty() && rest[0] != '#') return std::nullopt;
            break;
        } else {
            out += c;
            ++i;
        }
    }
    return out;
}

Settings Settings::parse(std::string_view text, std::vector<std::string>* errors, const std::string& origin) {
    Settings s;
    size_t pos = 0;
    int lineno = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        std::string line = trim(text.substr(pos, nl == text.npos ? text.npos : nl - pos));
        pos = nl == text.npos ? text.size() : nl + 1;
        ++lineno;
        if (line.empty() || line[0] == '#') continue;
        if (line.rfind("export ", 0) == 0) line = trim(line.substr(7));
        size_t eq = line.find('=');
        std::optional<std::string> value;
        if (eq != std::string::npos && valid_name(line.substr(0, eq))) value = parse_value(line.substr(eq + 1));
        if (!value) {
            if (errors) errors->push_back(origin + ":" + std::to_string(lineno) + ": not a NAME=value line");
            continue;
        }
        s.values_[line.substr(0, eq)] = *value;
    }
    return s;
}

Result<Settings> Settings::load(const std::string& path) {
    auto text = read_file(path, kMaxConfigFile);
    if (!text) return text.error();
    std::vector<std::string> errors;
    Settings s = parse(*text, &errors, path);
    if (!errors.empty()) {
        std::string all;
        for (const auto& e : errors) all += (all.empty() ? "" : "\n") + e;
        return Error{EINVAL, all};
    }
    return s;
}

std::optional<std::string> Settings::get(std::string_view name) const {
    auto it = values_.find(name);
    if (it == values_.end()) return std::nullopt;
    return it->second;
}

std::string Settings::get_or(std::string_view name, std::string fallback) const {
    auto v = get(name);
    return v ? *v : fallback;
}

long Settings::get_long(std::string_view name, long fallback) const {
    auto v = get(name);
    if (!v || v->empty()) return fallback;
    char* end = nullptr;
    errno = 0;
    long n = std::strtol(v->c_str(), &end, 10);
    if (errno != 0 || *end != '\0') return fallback;
    return n;
}

std::string system_hostname() {
    char buf[256] = {0};
    if (::gethostname(buf, sizeof buf - 1) < 0 || !buf[0]) return "localhost";
    std::string name = buf;
    if (name.find('.') == std::string::npos) {
        struct addrinfo hints = {};
        hints.ai_flags = AI_CANONNAME;
        struct addrinfo* res = nullptr;
        if (::getaddrinfo(buf, nullptr, &hints, &res) == 0 && res) {
            if (res->ai_canonname && std::string(res->ai_canonname).find('.') != std::string::npos)
                name = res->ai_canonname;
            ::freeaddrinfo(res);
        }
    }
    return lowercase_ascii(name);
}
