// Access file rules (couriertcpd(1), "ACCESS FILE"; makesmtpaccess(8)). The database
// keys are Courier's: IPv4 netblocks as 1 to 4 dotted octets, IPv6 netblocks as ':'
// followed by 1 to 8 zero-padded lowercase 16-bit groups, "*" for everything.
#include "tcpd/access_file.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstdio>

namespace tcpd {
namespace {

std::optional<unsigned> parse_number(std::string_view s, unsigned max) {
    unsigned v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || s.size() > 10 || ec != std::errc() || end != s.data() + s.size() || v > max)
        return std::nullopt;
    return v;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    for (;;) {
        auto p = s.find(sep);
        out.push_back(s.substr(0, p));
        if (p == std::string_view::npos) return out;
        s.remove_prefix(p + 1);
    }
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

std::string ipv4_prefix(const uint8_t* b, size_t octets) {
    std::string out;
    for (size_t i = 0; i < octets; ++i) {
        if (i) out += '.';
        out += std::to_string(b[i]);
    }
    return out;
}

std::string ipv6_prefix(const uint8_t* b, size_t groups) {
    std::string out;
    char buf[8];
    for (size_t i = 0; i < groups; ++i) {
        std::snprintf(buf, sizeof buf, ":%02x%02x", b[2 * i], b[2 * i + 1]);
        out += buf;
    }
    return out;
}

// Parses 1-4 dotted octets ("192.168" is a B block) into b; returns the count.
std::optional<size_t> parse_ipv4_octets(std::string_view s, uint8_t b[4]) {
    auto parts = split(s, '.');
    if (parts.size() > 4) return std::nullopt;
    for (size_t i = 0; i < parts.size(); ++i) {
        auto v = parse_number(parts[i], 255);
        if (!v) return std::nullopt;
        b[i] = static_cast<uint8_t>(*v);
    }
    return parts.size();
}

// Courier's ":hhhh:hhhh..." form with 1-8 groups; the groups are padded and lowercased.
std::optional<size_t> parse_courier_ipv6(std::string_view s, uint8_t b[16]) {
    if (s.size() < 2 || s[0] != ':') return std::nullopt;
    auto groups = split(s.substr(1), ':');
    if (groups.size() > 8) return std::nullopt;
    for (size_t i = 0; i < groups.size(); ++i) {
        std::string_view g = groups[i];
        if (g.empty() || g.size() > 4) return std::nullopt;
        unsigned v = 0;
        auto [end, ec] = std::from_chars(g.data(), g.data() + g.size(), v, 16);
        if (ec != std::errc() || end != g.data() + g.size()) return std::nullopt;
        b[2 * i] = static_cast<uint8_t>(v >> 8);
        b[2 * i + 1] = static_cast<uint8_t>(v & 0xff);
    }
    return groups.size();
}

bool parse_ipv6_text(std::string_view s, uint8_t b[16]) {
    std::string z(s);
    return inet_pton(AF_INET6, z.c_str(), b) == 1;
}

bool is_v4_mapped(const uint8_t b[16]) {
    static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return std::equal(prefix, prefix + 12, b);
}

// Keys for a prefix of `bits` bits of an address of `total` bits written in units of
// `unit` bits: one key when on a boundary, else every completion to the next boundary.
Result<std::vector<std::string>> expand_prefix(uint8_t* b, unsigned total, unsigned bits,
                                               unsigned unit, bool v6) {
    if (bits == 0) return std::vector<std::string>{"*"};
    unsigned units = (bits + unit - 1) / unit;
    unsigned free_bits = units * unit - bits;
    if ((1u << free_bits) > k_max_cidr_expansion)
        return Error{0, "CIDR prefix /" + std::to_string(bits) + " expands to too many entries"};
    // Clear the host bits, so 192.168.1.7/22 means 192.168.0.0/22 as Net::CIDR has it.
    for (unsigned i = bits; i < total; ++i) b[i / 8] &= static_cast<uint8_t>(~(0x80u >> (i % 8)));
    std::vector<std::string> out;
    for (unsigned n = 0; n < (1u << free_bits); ++n) {
        uint8_t c[16];
        std::copy(b, b + total / 8, c);
        // The free bits are the last free_bits bits of the last unit.
        unsigned last_bit = units * unit;   // one past the last bit of the key
        for (unsigned k = 0; k < free_bits; ++k) {
            unsigned bit = last_bit - 1 - k;
            if (n & (1u << k)) c[bit / 8] |= static_cast<uint8_t>(0x80u >> (bit % 8));
        }
        out.push_back(v6 ? ipv6_prefix(c, units) : ipv4_prefix(c, units));
    }
    return out;
}

Result<std::vector<std::string>> expand_cidr(std::string_view key) {
    auto slash = key.find('/');
    std::string_view addr = key.substr(0, slash);
    auto bits = parse_number(key.substr(slash + 1), 128);
    if (!bits) return Error{0, "bad CIDR prefix length in " + std::string(key)};
    uint8_t b[16] = {};
    if (addr.find(':') == std::string_view::npos) {
        if (*bits > 32 || !parse_ipv4_octets(addr, b))
            return Error{0, "bad IPv4 CIDR block " + std::string(key)};
        return expand_prefix(b, 32, *bits, 8, false);
    }
    if (!parse_courier_ipv6(addr, b) && !parse_ipv6_text(addr, b))
        return Error{0, "bad IPv6 CIDR block " + std::string(key)};
    if (is_v4_mapped(b) && *bits >= 96) return expand_prefix(b + 12, 32, *bits - 96, 8, false);
    return expand_prefix(b, 128, *bits, 16, true);
}

// "1.2.3.4.25" / ":...(8 groups).25" / "*.25": the -accesslocal forms with a port.
std::optional<std::string> local_port_key(std::string_view key) {
    auto dot = key.rfind('.');
    if (dot == std::string_view::npos) return std::nullopt;
    auto port = parse_number(key.substr(dot + 1), 65535);
    std::string_view addr = key.substr(0, dot);
    if (!port || *port == 0) return std::nullopt;
    std::string suffix = "." + std::to_string(*port);
    if (addr == "*") return "*" + suffix;
    uint8_t b[16] = {};
    if (addr.find(':') != std::string_view::npos) {
        if (parse_courier_ipv6(addr, b) == 8u) return ipv6_prefix(b, 8) + suffix;
        if (parse_ipv6_text(addr, b)) {
            if (is_v4_mapped(b)) return ipv4_prefix(b + 12, 4) + suffix;
            return ipv6_prefix(b, 8) + suffix;
        }
        return std::nullopt;
    }
    if (parse_ipv4_octets(addr, b) == 4u) return ipv4_prefix(b, 4) + suffix;
    return std::nullopt;
}

// One netblock as written in the text file, normalized to the database keys.
Result<std::vector<std::string>> normalize_key(std::string_view key) {
    if (key == "*") return std::vector<std::string>{"*"};
    if (key.find('/') != std::string_view::npos) return expand_cidr(key);
    uint8_t b[16] = {};
    if (key.find(':') != std::string_view::npos) {
        if (auto n = parse_courier_ipv6(key, b)) return std::vector<std::string>{ipv6_prefix(b, *n)};
        if (parse_ipv6_text(key, b)) {
            if (is_v4_mapped(b)) return std::vector<std::string>{ipv4_prefix(b + 12, 4)};
            return std::vector<std::string>{ipv6_prefix(b, 8)};
        }
    } else if (auto n = parse_ipv4_octets(key, b)) {
        return std::vector<std::string>{ipv4_prefix(b, *n)};
    }
    if (auto k = local_port_key(key)) return std::vector<std::string>{*k};
    return Error{0, "bad address or netblock \"" + std::string(key) + "\""};
}

bool valid_variable_name(std::string_view n) {
    if (n.empty() || std::isdigit(static_cast<unsigned char>(n[0]))) return false;
    for (char c : n)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
    return true;
}

bool equals_nocase(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
    return true;
}

std::string serialize(const AccessRule& r) {
    std::string out = r.allow ? "allow" : "deny";
    for (const auto& [name, value] : r.variables) {
        out += "," + name;
        if (!value.empty()) out += "=" + value;
    }
    return out;
}

}  // namespace

std::optional<std::string> ipv6_access_form(std::string_view ip) {
    uint8_t b[16];
    if (!parse_ipv6_text(ip, b)) return std::nullopt;
    return ipv6_prefix(b, 8);
}

std::vector<std::string> access_keys(std::string_view ip) {
    std::vector<std::string> keys;
    uint8_t b[16] = {};
    if (ip.find(':') != std::string_view::npos) {
        if (!parse_ipv6_text(ip, b)) return keys;
        if (!is_v4_mapped(b)) {
            for (size_t n = 8; n >= 1; --n) keys.push_back(ipv6_prefix(b, n));
            keys.push_back("*");
            return keys;
        }
        std::copy(b + 12, b + 16, b);
    } else {
        std::string z(ip);
        if (inet_pton(AF_INET, z.c_str(), b) != 1) return keys;
    }
    for (size_t n = 4; n >= 1; --n) keys.push_back(ipv4_prefix(b, n));
    keys.push_back("*");
    return keys;
}

std::vector<std::string> access_local_keys(std::string_view ip, unsigned port) {
    auto remote = access_keys(ip);
    if (remote.empty()) return {};
    std::string p = "." + std::to_string(port);
    return {remote[0] + p, remote[0], "*" + p};
}

std::optional<unsigned> AccessRule::max_per_ip() const {
    for (const auto& [name, value] : variables)
        if (name == "MAXCPERIP") return parse_number(value, 1000000);
    return std::nullopt;
}

Result<AccessRule> parse_access_value(std::string_view value) {
    auto items = split(trim(value), ',');
    AccessRule r;
    if (equals_nocase(trim(items[0]), "deny")) r.allow = false;
    else if (!equals_nocase(trim(items[0]), "allow"))
        return Error{0, "action must be allow or deny, not \"" + std::string(items[0]) + "\""};
    for (size_t i = 1; i < items.size(); ++i) {
        std::string_view item = trim(items[i]);
        if (item.empty()) continue;
        auto eq = item.find('=');
        std::string_view name = item.substr(0, eq);
        if (!valid_variable_name(name))
            return Error{0, "bad variable name \"" + std::string(name) + "\""};
        if (!r.allow) return Error{0, "deny takes no variables"};
        std::string v = eq == std::string_view::npos ? "" : std::string(item.substr(eq + 1));
        r.variables.emplace_back(std::string(name), std::move(v));
    }
    if (auto m = std::find_if(r.variables.begin(), r.variables.end(),
                              [](const auto& v) { return v.first == "MAXCPERIP"; });
        m != r.variables.end() && !parse_number(m->second, 1000000))
        return Error{0, "MAXCPERIP needs a number"};
    return r;
}

Result<AccessRecords> compile_access_line(std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::string_view t = trim(line);
    if (t.empty() || t[0] == '#') return AccessRecords{};
    auto tab = line.find('\t');
    if (tab == std::string_view::npos) return Error{0, "missing tab between address and action"};
    auto rule = parse_access_value(line.substr(tab + 1));
    if (!rule) return rule.error();
    auto keys = normalize_key(trim(line.substr(0, tab)));
    if (!keys) return keys.error();
    AccessRecords out;
    std::string value = serialize(*rule);
    for (auto& k : *keys) out.emplace_back(std::move(k), value);
    return out;
}

}  // namespace tcpd
