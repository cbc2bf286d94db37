// Unit tests for lib/dns.h: RDATA decoding, reverse names, options. Lookups against a
// real server are covered by the integration tests (tests/dnsmasq.py).
#include <doctest/doctest.h>
#include <cstdlib>
#include <fstream>
#include <string>
#include <unistd.h>
#include "lib/dns.h"

using namespace std::string_literals;

TEST_CASE("dns: MX rdata decodes preference and host") {
    std::string rd = "\x00\x0a"s + "\x03mx1\x07" "example\x04test\x00"s;
    auto r = dns::decode_mx(rd);
    REQUIRE(r);
    CHECK(r->preference == 10);
    CHECK(r->host == "mx1.example.test");
}

TEST_CASE("dns: null MX decodes to an empty host") {
    std::string rd = "\x00\x00\x00"s;
    auto r = dns::decode_mx(rd);
    REQUIRE(r);
    CHECK(r->preference == 0);
    CHECK(r->host.empty());
}

TEST_CASE("dns: truncated or compressed names are refused") {
    CHECK_FALSE(dns::decode_mx("\x00\x0a\x05mx"s));
    CHECK_FALSE(dns::decode_mx("\x00\x0a\xc0\x0c"s));
    CHECK_FALSE(dns::decode_mx("\x00"s));
}

TEST_CASE("dns: TXT character-strings are concatenated") {
    auto t = dns::decode_txt("\x03" "abc\x02" "de"s);
    REQUIRE(t);
    CHECK(*t == "abcde");
    CHECK_FALSE(dns::decode_txt("\x05" "ab"s));
}

TEST_CASE("dns: reverse labels") {
    CHECK(dns::reverse_labels("192.0.2.1") == "1.2.0.192"s);
    auto v6 = dns::reverse_labels("2001:db8::1");
    REQUIRE(v6);
    CHECK(*v6 == "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2");
    CHECK_FALSE(dns::reverse_labels("example.com"));
}

TEST_CASE("dns: options from the dnsserver file win over the environment") {
    char tmpl[] = "/tmp/dnstestXXXXXX";
    REQUIRE(mkdtemp(tmpl));
    std::string dir = tmpl;
    setenv("COURIER_DNS_SERVER", "127.0.0.1@5353", 1);
    CHECK(dns::options_from_config(dir).servers == std::vector<std::string>{"127.0.0.1@5353"});
    { std::ofstream(dir + "/dnsserver") << "127.0.0.2@53 127.0.0.3\n"; }
    CHECK(dns::options_from_config(dir).servers == std::vector<std::string>{"127.0.0.2@53", "127.0.0.3"});
    unsetenv("COURIER_DNS_SERVER");
    unlink((dir + "/dnsserver").c_str());
    CHECK(dns::options_from_config(dir).servers.empty());
    rmdir(dir.c_str());
}
