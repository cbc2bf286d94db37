// Port list parsing for couriertcpd (couriertcpd(1), "MULTIPLE PORT LIST"). The port
// is what follows the last '.', so IPv4 and IPv6 addresses both read naturally:
// "127.0.0.1.25", "::1.25"; brackets ("[::1].25") are accepted as well.
#include "tcpd/port_list.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <charconv>

namespace {

Error bad(std::string_view entry, std::string why) {
    return Error{0, "bad port list entry \"" + std::string(entry) + "\": " + std::move(why)};
}

bool parse_port(std::string_view s, uint16_t& port) {
    unsigned v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return false;
    if (v == 0 || v > 65535) return false;
    port = static_cast<uint16_t>(v);
    return true;
}

bool is_wildcard_text(std::string_view a) { return a.empty() || a == "0"; }

// Validates an address and writes its canonical form (inet_ntop of inet_pton), so
// "::0001" and "::1" name the same socket in logs and duplicate checks.
bool canonical_address(std::string_view text, int& family, std::string& out) {
    if (text.size() >= 2 && text.front() == '[' && text.back() == ']')
        text = text.substr(1, text.size() - 2);
    if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return false;
    std::string s(text);
    unsigned char buf[sizeof(struct in6_addr)];
    family = s.find(':') == std::string::npos ? AF_INET : AF_INET6;
    if (inet_pton(family, s.c_str(), buf) != 1) return false;
    char txt[INET6_ADDRSTRLEN];
    if (!inet_ntop(family, buf, txt, sizeof txt)) return false;
    out = txt;
    return true;
}

Status add_targets(std::string_view entry, std::string_view address, uint16_t port,
                   std::vector<BindTarget>& out) {
    if (is_wildcard_text(address)) {
        out.push_back({AF_INET6, "::", port, BindTarget::Role::wildcard6});
        out.push_back({AF_INET, "0.0.0.0", port, BindTarget::Role::wildcard4});
        return ok_status();
    }
    BindTarget t;
    t.port = port;
    if (!canonical_address(address, t.family, t.address))
        return bad(entry, "not an IPv4 or IPv6 address");
    out.push_back(std::move(t));
    return ok_status();
}

Status parse_entry(std::string_view entry, std::string_view default_address,
                   std::vector<BindTarget>& out) {
    if (entry.empty()) return bad(entry, "empty");
    auto dot = entry.rfind('.');
    std::string_view port_text = dot == std::string_view::npos ? entry : entry.substr(dot + 1);
    std::string_view address =
        dot == std::string_view::npos ? default_address : entry.substr(0, dot);
    uint16_t port = 0;
    if (!parse_port(port_text, port)) return bad(entry, "the port must be 1 to 65535");
    if (dot != std::string_view::npos && address.empty()) return bad(entry, "empty address");
    return add_targets(entry, address, port, out);
}

}  // namespace

std::string BindTarget::label() const {
    if (family == AF_INET6) return "[" + address + "]." + std::to_string(port);
    return address + "." + std::to_string(port);
}

Result<std::vector<BindTarget>> parse_port_list(std::string_view list,
                                                std::string_view default_address) {
    std::vector<BindTarget> out;
    size_t entries = 0;
    for (;;) {
        auto comma = list.find(',');
        std::string_view entry = list.substr(0, comma);
        if (++entries > k_max_port_list_entries)
            return Error{0, "too many entries in the port list"};
        if (Status s = parse_entry(entry, default_address, out); !s) return s.error();
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
    for (size_t i = 0; i < out.size(); ++i)
        for (size_t j = 0; j < i; ++j)
            if (out[i] == out[j])
                return Error{0, "port list names " + out[i].label() + " twice"};
    return out;
}
