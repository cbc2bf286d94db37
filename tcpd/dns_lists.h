// couriertcpd(1) "DNS ACCESS LISTS": the -block and -allow options, the query each one
// makes, the order and skip-if-set rule over several lists, the variables a hit sets
// (var, var_IP, var_TXT, var_ZONE), the -drop rule, and reverse DNS with forward
// confirmation for TCPREMOTEHOST/TCPLOCALHOST. The DNS itself is behind two small
// function types, so every rule is unit-tested without a server.
#pragma once
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>
#include "lib/dns.h"
#include "lib/result.h"

namespace tcpd {

struct DnsList {
    bool allow = false;            // -allow (whitelist) or -block
    std::string zone;              // where the query goes
    std::string display_zone;      // for var_ZONE; the zone unless =display_zone given
    std::string var = "BLOCK";
    std::optional<std::string> match_ip;   // /n.n.n.n: only this A record counts
    std::optional<std::string> message;    // ",msg" (-allow: given, even empty => TXT too)

    bool wants_a() const;          // an A query is made
    bool wants_txt() const;        // a TXT query is made
};

// The value of -block= or -allow=.
Result<DnsList> parse_dns_list(std::string_view value, bool allow);

// The name queried for an address in a zone: "4.3.2.1.zone", IPv6 as 32 nibbles.
std::optional<std::string> dns_list_query(std::string_view ip, std::string_view zone);

// The lookups a DNS list needs (A and TXT of one name).
struct DnsListResolver {
    std::function<dns::Answer<std::string>(const std::string&)> a, txt;
};

// The variables the lists set for a connection from ip, in option order. `set` holds
// the variables already in the environment (from the access file, the inherited
// environment or an earlier list): a list whose var is among them is skipped.
// Temporary DNS failures are reported through `warn` and count as no listing.
using EnvVars = std::vector<std::pair<std::string, std::string>>;
EnvVars evaluate_dns_lists(const std::vector<DnsList>& lists, std::string_view ip,
                           std::map<std::string, std::string> set, const DnsListResolver& r,
                           const std::function<void(const std::string&)>& warn);

// -block's message when none is given and the list has no TXT record.
std::string default_block_message(std::string_view ip, std::string_view display_zone);

// -drop: the comma-separated variable names (BLOCK when empty).
std::vector<std::string> parse_drop_list(std::string_view value);
// The first of `names` whose value in `env` is non-empty.
std::optional<std::string> drop_variable(const std::vector<std::string>& names,
                                         const std::map<std::string, std::string>& env);

// TCPREMOTEHOST / TCPLOCALHOST for ip: the PTR name when one of its A/AAAA records
// is ip again; "softdnserr" on a temporary failure or a mismatch; nullopt when the
// address has no PTR record.
struct ReverseResolver {
    std::function<dns::Answer<std::string>(const std::string&)> ptr, a, aaaa;
};
std::optional<std::string> confirmed_host_name(std::string_view ip, const ReverseResolver& r);

}  // namespace tcpd
