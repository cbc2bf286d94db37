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
