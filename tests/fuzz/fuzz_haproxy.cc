// Fuzz target: PROXY protocol v1/v2 headers (tcpd/haproxy.h), the first bytes a client
// behind HAProxy sends, and the -haproxy option text. Invariants: a complete header's
// length lies within the data; the header alone, or followed by other bytes, parses to
// the same result; no shorter prefix is already complete; an incomplete parse asks for
// at least one more byte.
#include <cstdint>
#include <cstdlib>
#include <string>
#include "tcpd/haproxy.h"

using tcpd::ProxyParse;

static bool same(const ProxyParse& a, const ProxyParse& b) {
    if (a.state != b.state || a.length != b.length || a.addresses.has_value() != b.addresses.has_value())
        return false;
    if (!a.addresses) return true;
    return a.addresses->remote_ip == b.addresses->remote_ip && a.addresses->local_ip == b.addresses->local_ip &&
           a.addresses->remote_port == b.addresses->remote_port &&
           a.addresses->local_port == b.addresses->local_port;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string in(reinterpret_cast<const char*>(data), size);
    ProxyParse p = tcpd::parse_proxy_header(in);
    switch (p.state) {
    case ProxyParse::State::done: {
        if (p.length == 0 || p.length > in.size() || p.length > tcpd::k_max_proxy_v2_length) std::abort();
        if (!same(p, tcpd::parse_proxy_header(in.substr(0, p.length)))) std::abort();
        if (!same(p, tcpd::parse_proxy_header(in.substr(0, p.length) + "EHLO x\r\n"))) std::abort();
        if (p.length > 1 && tcpd::parse_proxy_header(in.substr(0, p.length - 1)).state == ProxyParse::State::done)
            std::abort();
        break;
    }
    case ProxyParse::State::incomplete:
        if (p.need == 0 || in.size() + p.need > tcpd::k_max_proxy_v2_length + 16) std::abort();
        break;
    case ProxyParse::State::error:
        if (p.error.empty()) std::abort();
        break;
    }
    (void)tcpd::parse_haproxy_option(in);
    return 0;
}
