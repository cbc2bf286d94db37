// couriertcpd(1) "Enabling HAProxy": the -haproxy option (timeout, /port=n and
// /port=ip.n filters) and the PROXY protocol header that a load balancer sends first,
// version 1 (text) and version 2 (binary), per HAProxy's proxy-protocol.txt. The parser
// is pure and says how many more bytes it needs, so the reader never consumes a byte
// that belongs to the program.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include "lib/result.h"

namespace tcpd {

struct HaproxyConfig {
    bool enabled = false;
    unsigned timeout_seconds = 15;
    struct Port {
        std::string ip;    // "" for any local address
        unsigned port = 0;
    };
    std::vector<Port> ports;   // empty: every listener

    // Whether a connection to this local address expects the PROXY header.
    bool applies(std::string_view local_ip, unsigned local_port) const;
};

// The option's value ("" for a bare -haproxy): "[timeout][/port=spec]..." items,
// comma separated.
Result<HaproxyConfig> parse_haproxy_option(std::string_view value);

struct ProxyAddresses {
    std::string remote_ip, local_ip;   // text as in TCPREMOTEIP (IPv4-mapped shown as IPv4)
    unsigned remote_port = 0, local_port = 0;
};

struct ProxyParse {
    enum class State { incomplete, error, done } state = State::incomplete;
    size_t need = 1;                          // incomplete: bytes to read before asking again
    size_t length = 0;                        // done: header bytes
    std::optional<ProxyAddresses> addresses;  // done: nullopt for LOCAL / UNKNOWN
    std::string error;                        // error: why
};

// Parses the start of a connection's data (everything read so far).
ProxyParse parse_proxy_header(std::string_view data);

// Longest header accepted: v1's 107 bytes, v2 with a reasonable amount of TLVs.
constexpr size_t k_max_proxy_v2_length = 2048;

// Reads exactly the header from a socket within timeout_seconds (each read asks for
// no more than the parser needs). Errors: timeout, EOF, malformed header.
Result<ProxyParse> read_proxy_header(int fd, unsigned timeout_seconds);

}  // namespace tcpd
