// Where courieresmtp sends mail for a domain: esmtproutes (courier(8), "esmtproutes"),
// the MX list of RFC 5321 section 5.1 (preference order, random among equals,
// implicit MX, null MX of RFC 7505, our own host in the list), and the per-message
// outbound settings (ipout, ip6out, esmtphelo, timeouts, esmtpdelay).
#pragma once
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>
#include "config/config.h"
#include "esmtp/dane.h"
#include "lib/dns.h"

namespace outbound {

enum class Security { none, starttls, required, smtps };

// One esmtproutes line: "domain:relay[,port][/SECURITY=...][/DANE=OFF][/MTASTS=OFF]".
// /SECURITY=DANE requires DANE (RFC 7672) for every MX host; /DANE=OFF turns the
// automatic DANE check off for the domain, /MTASTS=OFF its MTA-STS policy (RFC 8461).
struct RouteEntry {
    std::string domain;          // "example.com", ".example.com", or "" (every domain)
    std::string relay;           // host name, "[ip]" literal, or "" (use DNS for the domain)
    unsigned port = 25;
    Security security = Security::none;
    DaneSetting dane = DaneSetting::automatic;
    bool mta_sts = true;
};

std::optional<RouteEntry> parse_route_line(std::string_view line, std::string* why = nullptr);
// The first entry that matches `domain` (case-insensitive), or nullopt: use DNS.
std::optional<RouteEntry> match_route(const std::vector<RouteEntry>& routes, std::string_view domain);
// esmtproutes of the config dir (re-read on every call: changes apply at once).
std::vector<RouteEntry> load_routes(const ConfigDir& cfg);

// One address to try, in order.
struct Target {
    std::string host;            // MX host name (or the literal)
    std::string address;         // IPv4 or IPv6 text
    unsigned port = 25;
    unsigned preference = 0;
    bool dnssec = false;         // MX and address records DNSSEC-validated (RFC 7672 2.2)
};

struct RoutePlan {
    enum class Kind { ok, tempfail, permfail } kind = Kind::ok;
    std::string error;           // SMTP-style reply when not ok
    std::vector<Target> targets;
    Security security = Security::none;
    DaneSetting dane = DaneSetting::automatic;
    bool mta_sts = true;
    std::string relay;           // route's relay name, "" when DNS for the domain
};

// Orders MX records: lowest preference first, shuffled among equal preferences;
// records at or above `own_preference` (our own host's, RFC 5321 5.1) dropped.
std::vector<dns::MxRecord> order_mx(std::vector<dns::MxRecord> mx, std::mt19937& rng,
                                    std::optional<unsigned> own_preference = std::nullopt);

// Lookups behind an interface so that routing rules can be tested without DNS.
class Lookup {
public:
    virtual ~Lookup() = default;
    virtual dns::Answer<dns::MxRecord> mx(std::string_view domain) = 0;
    virtual dns::Answer<std::string> a(std::string_view name) = 0;
    virtual dns::Answer<std::string> aaaa(std::string_view name) = 0;
    // True when the name or address is this host (me, or a local interface address).
    virtual bool is_self(std::string_view host, const std::vector<std::string>& addresses) = 0;
};

class DnsLookup : public Lookup {
public:
    explicit DnsLookup(std::string me) : me_(std::move(me)) {}
    dns::Answer<dns::MxRecord> mx(std::string_view d) override { return dns::resolver().mx(d); }
    dns::Answer<std::string> a(std::string_view n) override { return dns::resolver().a(n); }
    dns::Answer<std::string> aaaa(std::string_view n) override { return dns::resolver().aaaa(n); }
    bool is_self(std::string_view host, const std::vector<std::string>& addresses) override;
private:
    std::string me_;
};

// The complete plan for mail to `domain` given the route table.
RoutePlan plan_route(std::string_view domain, const std::vector<RouteEntry>& routes,
                     Lookup& lookup, std::mt19937& rng);
std::string describe_plan(const RoutePlan& p);   // for testmxlookup and logs

// Settings that may differ per message (the vhost of the envelope).
struct SourceSettings {
    std::string ipout;           // "" = let the system choose
    std::string ip6out;
    std::string helo;            // name for EHLO/HELO
};
// ipout/ip6out/esmtphelo with ConfigDir::file_for(vhost); an empty ipout.<vhost> file
// means the vhost address itself. esmtphelo "*" means the PTR name of the local
// address, resolved later (helo_star set).
SourceSettings source_settings(const ConfigDir& cfg, std::string_view vhost);

struct Timeouts {
    long command = 600, connect = 60, data = 600, helo = 300;
    long keepalive = 60, keepaliveping = 300, quit = 10;
};
Timeouts load_timeouts(const ConfigDir& cfg);
long load_esmtpdelay(const ConfigDir& cfg);          // seconds; default 300, 0 = off
unsigned load_max_sessions(const ConfigDir& cfg);    // esmtpmaxsessions, default 4

}  // namespace outbound
