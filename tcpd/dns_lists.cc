// DNS access lists and reverse DNS of couriertcpd(1) ("DNS ACCESS LISTS", "MULTIPLE DNS
// LISTS", "ADDITIONAL DNS ACCESS LIST VARIABLES", TCPREMOTEHOST). Where the manual asks
// for an ANY query (A and TXT at once), two queries are made: ANY is unreliable
// (RFC 8482) and gives the same records when it works.
#include "tcpd/dns_lists.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

namespace tcpd {
namespace {

bool valid_var(std::string_view n) {
    if (n.empty() || std::isdigit(static_cast<unsigned char>(n[0]))) return false;
    return std::all_of(n.begin(), n.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
    });
}

bool valid_zone(std::string_view z) {
    if (z.empty() || z.size() > 200 || z.front() == '.' || z.find("..") != std::string_view::npos)
        return false;
    return std::all_of(z.begin(), z.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
    });
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// The A records that count: all of them, or only the one /n.n.n.n names.
std::optional<std::string> matching_a(const DnsList& l, const dns::Answer<std::string>& a) {
    if (!a.ok()) return std::nullopt;
    if (!l.match_ip) return a.records.front();
    for (const auto& r : a.records)
        if (r == *l.match_ip) return r;
    return std::nullopt;
}

Status set_match_ip(std::string_view text, const std::string& opt, DnsList& l) {
    std::string ip(text);
    unsigned char b[4];
    if (inet_pton(AF_INET, ip.c_str(), b) != 1)
        return Error{0, opt + ": bad A record \"" + ip + "\""};
    l.match_ip = ip;
    return ok_status();
}

struct Hit {
    std::string ip, txt;
};

// One list's lookup; nullopt when the address is not listed (or DNS failed).
std::optional<Hit> look_up(const DnsList& l, const std::string& name, const DnsListResolver& r,
                           const std::function<void(const std::string&)>& warn) {
    Hit hit;
    bool listed = false;
    if (l.wants_a()) {
        auto a = r.a(name);
        if (a.outcome == dns::Outcome::tempfail) warn("A " + name + ": " + a.error);
        if (auto ip = matching_a(l, a)) {
            hit.ip = *ip;
            listed = true;
        } else if (l.match_ip) {
            return std::nullopt;   // the A record decides; TXT alone is not enough
        }
    }
    if (l.wants_txt()) {
        auto t = r.txt(name);
        if (t.outcome == dns::Outcome::tempfail) warn("TXT " + name + ": " + t.error);
        if (t.ok()) {
            hit.txt = t.records.front();
            listed = true;
        }
    }
    if (!listed) return std::nullopt;
    return hit;
}

void put(EnvVars& out, std::map<std::string, std::string>& set, const std::string& name,
         const std::string& value) {
    out.emplace_back(name, value);
    set[name] = value;
}

}  // namespace

bool DnsList::wants_a() const {
    // -block=zone,var,* asks for TXT only; everything else asks for A.
    return allow || !message || *message != "*";
}

bool DnsList::wants_txt() const {
    if (allow) return message.has_value();
    if (match_ip && message) return false;   // custom message: plain A query
    return !message || *message == "*";
}

Result<DnsList> parse_dns_list(std::string_view value, bool allow) {
    DnsList l;
    l.allow = allow;
    std::string opt = allow ? "-allow" : "-block";
    auto comma = value.find(',');
    std::string_view zonepart = value.substr(0, comma);
    // "-block=zone/n.n.n.n": the A record may also follow the zone directly.
    if (auto zslash = zonepart.find('/'); zslash != std::string_view::npos) {
        if (Status s = set_match_ip(zonepart.substr(zslash + 1), opt, l); !s) return s.error();
        zonepart = zonepart.substr(0, zslash);
    }
    auto eq = zonepart.find('=');
    l.zone = lower(zonepart.substr(0, eq));
    if (!l.zone.empty() && l.zone.back() == '.') l.zone.pop_back();
    if (!valid_zone(l.zone)) return Error{0, opt + ": bad zone \"" + std::string(zonepart) + "\""};
    l.display_zone = eq == std::string_view::npos ? l.zone : std::string(zonepart.substr(eq + 1));
    if (comma == std::string_view::npos) return l;
    std::string_view rest = value.substr(comma + 1);
    auto comma2 = rest.find(',');
    std::string_view varpart = rest.substr(0, comma2);
    auto slash = varpart.find('/');
    if (slash != std::string_view::npos) {
        if (Status s = set_match_ip(varpart.substr(slash + 1), opt, l); !s) return s.error();
        varpart = varpart.substr(0, slash);
    }
    if (!varpart.empty()) l.var = std::string(varpart);
    if (!valid_var(l.var)) return Error{0, opt + ": bad variable name \"" + l.var + "\""};
    if (comma2 != std::string_view::npos) l.message = std::string(rest.substr(comma2 + 1));
    if (!allow && l.match_ip && l.message && *l.message == "*")
        return Error{0, opt + ": \"*\" (TXT query) cannot be used with an A record"};
    return l;
}

std::optional<std::string> dns_list_query(std::string_view ip, std::string_view zone) {
    auto labels = dns::reverse_labels(ip);
    if (!labels) return std::nullopt;
    return *labels + "." + std::string(zone);
}

std::string default_block_message(std::string_view ip, std::string_view display_zone) {
    return "Access denied: " + std::string(ip) + " is listed by " + std::string(display_zone);
}

EnvVars evaluate_dns_lists(const std::vector<DnsList>& lists, std::string_view ip,
                           std::map<std::string, std::string> set, const DnsListResolver& r,
                           const std::function<void(const std::string&)>& warn) {
    EnvVars out;
    for (const DnsList& l : lists) {
        if (set.count(l.var)) continue;   // the skip-if-set rule
        auto name = dns_list_query(ip, l.zone);
        if (!name) continue;
        auto hit = look_up(l, *name, r, warn);
        if (!hit) continue;
        std::string value;
        if (!l.allow) {
            if (l.message && *l.message != "*") value = *l.message;
            else if (!hit->txt.empty()) value = hit->txt;
            else value = default_block_message(ip, l.display_zone);
        }
        put(out, set, l.var, value);
        if (!hit->ip.empty()) put(out, set, l.var + "_IP", hit->ip);
        if (!hit->txt.empty()) put(out, set, l.var + "_TXT", hit->txt);
        put(out, set, l.var + "_ZONE", l.display_zone);
    }
    return out;
}

std::vector<std::string> parse_drop_list(std::string_view value) {
    std::vector<std::string> out;
    while (!value.empty()) {
        auto comma = value.find(',');
        if (auto v = value.substr(0, comma); !v.empty()) out.emplace_back(v);
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
    if (out.empty()) out.push_back("BLOCK");
    return out;
}

std::optional<std::string> drop_variable(const std::vector<std::string>& names,
                                         const std::map<std::string, std::string>& env) {
    for (const auto& n : names)
        if (auto it = env.find(n); it != env.end() && !it->second.empty()) return n;
    return std::nullopt;
}

std::optional<std::string> confirmed_host_name(std::string_view ip, const ReverseResolver& r) {
    std::string addr(ip);
    auto p = r.ptr(addr);
    if (p.outcome == dns::Outcome::tempfail) return std::string("softdnserr");
    if (!p.ok()) return std::nullopt;
    std::string name = lower(p.records.front());
    if (!name.empty() && name.back() == '.') name.pop_back();
    bool v6 = addr.find(':') != std::string::npos;
    auto fwd = v6 ? r.aaaa(name) : r.a(name);
    if (fwd.outcome == dns::Outcome::tempfail) return std::string("softdnserr");
    unsigned char want[16], got[16];
    int family = v6 ? AF_INET6 : AF_INET;
    if (inet_pton(family, addr.c_str(), want) != 1) return std::nullopt;
    size_t len = v6 ? 16 : 4;
    for (const auto& rec : fwd.records)
        if (inet_pton(family, rec.c_str(), got) == 1 && std::equal(want, want + len, got))
            return name;
    return std::string("softdnserr");   // the forward lookup does not confirm it
}

}  // namespace tcpd
