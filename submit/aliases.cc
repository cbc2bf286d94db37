// Aliases: parsing the text form, complete expansion with loop detection, and the
// aliases.dat lookup. Format: aliases(5).
#include "submit/aliases.h"
#include <dirent.h>
#include <sys/stat.h>
#include <algorithm>
#include <set>
#include "lib/address.h"
#include "lib/fileio.h"

namespace submit {

namespace {

constexpr size_t kMaxFile = 16 * 1024 * 1024;
constexpr size_t kMaxDepth = 100;

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

struct Entry {
    std::string where;                 // "file:line" of its first definition
    std::vector<std::string> targets;  // normalized addresses, includes already read
};

// A target address in its stored form: "user" for an unqualified one, else local@domain.
std::optional<std::string> normalize_target(std::string_view text, std::string* why) {
    text = trim(text);
    if (text.size() >= 2 && text.front() == '<' && text.back() == '>') text = text.substr(1, text.size() - 2);
    if (text.empty()) {
        *why = "empty address";
        return std::nullopt;
    }
    if (text.front() == '|' || text.front() == '/') {
        *why = "\"" + std::string(text) + "\": program and file deliveries belong in .courier files";
        return std::nullopt;
    }
    auto m = parse_mailbox(text, why);
    if (!m || m->local.empty()) {
        if (why->empty()) *why = "bad address \"" + std::string(text) + "\"";
        return std::nullopt;
    }
    return m->domain.empty() ? m->str().substr(0, m->str().find('@')) : m->str();
}

class Compiler {
public:
    Compiler(const IncludeReader& include, const IsLocalDomain& is_local)
        : include_(include), is_local_(is_local) {}

    void parse_file(const AliasFile& f);
    CompiledAliases finish();

private:
    void parse_entry(const std::string& where, std::string_view text);
    void add_targets(const std::string& where, std::string_view list, Entry& e, bool in_include);
    void expand(const std::string& key, std::vector<std::string>& stack,
                std::vector<std::string>& out, std::set<std::string>& seen);

    const IncludeReader& include_;
    const IsLocalDomain& is_local_;
    std::map<std::string, Entry> entries_;
    std::vector<std::string> errors_, warnings_;
    std::set<std::string> loop_errors_;
};

void Compiler::parse_file(const AliasFile& f) {
    std::string pending, pending_where;
    auto flush = [&] {
        if (!pending.empty()) parse_entry(pending_where, pending);
        pending.clear();
    };
    size_t lineno = 0, pos = 0;
    std::string_view text = f.text;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        std::string_view line = text.substr(pos, nl == text.npos ? text.npos : nl - pos);
        pos = nl == text.npos ? text.size() : nl + 1;
        ++lineno;
        std::string_view t = trim(line);
        if (t.empty() || t.front() == '#') continue;
        // A line that starts with white space continues the entry above it.
        if (line.front() == ' ' || line.front() == '\t') {
            if (pending.empty()) {
                errors_.push_back(f.origin + ":" + std::to_string(lineno) +
                                  ": continuation line without an alias");
                continue;
            }
            pending += ' ';
            pending += t;
            continue;
        }
        flush();
        pending = t;
        pending_where = f.origin + ":" + std::to_string(lineno);
    }
    flush();
}

void Compiler::parse_entry(const std::string& where, std::string_view text) {
    size_t colon = text.find(':');
    if (colon == text.npos) {
        errors_.push_back(where + ": expected \"name: address, ...\"");
        return;
    }
    std::string_view name = trim(text.substr(0, colon));
    std::string key = alias_key(name, is_local_);
    if (name.empty() || name.find_first_of(" \t") != name.npos || key.empty()) {
        errors_.push_back(where + ": bad alias name \"" + std::string(name) + "\"");
        return;
    }
    Entry& e = entries_[key];
    if (e.where.empty()) e.where = where;   // a repeated name adds to the same alias
    add_targets(where, text.substr(colon + 1), e, false);
}

void Compiler::add_targets(const std::string& where, std::string_view list, Entry& e,
                           bool in_include) {
    size_t pos = 0;
    while (pos <= list.size()) {
        size_t comma = list.find(',', pos);
        std::string_view item = trim(list.substr(pos, comma == list.npos ? list.npos : comma - pos));
        pos = comma == list.npos ? list.size() + 1 : comma + 1;
        if (item.empty()) continue;
        if (item.starts_with(":include:")) {
            std::string path(trim(item.substr(9)));
            if (in_include) {
                errors_.push_back(where + ": :include: inside an included file");
            } else if (path.empty() || path.front() != '/') {
                errors_.push_back(where + ": :include: needs an absolute path");
            } else {
                std::string why;
                auto content = include_(path, &why);
                if (!content) {
                    errors_.push_back(where + ": " + path + ": " + why);
                    continue;
                }
                // An include file holds addresses, one or more per line; '#' comments.
                std::string joined;
                size_t p = 0;
                while (p < content->size()) {
                    size_t nl = content->find('\n', p);
                    std::string_view line = trim(std::string_view(*content).substr(
                        p, nl == std::string::npos ? std::string::npos : nl - p));
                    p = nl == std::string::npos ? content->size() : nl + 1;
                    if (line.empty() || line.front() == '#') continue;
                    joined += std::string(line) + ",";
                }
                add_targets(where + " (" + path + ")", joined, e, true);
            }
            continue;
        }
        std::string why;
        auto t = normalize_target(item, &why);
        if (!t) {
            errors_.push_back(where + ": " + why);
            continue;
        }
        e.targets.push_back(std::move(*t));
    }
}

void Compiler::expand(const std::string& key, std::vector<std::string>& stack,
                      std::vector<std::string>& out, std::set<std::string>& seen) {
    stack.push_back(key);
    for (const std::string& t : entries_[key].targets) {
        std::string tk = alias_key(t, is_local_);
        bool alias = entries_.count(tk) > 0;
        // "root: root, backup": an alias naming itself means the mailbox of that name.
        if (alias && tk == key) alias = false;
        if (alias && std::find(stack.begin(), stack.end(), tk) != stack.end()) {
            std::string cycle;
            auto it = std::find(stack.begin(), stack.end(), tk);
            for (; it != stack.end(); ++it) cycle += *it + " -> ";
            cycle += tk;
            // Report each loop once, at the alias where it starts.
            std::set<std::string> members(std::find(stack.begin(), stack.end(), tk), stack.end());
            std::string id;
            for (const auto& m : members) id += m + "\n";
            if (loop_errors_.insert(id).second)
                errors_.push_back(entries_[tk].where + ": alias loop: " + cycle);
            continue;
        }
        if (alias && stack.size() < kMaxDepth) {
            expand(tk, stack, out, seen);
            continue;
        }
        if (seen.insert(tk).second) out.push_back(t);
    }
    stack.pop_back();
}

CompiledAliases Compiler::finish() {
    CompiledAliases out;
    for (auto& [key, e] : entries_) {
        std::vector<std::string> stack, rcpts;
        std::set<std::string> seen;
        expand(key, stack, rcpts, seen);
        if (rcpts.empty())
            warnings_.push_back(e.where + ": alias \"" + key + "\" has no recipients, not built");
        else
            out.table[key] = std::move(rcpts);
    }
    out.errors = std::move(errors_);
    out.warnings = std::move(warnings_);
    return out;
}

}  // namespace

std::string alias_key(std::string_view address, const IsLocalDomain& is_local) {
    std::string why;
    auto m = parse_mailbox(trim(address), &why);
    if (!m || m->local.empty()) return "";
    std::string local = lowercase_ascii(m->local);
    if (m->domain.empty() || (is_local && is_local(m->domain))) return local;
    return local + "@" + lowercase_ascii(m->domain);
}

CompiledAliases compile_aliases(const std::vector<AliasFile>& files, const IncludeReader& include,
                                const IsLocalDomain& is_local) {
    Compiler c(include, is_local);
    for (const auto& f : files) c.parse_file(f);
    return c.finish();
}

std::string encode_alias_value(const std::vector<std::string>& rcpts) {
    std::string out;
    for (const auto& r : rcpts) {
        if (!out.empty()) out += '\n';
        out += r;
    }
    return out;
}

std::vector<std::string> decode_alias_value(std::string_view value) {
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos < value.size()) {
        size_t nl = value.find('\n', pos);
        std::string_view item = value.substr(pos, nl == value.npos ? value.npos : nl - pos);
        pos = nl == value.npos ? value.size() : nl + 1;
        if (!item.empty()) out.emplace_back(item);
    }
    return out;
}

Result<std::vector<AliasFile>> read_alias_sources(const std::string& path) {
    std::vector<AliasFile> out;
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) return out;
        return sys_error(path);
    }
    std::vector<std::string> names;
    if (S_ISDIR(st.st_mode)) {
        DIR* d = ::opendir(path.c_str());
        if (!d) return sys_error(path);
        while (struct dirent* e = ::readdir(d)) {
            std::string n = e->d_name;
            if (n.empty() || n[0] == '.' || n.back() == '~') continue;
            names.push_back(path + "/" + n);
        }
        ::closedir(d);
        std::sort(names.begin(), names.end());
    } else {
        names.push_back(path);
    }
    for (const auto& n : names) {
        auto text = read_file(n, kMaxFile);
        if (!text) return text.error();
        out.push_back(AliasFile{n, std::move(*text)});
    }
    return out;
}

std::optional<std::vector<std::string>> AliasTable::lookup(const std::string& key) {
    if (!tried_) {
        tried_ = true;
        if (path_exists(path_)) {
            auto db = DbReader::open(path_);
            if (db) db_.emplace(std::move(*db));
        }
    }
    if (!db_ || key.empty()) return std::nullopt;
    auto v = db_->get(key);
    if (!v) return std::nullopt;
    auto rcpts = decode_alias_value(*v);
    if (rcpts.empty()) return std::nullopt;
    return rcpts;
}

}  // namespace submit
