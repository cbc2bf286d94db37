// esmtproutes, MX ordering and per-message outbound settings: see outbound_route.h.
#include "esmtp/outbound_route.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <algorithm>
#include "lib/address.h"

namespace outbound {

namespace {
std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

bool iequals(std::string_view a, std::string_view b) {
    return lowercase_ascii(a) == lowercase_ascii(b);
}

std::string strip_dot(std::string_view d) {
    std::string s = lowercase_ascii(d);
    while (!s.empty() && s.back() == '.') s.pop_back();
    return s;
}

bool is_ip(std::string_view s) {
    std::string t(s);
    unsigned char buf[16];
    return inet_pton(AF_INET, t.c_str(), buf) == 1 || inet_pton(AF_INET6, t.c_str(), buf) == 1;
}
}  // namespace

std::optional<RouteEntry> parse_route_line(std::string_view line, std::string* why) {
    auto fail = [&](const char* w) -> std::optional<RouteEntry> {
        if (why) *why = w;
        return std::nullopt;
    };
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return fail("missing ':'");
    RouteEntry e;
    e.domain = strip_dot(trim(line.substr(0, colon)));
    std::string_view rest = line.substr(colon + 1);
    // Flags: "/SECURITY=..." anywhere after the relay (spaces allowed before '/').
    size_t slash = rest.find('/');
    std::string_view flags = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
    rest = trim(rest.substr(0, slash == std::string_view::npos ? rest.size() : slash));
    while (!flags.empty()) {
        flags.remove_prefix(1);   // the '/'
        size_t next = flags.find('/');
        std::string flag = lowercase_ascii(trim(flags.substr(0, next)));
        flags = next == std::string_view::npos ? std::string_view() : flags.substr(next);
        if (flag == "security=starttls") e.security = Security::starttls;
        else if (flag == "security=required") e.security = Security::required;
        else if (flag == "security=smtps") e.security = Security::smtps;
        else if (flag == "security=none") e.security = Security::none;
        else if (flag == "security=dane") e.dane = DaneSetting::required;
        else if (flag == "dane=off" || flag == "dane=no") e.dane = DaneSetting::off;
        else if (flag == "mtasts=off" || flag == "mtasts=no") e.mta_sts = false;
        else return fail("unknown flag");
    }
    // ",port" after the relay; a literal "[ipv6]" holds ':' but never ','.
    if (size_t comma = rest.rfind(','); comma != std::string_view::npos) {
        std::string_view p = trim(rest.substr(comma + 1));
        if (p.empty() || p.size() > 5 || !std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; }))
            return fail("bad port");
        unsigned long port = std::stoul(std::string(p));
        if (port == 0 || port > 65535) return fail("bad port");
        e.port = static_cast<unsigned>(port);
        rest = trim(rest.substr(0, comma));
    }
    if (!rest.empty() && rest.front() == '[') {
        if (rest.back() != ']') return fail("bad address literal");
        std::string_view ip = rest.substr(1, rest.size() - 2);
        if (ip.substr(0, 5) == "IPv6:" || ip.substr(0, 5) == "ipv6:") ip.remove_prefix(5);
        if (!is_ip(ip)) return fail("bad address literal");
        e.relay = "[" + std::string(ip) + "]";
    } else {
        e.relay = strip_dot(rest);
        if (!e.relay.empty() && !is_valid_domain(e.relay)) return fail("bad relay name");
    }
    return e;
}

std::optional<RouteEntry> match_route(const std::vector<RouteEntry>& routes, std::string_view domain) {
    std::string d = strip_dot(domain);
    for (const auto& r : routes) {
        if (r.domain.empty()) return r;
        if (r.domain[0] == '.') {
            if (d.size() > r.domain.size() && d.compare(d.size() - r.domain.size(), r.domain.size(), r.domain) == 0)
                return r;
        } else if (d == r.domain) {
            return r;
        }
    }
    return std::nullopt;
}

std::vector<RouteEntry> load_routes(const ConfigDir& cfg) {
    std::vector<RouteEntry> out;
    for (const auto& line : cfg.list("esmtproutes")) {
        if (auto e = parse_route_line(line)) out.push_back(*e);
    }
    return out;
}

std::vector<dns::MxRecord> order_mx(std::vector<dns::MxRecord> mx, std::mt19937& rng,
                                    std::optional<unsigned> own_preference) {
    if (own_preference) {
        std::erase_if(mx, [&](const dns::MxRecord& r) { return r.preference >= *own_preference; });
    }
    std::shuffle(mx.begin(), mx.end(), rng);
    std::stable_sort(mx.begin(), mx.end(),
                     [](const dns::MxRecord& a, const dns::MxRecord& b) { return a.preference < b.preference; });
    return mx;
}

bool DnsLookup::is_self(std::string_view host, const std::vector<std::string>& addresses) {
    if (iequals(strip_dot(host), me_)) return true;
    struct ifaddrs* ifa = nullptr;
    if (getifaddrs(&ifa) != 0) return false;
    bool found = false;
    for (auto* p = ifa; p && !found; p = p->ifa_next) {
        if (!p->ifa_addr) continue;
        char buf[INET6_ADDRSTRLEN] = "";
        if (p->ifa_addr->sa_family == AF_INET)
            inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(p->ifa_addr)->sin_addr, buf, sizeof buf);
        else if (p->ifa_addr->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(p->ifa_addr)->sin6_addr, buf, sizeof buf);
        else
            continue;
        found = std::find(addresses.begin(), addresses.end(), buf) != addresses.end();
    }
    freeifaddrs(ifa);
    return found;
}

namespace {
// Addresses of one host: AAAA then A. A temporary failure of either is reported
// unless the other gave addresses. *secure: every answer that gave addresses was
// DNSSEC-validated (RFC 7672 2.2.2).
dns::Outcome host_addresses(Lookup& lookup, const std::string& host, std::vector<std::string>* out,
                            std::string* error, bool* secure) {
    auto six = lookup.aaaa(host);
    auto four = lookup.a(host);
    for (auto& a : six.records) out->push_back(a);
    for (auto& a : four.records) out->push_back(a);
    *secure = (six.records.empty() || six.secure) && (four.records.empty() || four.secure);
    if (!out->empty()) return dns::Outcome::ok;
    if (six.outcome == dns::Outcome::tempfail || four.outcome == dns::Outcome::tempfail) {
        *error = four.error.empty() ? six.error : four.error;
        return dns::Outcome::tempfail;
    }
    if (four.outcome == dns::Outcome::nxdomain) return dns::Outcome::nxdomain;
    return dns::Outcome::nodata;
}

RoutePlan fail(RoutePlan::Kind kind, std::string text) {
    RoutePlan p;
    p.kind = kind;
    p.error = std::move(text);
    return p;
}

// The MX route for a name (a domain, or a relay named in esmtproutes).
RoutePlan plan_mx(const std::string& name, unsigned port, Lookup& lookup, std::mt19937& rng) {
    auto mx = lookup.mx(name);
    std::vector<dns::MxRecord> records;
    if (mx.outcome == dns::Outcome::tempfail)
        return fail(RoutePlan::Kind::tempfail, "451 4.4.3 DNS lookup of " + name + " failed: " + mx.error);
    if (mx.outcome == dns::Outcome::nxdomain)
        return fail(RoutePlan::Kind::permfail, "550 5.1.2 domain " + name + " does not exist");
    if (mx.outcome == dns::Outcome::ok) {
        // RFC 7505: a single MX "." of any preference says the domain takes no mail.
        if (mx.records.size() == 1 && mx.records[0].host.empty())
            return fail(RoutePlan::Kind::permfail, "556 5.1.10 domain " + name + " does not accept mail (null MX)");
        std::erase_if(mx.records, [](const dns::MxRecord& r) { return r.host.empty(); });
        records = mx.records;
    } else {
        records.push_back({0, name});   // implicit MX (RFC 5321 5.1)
    }
    RoutePlan plan;
    // Our own host: every MX at its preference or above is dropped (RFC 5321 5.1).
    std::optional<unsigned> own;
    std::vector<std::vector<std::string>> addrs(records.size());
    std::vector<char> secure(records.size(), 0);
    std::string last_error;
    bool any_temp = false;
    for (size_t i = 0; i < records.size(); ++i) {
        std::string err;
        bool addr_secure = false;
        auto o = host_addresses(lookup, records[i].host, &addrs[i], &err, &addr_secure);
        secure[i] = mx.secure && addr_secure;   // the MX answer (or its denial) too
        if (o == dns::Outcome::tempfail) {
            any_temp = true;
            last_error = err;
        }
        if (o == dns::Outcome::ok && lookup.is_self(records[i].host, addrs[i])) {
            if (!own || records[i].preference < *own) own = records[i].preference;
        }
    }
    std::vector<dns::MxRecord> indexed;
    for (size_t i = 0; i < records.size(); ++i) indexed.push_back({records[i].preference, std::to_string(i)});
    for (const auto& r : order_mx(indexed, rng, own)) {
        size_t i = std::stoul(r.host);
        for (const auto& a : addrs[i])
            plan.targets.push_back({records[i].host, a, port, records[i].preference, secure[i] != 0});
    }
    if (own && plan.targets.empty())
        return fail(RoutePlan::Kind::permfail, "554 5.4.6 mail for " + name + " loops back to myself (MX)");
    if (plan.targets.empty()) {
        if (any_temp)
            return fail(RoutePlan::Kind::tempfail, "451 4.4.3 DNS lookup for " + name + " failed: " + last_error);
        if (mx.outcome == dns::Outcome::nodata)
            return fail(RoutePlan::Kind::permfail, "550 5.1.2 domain " + name + " has no mail server address");
        return fail(RoutePlan::Kind::permfail, "550 5.4.4 no address for the mail servers of " + name);
    }
    return plan;
}
}  // namespace

RoutePlan plan_route(std::string_view domain, const std::vector<RouteEntry>& routes, Lookup& lookup,
                     std::mt19937& rng) {
    std::string d = strip_dot(domain);
    auto route = match_route(routes, d);
    RoutePlan plan;
    unsigned port = route ? route->port : 25;
    if (route && !route->relay.empty() && route->relay.front() == '[') {
        std::string ip = route->relay.substr(1, route->relay.size() - 2);
        plan.targets.push_back({route->relay, ip, port, 0});
    } else if (route && !route->relay.empty()) {
        plan = plan_mx(route->relay, port, lookup, rng);
    } else if (!d.empty() && d.front() == '[' && d.back() == ']') {
        // A recipient at an address literal: deliver to that address.
        std::string ip = d.substr(1, d.size() - 2);
        if (ip.substr(0, 5) == "ipv6:") ip = ip.substr(5);
        if (!is_ip(ip)) return fail(RoutePlan::Kind::permfail, "553 5.1.2 bad address literal " + d);
        plan.targets.push_back({d, ip, port, 0});
    } else {
        plan = plan_mx(d, port, lookup, rng);
    }
    if (route) {
        plan.security = route->security;
        plan.dane = route->dane;
        plan.mta_sts = route->mta_sts;
        plan.relay = route->relay;
    }
    return plan;
}

std::string describe_plan(const RoutePlan& p) {
    std::string out;
    if (p.kind != RoutePlan::Kind::ok) return p.error + "\n";
    for (const auto& t : p.targets) {
        out += "Relay: " + t.host + ", Priority: " + std::to_string(t.preference) + ", Address: " + t.address;
        if (t.port != 25) out += ", Port: " + std::to_string(t.port);
        if (t.dnssec) out += ", DNSSEC: secure";
        out += "\n";
    }
    const char* sec[] = {"", "STARTTLS", "REQUIRED", "SMTPS"};
    if (p.security != Security::none) out += std::string("Security: ") + sec[static_cast<int>(p.security)] + "\n";
    if (p.dane == DaneSetting::required) out += "DANE: required\n";
    if (p.dane == DaneSetting::off) out += "DANE: off\n";
    if (!p.mta_sts) out += "MTA-STS: off\n";
    return out;
}

SourceSettings source_settings(const ConfigDir& cfg, std::string_view vhost) {
    SourceSettings s;
    auto pick = [&](const char* name) -> std::string {
        std::string f = cfg.file_for(name, vhost);
        auto v = cfg.first_line(f);
        if (!v) return "";
        // "ipout.<address>" left empty means "that same address".
        if (v->empty() && f != name && is_ip(vhost)) return std::string(vhost);
        return *v;
    };
    s.ipout = pick("ipout");
    s.ip6out = pick("ip6out");
    auto h = cfg.first_line("esmtphelo", vhost);
    s.helo = h && !h->empty() ? *h : cfg.me(vhost);
    return s;
}

Timeouts load_timeouts(const ConfigDir& cfg) {
    Timeouts t;
    auto get = [&](const char* name, long* v) {
        if (auto line = cfg.first_line(name)) {
            if (auto n = parse_interval(*line); n && *n >= 0) *v = *n;
        }
    };
    get("esmtptimeout", &t.command);
    get("esmtptimeoutconnect", &t.connect);
    get("esmtptimeoutdata", &t.data);
    get("esmtptimeouthelo", &t.helo);
    get("esmtptimeoutkeepalive", &t.keepalive);
    get("esmtptimeoutkeepaliveping", &t.keepaliveping);
    get("esmtptimeoutquit", &t.quit);
    return t;
}

long load_esmtpdelay(const ConfigDir& cfg) {
    if (auto line = cfg.first_line("esmtpdelay")) {
        if (auto n = parse_interval(*line); n && *n >= 0) return *n;
    }
    return 300;
}

unsigned load_max_sessions(const ConfigDir& cfg) {
    if (auto line = cfg.first_line("esmtpmaxsessions")) {
        if (auto n = parse_interval(*line); n && *n > 0) return static_cast<unsigned>(*n);
    }
    return 4;
}

}  // namespace outbound
