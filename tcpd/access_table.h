// The access file as couriertcpd uses it (-access, -accesslocal): the compiled
// database (makesmtpaccess), reopened when makesmtpaccess replaced it or on -restart,
// and the decision for one connection. A missing or unreadable database is logged
// and the connection accepted without variables, as if there were no -access option.
#pragma once
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>
#include "lib/bdb.h"

namespace tcpd {

struct AccessDecision {
    bool allow = true;
    std::vector<std::pair<std::string, std::string>> variables;   // to export, in order
    std::optional<unsigned> max_per_ip;                           // MAXCPERIP
    std::string matched;                                          // the key that decided
};

using AccessGet = std::function<std::optional<std::string>(const std::string& key)>;

// The rule: the most specific key of the remote address decides; with -accesslocal the
// first of "ip.port", "ip", "*.port" of the local end may deny too, and its variables
// come after the remote entry's. A record that does not parse is reported through
// `warn` and skipped.
AccessDecision decide_access(const AccessGet& get, std::string_view remote_ip,
                             bool access_local, std::string_view local_ip, unsigned local_port,
                             const std::function<void(const std::string&)>& warn);

class AccessTable {
public:
    AccessTable(std::string path, bool access_local)
        : path_(std::move(path)), access_local_(access_local) {}
    bool configured() const { return !path_.empty(); }
    // Opens the database again (-restart, or the file was replaced). On failure the
    // database already open, if any, stays in use.
    void reload();
    AccessDecision check(std::string_view remote_ip, std::string_view local_ip,
                         unsigned local_port);

private:
    std::string path_;
    bool access_local_ = false;
    std::optional<DbReader> db_;
    bool reported_missing_ = false;
    std::chrono::steady_clock::time_point next_retry_{};
};

}  // namespace tcpd
