// PROXY protocol (HAProxy's proxy-protocol.txt, versions 1 and 2) and couriertcpd's
// -haproxy option. SECURITY: the header comes from the network; it is only trusted
// because the manual requires a firewall that lets nothing but the proxy reach these
// ports. Every field is validated; a malformed header ends the connection.
#include "tcpd/haproxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>

#include "tcpd/port_list.h"

namespace tcpd {
namespace {

constexpr std::string_view k_v1_prefix = "PROXY ";
constexpr size_t k_v1_max = 107;   // the longest valid v1 line, CRLF included
const char k_v2_sig[12] = {'\r', '\n', '\r', '\n', '\0', '\r', '\n', 'Q', 'U', 'I', 'T', '\n'};
constexpr std::string_view k_v2_signature(k_v2_sig, 12);

std::optional<unsigned> parse_number(std::string_view s, unsigned max) {
    unsigned v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || s.size() > 5 || ec != std::errc() || end != s.data() + s.size() || v > max)
        return std::nullopt;
    return v;
}

Status parse_port_item(std::string_view spec, HaproxyConfig& c) {
    auto targets = parse_port_list(spec, "");
    if (!targets || targets->empty())
        return Error{0, "bad -haproxy port \"" + std::string(spec) + "\""};
    const BindTarget& t = targets->front();
    bool any = t.role != BindTarget::Role::address;
    c.ports.push_back({any ? std::string() : t.address, t.port});
    return ok_status();
}

// One comma-separated item: "[timeout]" then any number of "/port=spec".
Status parse_item(std::string_view item, HaproxyConfig& c) {
    auto slash = item.find('/');
    std::string_view timeout = item.substr(0, slash);
    if (!timeout.empty()) {
        auto t = parse_number(timeout, 3600);
        if (!t || *t == 0) return Error{0, "bad -haproxy timeout \"" + std::string(timeout) + "\""};
        c.timeout_seconds = *t;
    }
    while (slash != std::string_view::npos) {
        item.remove_prefix(slash + 1);
        slash = item.find('/');
        std::string_view setting = item.substr(0, slash);
        if (!setting.starts_with("port="))
            return Error{0, "unknown -haproxy setting \"" + std::string(setting) + "\""};
        if (Status s = parse_port_item(setting.substr(5), c); !s) return s;
    }
    return ok_status();
}

std::string ip_text(int family, const unsigned char* b) {
    char buf[INET6_ADDRSTRLEN] = "";
    if (family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(reinterpret_cast<const in6_addr*>(b)))
        inet_ntop(AF_INET, b + 12, buf, sizeof buf);
    else
        inet_ntop(family, b, buf, sizeof buf);
    return buf;
}

bool parse_v1_address(std::string_view s, int family, std::string& out) {
    if (s.empty() || s.size() >= INET6_ADDRSTRLEN) return false;
    std::string z(s);
    unsigned char b[16];
    if (inet_pton(family, z.c_str(), b) != 1) return false;
    out = ip_text(family, b);
    return true;
}

ProxyParse fail(std::string why) {
    ProxyParse p;
    p.state = ProxyParse::State::error;
    p.error = std::move(why);
    return p;
}

ProxyParse parse_v1(std::string_view data) {
    auto crlf = data.find("\r\n");
    if (crlf == std::string_view::npos) {
        if (data.size() >= k_v1_max) return fail("PROXY v1 line too long");
        if (data.find('\n') != std::string_view::npos) return fail("PROXY v1 line without CR");
        return ProxyParse{};
    }
    // A line that arrived whole in one read is still bounded like one read in parts.
    if (crlf + 2 > k_v1_max) return fail("PROXY v1 line too long");
    ProxyParse p;
    p.state = ProxyParse::State::done;
    p.length = crlf + 2;
    std::vector<std::string_view> w;
    std::string_view line = data.substr(k_v1_prefix.size(), crlf - k_v1_prefix.size());
    for (;;) {
        auto sp = line.find(' ');
        w.push_back(line.substr(0, sp));
        if (sp == std::string_view::npos) break;
        line.remove_prefix(sp + 1);
    }
    if (w[0] == "UNKNOWN") return p;   // the proxy's own health check: real addresses
    if (w.size() != 5 || (w[0] != "TCP4" && w[0] != "TCP6")) return fail("malformed PROXY v1 line");
    int family = w[0] == "TCP4" ? AF_INET : AF_INET6;
    ProxyAddresses a;
    auto sport = parse_number(w[3], 65535), dport = parse_number(w[4], 65535);
    if (!parse_v1_address(w[1], family, a.remote_ip) ||
        !parse_v1_address(w[2], family, a.local_ip) || !sport || !dport)
        return fail("malformed PROXY v1 addresses");
    a.remote_port = *sport;
    a.local_port = *dport;
    p.addresses = std::move(a);
    return p;
}

ProxyParse parse_v2(std::string_view data) {
    if (data.size() < 16) {
        ProxyParse p;
        p.need = 16 - data.size();
        return p;
    }
    auto u = [&](size_t i) { return static_cast<unsigned char>(data[i]); };
    size_t len = u(14) << 8 | u(15);
    if ((u(12) >> 4) != 2) return fail("unsupported PROXY v2 version");
    unsigned cmd = u(12) & 0xf;
    if (cmd > 1) return fail("unknown PROXY v2 command");
    if (len > k_max_proxy_v2_length) return fail("PROXY v2 header too long");
    if (data.size() < 16 + len) {
        ProxyParse p;
        p.need = 16 + len - data.size();
        return p;
    }
    ProxyParse p;
    p.state = ProxyParse::State::done;
    p.length = 16 + len;
    unsigned family = u(13) >> 4;   // low nibble: STREAM or DGRAM, both carry addresses
    if (cmd == 0 || (family != 1 && family != 2)) return p;   // LOCAL, UNSPEC, UNIX
    const auto* b = reinterpret_cast<const unsigned char*>(data.data()) + 16;
    ProxyAddresses a;
    if (family == 1) {
        if (len < 12) return fail("short PROXY v2 IPv4 addresses");
        a.remote_ip = ip_text(AF_INET, b);
        a.local_ip = ip_text(AF_INET, b + 4);
        a.remote_port = b[8] << 8 | b[9];
        a.local_port = b[10] << 8 | b[11];
    } else {
        if (len < 36) return fail("short PROXY v2 IPv6 addresses");
        a.remote_ip = ip_text(AF_INET6, b);
        a.local_ip = ip_text(AF_INET6, b + 16);
        a.remote_port = b[32] << 8 | b[33];
        a.local_port = b[34] << 8 | b[35];
    }
    p.addresses = std::move(a);
    return p;
}

// Whether data may still become `prefix` (it is a prefix of it so far).
bool could_be(std::string_view data, std::string_view prefix) {
    size_t n = std::min(data.size(), prefix.size());
    return data.substr(0, n) == prefix.substr(0, n);
}

}  // namespace

bool HaproxyConfig::applies(std::string_view local_ip, unsigned local_port) const {
    if (!enabled) return false;
    if (ports.empty()) return true;
    for (const Port& p : ports)
        if (p.port == local_port && (p.ip.empty() || p.ip == local_ip)) return true;
    return false;
}

Result<HaproxyConfig> parse_haproxy_option(std::string_view value) {
    HaproxyConfig c;
    c.enabled = true;
    for (;;) {
        auto comma = value.find(',');
        if (Status s = parse_item(value.substr(0, comma), c); !s) return s.error();
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
    return c;
}

ProxyParse parse_proxy_header(std::string_view data) {
    if (data.empty()) return ProxyParse{};
    if (could_be(data, k_v2_signature)) {
        if (data.size() < k_v2_signature.size()) {
            ProxyParse p;
            p.need = k_v2_signature.size() - data.size();
            return p;
        }
        return parse_v2(data);
    }
    if (could_be(data, k_v1_prefix)) {
        if (data.size() < k_v1_prefix.size()) return ProxyParse{};
        return parse_v1(data);
    }
    return fail("no PROXY protocol header");
}

Result<ProxyParse> read_proxy_header(int fd, unsigned timeout_seconds) {
    using Clock = std::chrono::steady_clock;
    auto deadline = Clock::now() + std::chrono::seconds(timeout_seconds);
    std::string data;
    for (;;) {
        ProxyParse p = parse_proxy_header(data);
        if (p.state == ProxyParse::State::done) return p;
        if (p.state == ProxyParse::State::error) return Error{0, p.error};
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) return Error{ETIMEDOUT, "no PROXY header within the timeout"};
        pollfd pfd{fd, POLLIN, 0};
        int n = ::poll(&pfd, 1, static_cast<int>(left.count()));
        if (n < 0 && errno != EINTR) return sys_error("poll");
        if (n <= 0) continue;
        char buf[k_max_proxy_v2_length + 16];
        ssize_t got = ::recv(fd, buf, std::min(p.need, sizeof buf), 0);
        if (got == 0) return Error{0, "connection closed before the PROXY header"};
        if (got < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            return sys_error("read of the PROXY header");
        }
        data.append(buf, static_cast<size_t>(got));
    }
}

}  // namespace tcpd
