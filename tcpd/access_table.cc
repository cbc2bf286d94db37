// couriertcpd's access file lookups (couriertcpd(1), "ACCESS FILE", -accesslocal).
// SECURITY: the database is written by the administrator (makesmtpaccess); keys come
// from the kernel's view of the connection or a validated PROXY header.
#include "tcpd/access_table.h"

#include "lib/log.h"
#include "tcpd/access_file.h"

namespace tcpd {
namespace {

std::optional<std::pair<std::string, AccessRule>> first_match(
    const AccessGet& get, const std::vector<std::string>& keys,
    const std::function<void(const std::string&)>& warn) {
    for (const auto& k : keys) {
        auto v = get(k);
        if (!v) continue;
        auto rule = parse_access_value(*v);
        if (!rule) {
            warn("access file record " + k + ": " + rule.error().text);
            continue;
        }
        return std::make_pair(k, std::move(*rule));
    }
    return std::nullopt;
}

}  // namespace

AccessDecision decide_access(const AccessGet& get, std::string_view remote_ip,
                             bool access_local, std::string_view local_ip, unsigned local_port,
                             const std::function<void(const std::string&)>& warn) {
    AccessDecision d;
    if (auto m = first_match(get, access_keys(remote_ip), warn)) {
        d.matched = m->first;
        d.allow = m->second.allow;
        d.variables = m->second.variables;
        d.max_per_ip = m->second.max_per_ip();
    }
    if (!d.allow || !access_local) return d;
    if (auto m = first_match(get, access_local_keys(local_ip, local_port), warn)) {
        if (!m->second.allow) {
            d.allow = false;
            d.matched = m->first;
            return d;
        }
        for (auto& v : m->second.variables) d.variables.push_back(v);
        if (!d.max_per_ip) d.max_per_ip = m->second.max_per_ip();
    }
    return d;
}

void AccessTable::reload() {
    if (path_.empty()) return;
    auto db = DbReader::open(path_);
    if (!db) {
        log_error("access file " + path_ + " unavailable (" + db.error().text +
                  (db_ ? "); keeping the one in use" : "); accepting connections without it"));
        reported_missing_ = true;
        next_retry_ = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        return;
    }
    if (db_ || reported_missing_) log_info("access file " + path_ + " loaded");
    db_ = std::move(*db);
    reported_missing_ = false;
}

AccessDecision AccessTable::check(std::string_view remote_ip, std::string_view local_ip,
                                  unsigned local_port) {
    if (path_.empty()) return AccessDecision{};
    // makesmtpaccess renames a new database into place: pick it up at the next
    // connection, without waiting for a -restart.
    // A missing or broken file is retried (and logged) at most every few seconds.
    if ((!db_ || db_->changed()) && std::chrono::steady_clock::now() >= next_retry_) {
        reload();
    }
    if (!db_) return AccessDecision{};
    return decide_access([this](const std::string& k) { return db_->get(k); }, remote_ip,
                         access_local_, local_ip, local_port,
                         [](const std::string& w) { log_warning(w); });
}

}  // namespace tcpd
