// Unit tests for the connection facts couriertcpd hands to the program.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "tcpd/connection.h"

namespace {
sockaddr_storage v4(const char* ip, unsigned port) {
    sockaddr_storage ss{};
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, ip, &a->sin_addr);
    return ss;
}
sockaddr_storage v6(const char* ip, unsigned port) {
    sockaddr_storage ss{};
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET6, ip, &a->sin6_addr);
    return ss;
}
}  // namespace

TEST_CASE("connection: addresses as Courier shows them") {
    CHECK(format_ip(v4("192.0.2.7", 1)) == "192.0.2.7");
    CHECK(format_ip(v6("::1", 1)) == "::1");
    CHECK(format_ip(v6("2001:DB8:0:0::5", 1)) == "2001:db8::5");
    CHECK(format_ip(v6("::ffff:192.0.2.7", 1)) == "192.0.2.7");   // IPv4-mapped
    CHECK(format_port(v6("::1", 2525)) == 2525);
    sockaddr_storage none{};
    CHECK(format_ip(none).empty());
}

TEST_CASE("connection: environment") {
    auto info = describe_connection(v6("::ffff:10.1.2.3", 40000), v4("127.0.0.1", 25));
    auto env = connection_environment(info);
    REQUIRE(env.size() == 4);
    CHECK(env[0] == std::pair<std::string, std::string>{"TCPREMOTEIP", "10.1.2.3"});
    CHECK(env[1] == std::pair<std::string, std::string>{"TCPREMOTEPORT", "40000"});
    CHECK(env[2] == std::pair<std::string, std::string>{"TCPLOCALIP", "127.0.0.1"});
    CHECK(env[3] == std::pair<std::string, std::string>{"TCPLOCALPORT", "25"});
}

TEST_CASE("connection: the PROXY header's addresses and TCPREMOTEINFO") {
    auto real = describe_connection(v4("127.0.0.1", 40000), v4("127.0.0.1", 2525));
    tcpd::ProxyParse h;
    h.state = tcpd::ProxyParse::State::done;
    h.addresses = tcpd::ProxyAddresses{"192.0.2.1", "198.51.100.2", 5555, 25};
    auto c = proxied_connection(real, h);
    CHECK(c.remote_ip == "192.0.2.1");
    CHECK(c.remote_port == 5555);
    CHECK(c.local_ip == "198.51.100.2");
    CHECK(c.local_port == 25);
    CHECK(c.remote_info == "haproxy 198.51.100.2.25");
    auto env = connection_environment(c);
    REQUIRE(env.size() == 5);
    CHECK(env[4] == std::pair<std::string, std::string>{"TCPREMOTEINFO", "haproxy 198.51.100.2.25"});
    h.addresses.reset();   // LOCAL / UNKNOWN: the connection's own addresses
    auto local = proxied_connection(real, h);
    CHECK(local.remote_ip == "127.0.0.1");
    CHECK(local.local_port == 2525);
}

TEST_CASE("connection: the admission request of a -haproxy child") {
    std::string ip;
    std::optional<unsigned> max;
    CHECK(parse_admit_request(admit_request("192.0.2.1", std::nullopt), ip, max));
    CHECK(ip == "192.0.2.1");
    CHECK_FALSE(max);
    CHECK(parse_admit_request(admit_request("2001:db8::1", 7u), ip, max));
    CHECK(ip == "2001:db8::1");
    CHECK(max == 7u);
    CHECK_FALSE(parse_admit_request("admit 1.2.3.4\n", ip, max));
    CHECK_FALSE(parse_admit_request("admit  -\n", ip, max));
    CHECK_FALSE(parse_admit_request("admit 1.2.3.4 x\n", ip, max));
    CHECK_FALSE(parse_admit_request("hello\n", ip, max));
}
