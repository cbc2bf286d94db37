// Unit tests for couriertcpd's access decision (most specific entry, -accesslocal).
#include <doctest/doctest.h>

#include <map>

#include "tcpd/access_table.h"

using namespace tcpd;

namespace {
struct Table {
    std::map<std::string, std::string> records;
    std::vector<std::string> warnings;
    AccessDecision check(const char* ip, bool local = false, const char* lip = "10.9.9.9",
                         unsigned port = 25) {
        return decide_access(
            [this](const std::string& k) -> std::optional<std::string> {
                auto it = records.find(k);
                if (it == records.end()) return std::nullopt;
                return it->second;
            },
            ip, local, lip, port, [this](const std::string& w) { warnings.push_back(w); });
    }
};
}  // namespace

TEST_CASE("access decision: most specific entry wins, only that one is used") {
    Table t;
    t.records = {{"192.168.0", "allow,RELAYCLIENT"},
                 {"192.168.0.10", "allow,SIZELIMIT=1000000"},
                 {"192.168.1", "deny"},
                 {"*", "deny"}};
    auto a = t.check("192.168.0.10");
    CHECK(a.allow);
    CHECK(a.matched == "192.168.0.10");
    CHECK(a.variables == std::vector<std::pair<std::string, std::string>>{{"SIZELIMIT", "1000000"}});
    auto b = t.check("192.168.0.11");
    CHECK(b.allow);
    CHECK(b.variables.front().first == "RELAYCLIENT");
    CHECK_FALSE(t.check("192.168.1.1").allow);
    CHECK_FALSE(t.check("10.0.0.1").allow);      // "*"
    CHECK(t.check("::ffff:192.168.0.10").matched == "192.168.0.10");
    t.records.erase("*");
    auto none = t.check("10.0.0.1");
    CHECK(none.allow);
    CHECK(none.matched.empty());
}

TEST_CASE("access decision: IPv6 netblocks, MAXCPERIP, broken records") {
    Table t;
    t.records = {{":2001:0db8", "allow,MAXCPERIP=3"}, {":3ffe", "deny"}, {"1.2.3.4", "garbage"}};
    auto a = t.check("2001:db8::5");
    CHECK(a.allow);
    CHECK(a.max_per_ip == 3u);
    CHECK_FALSE(t.check("3ffe::1").allow);
    auto g = t.check("1.2.3.4");
    CHECK(g.allow);
    CHECK(g.matched.empty());
    CHECK(t.warnings.size() == 1);
}

TEST_CASE("access decision: -accesslocal") {
    Table t;
    t.records = {{"10.9.9.9.25", "allow,PORT25"}, {"10.9.9.9", "allow,IFACE"}, {"*.587", "allow,MSA"},
                 {"10.9.9.8", "deny"}, {"1.1.1.1", "allow,REMOTE"}};
    auto a = t.check("1.1.1.1", true, "10.9.9.9", 25);
    CHECK(a.variables == std::vector<std::pair<std::string, std::string>>{{"REMOTE", ""}, {"PORT25", ""}});
    CHECK(t.check("1.1.1.1", true, "10.9.9.9", 26).variables.back().first == "IFACE");
    CHECK(t.check("1.1.1.1", true, "10.1.1.1", 587).variables.back().first == "MSA");
    CHECK_FALSE(t.check("1.1.1.1", true, "10.9.9.8", 25).allow);
    CHECK(t.check("1.1.1.1", false, "10.9.9.8", 25).allow);
}
