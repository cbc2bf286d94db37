// The backscatter list (courier(8), "courier clear"; bofh, BOFHSUPPRESSBACKSCATTER):
// addresses that recently failed permanently for mail from the listed sources. submit
// refuses new mail to such an address for two hours after the failure, or until a
// later delivery to it succeeds (courierd then removes it), or until `courier clear`.
// Kept in a Berkeley DB (DbStore) at spool/backscatter.dat so it survives restarts:
// key = the address (domain lower-cased), value = the failure time in decimal seconds.
// SECURITY: written by courierd (mail user) and by `courier clear` after it dropped to
// the mail user; read by submit. The file lives in the spool, readable by the mail
// user only.
#pragma once
#include <ctime>
#include <string>
#include <string_view>
#include <utility>
#include <vector>
#include "config/config.h"
#include "lib/bdb.h"
#include "lib/result.h"

// How long a failure blocks new mail to the address.
constexpr long kBackscatterBlockSeconds = 2 * 3600;

std::string backscatter_db_path();   // paths().spool + "/backscatter.dat"
// The key of an address: the domain part lower-cased, the local part kept.
std::string backscatter_key(std::string_view address);

// BOFHSUPPRESSBACKSCATTER from the bofh file ("opt BOFHSUPPRESSBACKSCATTER=smtp,...");
// default {"smtp"}; "none" gives an empty list.
std::vector<std::string> parse_backscatter_sources(const std::vector<std::string>& bofh_lines);
std::vector<std::string> load_backscatter_sources(const ConfigDir& config);
// True when failures of mail from `source` ("smtp", "authsmtp", "local", ...) block.
bool suppress_backscatter_from(std::string_view source, const std::vector<std::string>& sources);
// The BOFHSUPPRESSBACKSCATTER name of a message's source: esmtp mail is "smtp", or
// "authsmtp" when the client authenticated; other sources keep their own name.
std::string backscatter_source(std::string_view source, std::string_view auth_user);

class BackscatterList {
public:
    explicit BackscatterList(std::string path = backscatter_db_path()) : store_(std::move(path)) {}
    Status add(std::string_view address, std::time_t now);
    Status remove(std::string_view address);
    Status clear();
    // What submit calls for each recipient: true when mail to it must be refused now.
    // A missing database blocks nothing. Expired entries are not removed here.
    Result<bool> blocked(std::string_view address, std::time_t now) const;
    // The addresses blocked at `now`, with their failure time, sorted by address.
    Result<std::vector<std::pair<std::string, std::time_t>>> list(std::time_t now) const;
    // Removes the entries whose two hours have passed.
    Status expire(std::time_t now);

private:
    DbStore store_;
};
