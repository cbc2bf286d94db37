// Unit tests for the -haproxy option and the PROXY protocol parser (v1 and v2).
#include <doctest/doctest.h>

#include <string>

#include "tcpd/haproxy.h"

using namespace tcpd;
using State = ProxyParse::State;

namespace {
std::string v2(unsigned char cmd, unsigned char fam, const std::string& body) {
    std::string h("\r\n\r\n\0\r\nQUIT\n", 12);
    h += static_cast<char>(cmd);
    h += static_cast<char>(fam);
    h += static_cast<char>(body.size() >> 8);
    h += static_cast<char>(body.size() & 0xff);
    return h + body;
}
}  // namespace

TEST_CASE("-haproxy option: timeout and port filters") {
    auto bare = parse_haproxy_option("");
    REQUIRE(bare);
    CHECK(bare->timeout_seconds == 15);
    CHECK(bare->applies("1.2.3.4", 25));
    auto t = parse_haproxy_option("5");
    REQUIRE(t);
    CHECK(t->timeout_seconds == 5);
    auto p = parse_haproxy_option("5/port=143");
    REQUIRE(p);
    CHECK(p->timeout_seconds == 5);
    CHECK(p->applies("127.0.0.1", 143));
    CHECK_FALSE(p->applies("127.0.0.1", 25));
    auto two = parse_haproxy_option("/port=25,/port=587");
    REQUIRE(two);
    CHECK(two->timeout_seconds == 15);
    CHECK(two->applies("10.0.0.1", 25));
    CHECK(two->applies("10.0.0.1", 587));
    CHECK_FALSE(two->applies("10.0.0.1", 465));
    auto ip = parse_haproxy_option("/port=192.168.0.1.8000");
    REQUIRE(ip);
    CHECK(ip->applies("192.168.0.1", 8000));
    CHECK_FALSE(ip->applies("127.0.0.1", 8000));
    auto v6 = parse_haproxy_option("/port=::1.8000");
    REQUIRE(v6);
    CHECK(v6->applies("::1", 8000));
    CHECK_FALSE(parse_haproxy_option("x"));
    CHECK_FALSE(parse_haproxy_option("0"));
    CHECK_FALSE(parse_haproxy_option("/host=a"));
    CHECK_FALSE(parse_haproxy_option("/port=70000"));
    HaproxyConfig off;
    CHECK_FALSE(off.applies("1.2.3.4", 25));
}

TEST_CASE("PROXY v1: TCP4, TCP6, UNKNOWN") {
    std::string h = "PROXY TCP4 192.0.2.1 198.51.100.2 56324 25\r\nEHLO x\r\n";
    auto p = parse_proxy_header(h);
    REQUIRE(p.state == State::done);
    CHECK(p.length == h.find("EHLO"));
    REQUIRE(p.addresses);
    CHECK(p.addresses->remote_ip == "192.0.2.1");
    CHECK(p.addresses->remote_port == 56324);
    CHECK(p.addresses->local_ip == "198.51.100.2");
    CHECK(p.addresses->local_port == 25);
    auto six = parse_proxy_header("PROXY TCP6 2001:db8::1 ::ffff:10.0.0.1 1 2\r\n");
    REQUIRE(six.state == State::done);
    CHECK(six.addresses->remote_ip == "2001:db8::1");
    CHECK(six.addresses->local_ip == "10.0.0.1");
    auto unk = parse_proxy_header("PROXY UNKNOWN\r\n");
    REQUIRE(unk.state == State::done);
    CHECK_FALSE(unk.addresses);
    CHECK(unk.length == 15);
}

TEST_CASE("PROXY v1: incomplete and malformed") {
    CHECK(parse_proxy_header("").state == State::incomplete);
    CHECK(parse_proxy_header("PRO").state == State::incomplete);
    CHECK(parse_proxy_header("PROXY TCP4 1.2.3.4").state == State::incomplete);
    CHECK(parse_proxy_header("EHLO x\r\n").state == State::error);
    CHECK(parse_proxy_header("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n").state == State::error);
    CHECK(parse_proxy_header("PROXY TCP4 1.2.3.400 5.6.7.8 1 2\r\n").state == State::error);
    CHECK(parse_proxy_header("PROXY TCP4 ::1 5.6.7.8 1 2\r\n").state == State::error);
    CHECK(parse_proxy_header("PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n").state == State::error);
    CHECK(parse_proxy_header("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n").state == State::error);
    CHECK(parse_proxy_header("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n").state == State::error);
    CHECK(parse_proxy_header("PROXY " + std::string(120, 'A')).state == State::error);
    // The same over-long line arriving whole, CRLF and all (found by fuzz_haproxy).
    CHECK(parse_proxy_header("PROXY UNKNOWN " + std::string(120, 'A') + "\r\n").state == State::error);
    std::string longest = "PROXY UNKNOWN " + std::string(107 - 16, 'A') + "\r\n";
    REQUIRE(longest.size() == 107);
    CHECK(parse_proxy_header(longest).state == State::done);
}

TEST_CASE("PROXY v2: IPv4, IPv6, LOCAL, TLVs, incomplete") {
    std::string body = {char(192), 0, 2, 1, char(198), 51, 100, 2, char(0xdc), 0x04, 0, 25};
    std::string h = v2(0x21, 0x11, body + std::string("\x04\x00\x01x", 4)) + "EHLO";
    auto p = parse_proxy_header(h);
    REQUIRE(p.state == State::done);
    CHECK(p.length == h.size() - 4);
    REQUIRE(p.addresses);
    CHECK(p.addresses->remote_ip == "192.0.2.1");
    CHECK(p.addresses->remote_port == 0xdc04);
    CHECK(p.addresses->local_ip == "198.51.100.2");
    CHECK(p.addresses->local_port == 25);
    for (size_t n = 1; n < h.size() - 4; ++n) {
        auto part = parse_proxy_header(h.substr(0, n));
        CHECK(part.state == State::incomplete);
        CHECK(part.need >= 1);
        CHECK(n + part.need <= h.size() - 4);   // never asks for the program's bytes
    }
    std::string b6(36, '\0');
    b6[15] = 1;                      // ::1
    b6[31] = 2;                      // ::2
    b6[33] = 7;
    b6[35] = 25;
    auto six = parse_proxy_header(v2(0x21, 0x21, b6));
    REQUIRE(six.state == State::done);
    CHECK(six.addresses->remote_ip == "::1");
    CHECK(six.addresses->local_ip == "::2");
    CHECK(six.addresses->remote_port == 7);
    auto local = parse_proxy_header(v2(0x20, 0x00, ""));
    REQUIRE(local.state == State::done);
    CHECK_FALSE(local.addresses);
    CHECK(parse_proxy_header(v2(0x31, 0x11, body)).state == State::error);   // version 3
    CHECK(parse_proxy_header(v2(0x22, 0x11, body)).state == State::error);   // command 2
    CHECK(parse_proxy_header(v2(0x21, 0x11, "abc")).state == State::error);  // short
    CHECK(parse_proxy_header(v2(0x21, 0x11, std::string(3000, 'x'))).state == State::error);
}
