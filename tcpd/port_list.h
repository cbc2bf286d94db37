// The port list of couriertcpd(1), "MULTIPLE PORT LIST": "25", "127.0.0.1.25",
// "::1.25" or "[::1].25", comma separated, with -address as the default address of a
// bare port. Pure: turns text into the sockets to bind, in bind order.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>
#include "lib/result.h"

// One socket to create. A port without an address becomes two: the IPv6 wildcard,
// then the IPv4 wildcard, which may fail harmlessly when the IPv6 socket already
// takes IPv4 connections (Linux) and is needed when it does not (BSD, no IPv6).
struct BindTarget {
    enum class Role {
        address,        // an explicit address: must bind
        wildcard6,      // [::]: may be missing only if the system has no IPv6
        wildcard4,      // 0.0.0.0 after wildcard6: may fail if wildcard6 succeeded
    };
    int family = 0;            // AF_INET or AF_INET6
    std::string address;       // canonical text ("127.0.0.1", "::1", "::", "0.0.0.0")
    uint16_t port = 0;
    Role role = Role::address;

    std::string label() const;   // "127.0.0.1.25", "[::].25": for logs and errors
    bool operator==(const BindTarget&) const = default;
};

// Most entries one list may hold: a bound on what a typo can ask of the system.
constexpr size_t k_max_port_list_entries = 64;

// default_address: the -address option ("" or "0" mean every address).
Result<std::vector<BindTarget>> parse_port_list(std::string_view list,
                                                std::string_view default_address);
