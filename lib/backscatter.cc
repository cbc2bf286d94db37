// The backscatter list; see backscatter.h.
#include "lib/backscatter.h"
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include "lib/paths.h"

std::string backscatter_db_path() { return paths().spool + "/backscatter.dat"; }

std::string backscatter_key(std::string_view address) {
    std::string key(address);
    auto at = key.rfind('@');
    if (at == std::string::npos) return key;
    for (size_t i = at + 1; i < key.size(); ++i)
        key[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(key[i])));
    return key;
}

std::vector<std::string> parse_backscatter_sources(const std::vector<std::string>& bofh_lines) {
    std::vector<std::string> out{"smtp"};
    const std::string_view opt = "opt BOFHSUPPRESSBACKSCATTER=";
    for (const auto& line : bofh_lines) {
        if (line.compare(0, opt.size(), opt) != 0) continue;
        out.clear();   // the last such line wins
        std::string_view v = std::string_view(line).substr(opt.size());
        while (!v.empty()) {
            auto comma = v.find(',');
            std::string item(v.substr(0, comma));
            item.erase(std::remove_if(item.begin(), item.end(),
                                      [](unsigned char c) { return std::isspace(c); }),
                       item.end());
            if (!item.empty() && item != "none") out.push_back(item);
            if (comma == std::string_view::npos) break;
            v.remove_prefix(comma + 1);
        }
    }
    return out;
}

std::vector<std::string> load_backscatter_sources(const ConfigDir& config) {
    return parse_backscatter_sources(config.list("bofh"));
}

bool suppress_backscatter_from(std::string_view source, const std::vector<std::string>& sources) {
    return std::find(sources.begin(), sources.end(), source) != sources.end();
}

namespace {

std::time_t parse_time(std::string_view v) {
    std::string s(v);
    char* end = nullptr;
    long long t = std::strtoll(s.c_str(), &end, 10);
    return end && *end == '\0' && !s.empty() ? static_cast<std::time_t>(t) : 0;
}

bool still_blocked(std::time_t failed_at, std::time_t now) {
    return failed_at + kBackscatterBlockSeconds > now;
}

}  // namespace

Status BackscatterList::add(std::string_view address, std::time_t now) {
    return store_.put(backscatter_key(address), std::to_string(now));
}

Status BackscatterList::remove(std::string_view address) {
    return store_.erase(backscatter_key(address));
}

Status BackscatterList::clear() { return store_.clear(); }

Result<bool> BackscatterList::blocked(std::string_view address, std::time_t now) const {
    auto v = store_.get(backscatter_key(address));
    if (!v) {
        if (v.error().sys_errno == ENOENT) return false;
        return v.error();
    }
    return v->has_value() && still_blocked(parse_time(**v), now);
}

Result<std::vector<std::pair<std::string, std::time_t>>> BackscatterList::list(std::time_t now) const {
    std::vector<std::pair<std::string, std::time_t>> out;
    Status s = store_.for_each([&](std::string_view k, std::string_view v) {
        std::time_t t = parse_time(v);
        if (still_blocked(t, now)) out.emplace_back(std::string(k), t);
        return true;
    });
    if (!s && s.error().sys_errno != ENOENT) return s.error();
    std::sort(out.begin(), out.end());
    return out;
}

Status BackscatterList::expire(std::time_t now) {
    std::vector<std::string> old;
    Status s = store_.for_each([&](std::string_view k, std::string_view v) {
        if (!still_blocked(parse_time(v), now)) old.emplace_back(k);
        return true;
    });
    if (!s) return s.error().sys_errno == ENOENT ? ok_status() : s;
    for (const auto& k : old)
        if (Status e = store_.erase(k); !e) return e;
    return ok_status();
}

std::string backscatter_source(std::string_view source, std::string_view auth_user) {
    if (source == "esmtp") return auth_user.empty() ? "smtp" : "authsmtp";
    return std::string(source);
}
