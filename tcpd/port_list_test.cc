// Unit tests for couriertcpd's port list (couriertcpd(1), "MULTIPLE PORT LIST").
#include <doctest/doctest.h>

#include <sys/socket.h>

#include "tcpd/port_list.h"

namespace {
using Role = BindTarget::Role;
}

TEST_CASE("port list: a bare port binds the IPv6 then the IPv4 wildcard") {
    auto t = parse_port_list("25", "");
    REQUIRE(t.ok());
    REQUIRE(t->size() == 2);
    CHECK((*t)[0] == BindTarget{AF_INET6, "::", 25, Role::wildcard6});
    CHECK((*t)[1] == BindTarget{AF_INET, "0.0.0.0", 25, Role::wildcard4});
    CHECK((*t)[0].label() == "[::].25");
    CHECK((*t)[1].label() == "0.0.0.0.25");
}

TEST_CASE("port list: the manual's example") {
    auto t = parse_port_list("127.0.0.1.25,999", "");
    REQUIRE(t.ok());
    REQUIRE(t->size() == 3);
    CHECK((*t)[0] == BindTarget{AF_INET, "127.0.0.1", 25, Role::address});
    CHECK((*t)[1].role == Role::wildcard6);
    CHECK((*t)[1].port == 999);
    CHECK((*t)[2].role == Role::wildcard4);
}

TEST_CASE("port list: -address applies to bare ports only") {
    auto t = parse_port_list("25,999,10.0.0.1.26", "127.0.0.1");
    REQUIRE(t.ok());
    REQUIRE(t->size() == 3);
    CHECK((*t)[0] == BindTarget{AF_INET, "127.0.0.1", 25, Role::address});
    CHECK((*t)[1] == BindTarget{AF_INET, "127.0.0.1", 999, Role::address});
    CHECK((*t)[2] == BindTarget{AF_INET, "10.0.0.1", 26, Role::address});
    // -address=0 means every address, as Courier's init scripts pass it.
    auto w = parse_port_list("25", "0");
    REQUIRE(w.ok());
    CHECK(w->size() == 2);
}

TEST_CASE("port list: IPv6 addresses") {
    auto t = parse_port_list("::1.2525,[::1].2526,::ffff:127.0.0.1.2527", "");
    REQUIRE(t.ok());
    REQUIRE(t->size() == 3);
    CHECK((*t)[0] == BindTarget{AF_INET6, "::1", 2525, Role::address});
    CHECK((*t)[1] == BindTarget{AF_INET6, "::1", 2526, Role::address});
    CHECK((*t)[2].family == AF_INET6);
    CHECK((*t)[2].port == 2527);
    CHECK((*t)[0].label() == "[::1].2525");
    auto d = parse_port_list("25", "0:0:0:0:0:0:0:1");
    REQUIRE(d.ok());
    CHECK((*d)[0].address == "::1");
}

TEST_CASE("port list: errors") {
    CHECK_FALSE(parse_port_list("", "").ok());
    CHECK_FALSE(parse_port_list("25,", "").ok());
    CHECK_FALSE(parse_port_list(",25", "").ok());
    CHECK_FALSE(parse_port_list("0", "").ok());
    CHECK_FALSE(parse_port_list("65536", "").ok());
    CHECK_FALSE(parse_port_list("smtp", "").ok());
    CHECK_FALSE(parse_port_list("1.2.3.25", "").ok());          // "1.2.3" is no address
    CHECK_FALSE(parse_port_list("300.1.1.1.25", "").ok());
    CHECK_FALSE(parse_port_list(".25", "").ok());
    CHECK_FALSE(parse_port_list("::1", "").ok());               // no port
    CHECK_FALSE(parse_port_list("25", "not-an-address").ok());
    CHECK_FALSE(parse_port_list("25,25", "").ok());             // twice
    CHECK_FALSE(parse_port_list("127.0.0.1.25,127.0.0.1.25", "").ok());
    std::string many;
    for (int i = 1; i <= 65; ++i) many += (i > 1 ? "," : "") + std::to_string(1000 + i);
    CHECK_FALSE(parse_port_list(many, "").ok());
}
