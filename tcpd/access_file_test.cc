// Unit tests for the access file rules (couriertcpd(1), "ACCESS FILE"; makesmtpaccess).
#include <doctest/doctest.h>

#include "tcpd/access_file.h"

using namespace tcpd;
using Keys = std::vector<std::string>;

TEST_CASE("access keys: IPv4 most specific first, then *") {
    CHECK(access_keys("192.168.0.10") == Keys{"192.168.0.10", "192.168.0", "192.168", "192", "*"});
    CHECK(access_keys("not an address").empty());
    CHECK(access_keys("").empty());
}

TEST_CASE("access keys: IPv4-mapped IPv6 is looked up as IPv4") {
    CHECK(access_keys("::ffff:10.1.2.3") == Keys{"10.1.2.3", "10.1.2", "10.1", "10", "*"});
}

TEST_CASE("access keys: IPv6 in 16-bit steps in the :hhhh form") {
    auto k = access_keys("2001:DB8::f643:a2:9354");
    REQUIRE(k.size() == 9);
    CHECK(k[0] == ":2001:0db8:0000:0000:0000:f643:00a2:9354");
    CHECK(k[1] == ":2001:0db8:0000:0000:0000:f643:00a2");
    CHECK(k[6] == ":2001:0db8");
    CHECK(k[7] == ":2001");
    CHECK(k[8] == "*");
}

TEST_CASE("access keys: -accesslocal forms") {
    CHECK(access_local_keys("1.2.3.4", 25) == Keys{"1.2.3.4.25", "1.2.3.4", "*.25"});
    CHECK(access_local_keys("::1", 587) ==
          Keys{":0000:0000:0000:0000:0000:0000:0000:0001.587",
               ":0000:0000:0000:0000:0000:0000:0000:0001", "*.587"});
}

TEST_CASE("access values: allow with variables, deny") {
    auto r = parse_access_value("allow,RELAYCLIENT,SIZELIMIT=1000000");
    REQUIRE(r);
    CHECK(r->allow);
    REQUIRE(r->variables.size() == 2);
    CHECK(r->variables[0] == std::pair<std::string, std::string>{"RELAYCLIENT", ""});
    CHECK(r->variables[1] == std::pair<std::string, std::string>{"SIZELIMIT", "1000000"});
    CHECK_FALSE(r->max_per_ip());
    auto d = parse_access_value("deny");
    REQUIRE(d);
    CHECK_FALSE(d->allow);
    CHECK(parse_access_value("allow,MAXCPERIP=100")->max_per_ip() == 100u);
    CHECK(parse_access_value("ALLOW")->allow);
}

TEST_CASE("access values: errors") {
    CHECK_FALSE(parse_access_value("permit"));
    CHECK_FALSE(parse_access_value("allow,1BAD"));
    CHECK_FALSE(parse_access_value("allow,BAD NAME=1"));
    CHECK_FALSE(parse_access_value("deny,RELAYCLIENT"));
    CHECK_FALSE(parse_access_value("allow,MAXCPERIP=lots"));
}

namespace {
AccessRecords compile(const char* line) {
    auto r = compile_access_line(line);
    REQUIRE_MESSAGE(r, line);
    return *r;
}
}  // namespace

TEST_CASE("text lines: netblocks, comments, normalization") {
    CHECK(compile("").empty());
    CHECK(compile("   ").empty());
    CHECK(compile("# a comment\tdeny").empty());
    CHECK(compile("192.168.0\tdeny") == AccessRecords{{"192.168.0", "deny"}});
    CHECK(compile("192.168.0.10\tallow,RELAYCLIENT\r") ==
          AccessRecords{{"192.168.0.10", "allow,RELAYCLIENT"}});
    CHECK(compile("*\tdeny") == AccessRecords{{"*", "deny"}});
    CHECK(compile(":3ffe\tdeny") == AccessRecords{{":3ffe", "deny"}});
    CHECK(compile(":2002:C0A8\tdeny") == AccessRecords{{":2002:c0a8", "deny"}});
    CHECK(compile(":0000:0000:0000:0000:0000:f643:00a2:9354\tdeny") ==
          AccessRecords{{":0000:0000:0000:0000:0000:f643:00a2:9354", "deny"}});
    CHECK(compile("2001:db8::1\tallow") ==
          AccessRecords{{":2001:0db8:0000:0000:0000:0000:0000:0001", "allow"}});
    CHECK(compile("::ffff:10.0.0.1\tallow") == AccessRecords{{"10.0.0.1", "allow"}});
    CHECK(compile("1.2.3.4.25\tallow,PORT25") == AccessRecords{{"1.2.3.4.25", "allow,PORT25"}});
    CHECK(compile("*.587\tallow,MSA") == AccessRecords{{"*.587", "allow,MSA"}});
}

TEST_CASE("text lines: CIDR expanded to netblocks") {
    CHECK(compile("192.168.0.0/22\tallow,RELAYCLIENT") ==
          AccessRecords{{"192.168.0", "allow,RELAYCLIENT"}, {"192.168.1", "allow,RELAYCLIENT"},
                        {"192.168.2", "allow,RELAYCLIENT"}, {"192.168.3", "allow,RELAYCLIENT"}});
    CHECK(compile("10.0.0.0/8\tdeny") == AccessRecords{{"10", "deny"}});
    CHECK(compile("10.1.2.3/32\tdeny") == AccessRecords{{"10.1.2.3", "deny"}});
    CHECK(compile("0.0.0.0/0\tdeny") == AccessRecords{{"*", "deny"}});
    CHECK(compile("10.1.2.200/31\tdeny") ==
          AccessRecords{{"10.1.2.200", "deny"}, {"10.1.2.201", "deny"}});
    // Host bits are cleared, as Net::CIDR does.
    CHECK(compile("172.16.5.9/12\tdeny").front().first == "172.16");
    CHECK(compile("172.16.5.9/12\tdeny").size() == 16);
    CHECK(compile("172.16.5.9/12\tdeny").back().first == "172.31");
    CHECK(compile("2001:db8::/32\tdeny") == AccessRecords{{":2001:0db8", "deny"}});
    CHECK(compile("2001:db8::/31\tdeny") ==
          AccessRecords{{":2001:0db8", "deny"}, {":2001:0db9", "deny"}});
    CHECK(compile(":2002:c0a8/32\tdeny") == AccessRecords{{":2002:c0a8", "deny"}});
}

TEST_CASE("text lines: errors") {
    CHECK_FALSE(compile_access_line("192.168.0.1 deny"));        // no tab
    CHECK_FALSE(compile_access_line("192.168.0.256\tdeny"));
    CHECK_FALSE(compile_access_line("1.2.3.4.5.6\tdeny"));
    CHECK_FALSE(compile_access_line("1.2.3.4.0\tdeny"));
    CHECK_FALSE(compile_access_line("host.example\tdeny"));
    CHECK_FALSE(compile_access_line(":12345\tdeny"));
    CHECK_FALSE(compile_access_line("192.168.0.0/33\tdeny"));
    CHECK_FALSE(compile_access_line("2001:db8::/33\tdeny"));     // 32768 entries
    CHECK_FALSE(compile_access_line("192.168.0\tmaybe"));
}
