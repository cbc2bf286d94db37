// Unit tests for esmtproutes parsing/matching and MX planning (outbound_route.h).
#include <doctest/doctest.h>
#include <unistd.h>
#include <cstdio>
#include <map>
#include "esmtp/outbound_route.h"

using namespace outbound;

namespace {
class FakeLookup : public Lookup {
public:
    std::map<std::string, dns::Answer<dns::MxRecord>> mxs;
    std::map<std::string, std::vector<std::string>> as;
    std::string self;
    dns::Answer<dns::MxRecord> mx(std::string_view d) override {
        auto it = mxs.find(std::string(d));
        if (it != mxs.end()) return it->second;
        dns::Answer<dns::MxRecord> a;
        a.outcome = as.count(std::string(d)) ? dns::Outcome::nodata : dns::Outcome::nxdomain;
        return a;
    }
    dns::Answer<std::string> a(std::string_view n) override {
        dns::Answer<std::string> r;
        auto it = as.find(std::string(n));
        r.outcome = it == as.end() ? dns::Outcome::nxdomain : dns::Outcome::ok;
        if (it != as.end()) r.records = it->second;
        return r;
    }
    dns::Answer<std::string> aaaa(std::string_view) override {
        dns::Answer<std::string> r;
        r.outcome = dns::Outcome::nodata;
        return r;
    }
    bool is_self(std::string_view host, const std::vector<std::string>&) override { return host == self; }
    void add_mx(const std::string& d, std::vector<dns::MxRecord> recs) {
        dns::Answer<dns::MxRecord> a;
        a.outcome = dns::Outcome::ok;
        a.records = std::move(recs);
        mxs[d] = a;
    }
};
}  // namespace

TEST_CASE("esmtproutes: line forms") {
    auto e = parse_route_line("example.com: relay.domain.com");
    REQUIRE(e);
    CHECK(e->domain == "example.com");
    CHECK(e->relay == "relay.domain.com");
    CHECK(e->port == 25);
    e = parse_route_line(".example.com: [192.168.0.3],26");
    REQUIRE(e);
    CHECK(e->domain == ".example.com");
    CHECK(e->relay == "[192.168.0.3]");
    CHECK(e->port == 26);
    e = parse_route_line(": relay.example.com,465 /SECURITY=SMTPS");
    REQUIRE(e);
    CHECK(e->domain.empty());
    CHECK(e->port == 465);
    CHECK(e->security == Security::smtps);
    e = parse_route_line("example.com:");
    REQUIRE(e);
    CHECK(e->relay.empty());
    e = parse_route_line("x.com: [::1],2525/SECURITY=REQUIRED");
    REQUIRE(e);
    CHECK(e->relay == "[::1]");
    CHECK(e->port == 2525);
    CHECK(e->security == Security::required);
    CHECK_FALSE(parse_route_line("no colon here"));
    CHECK_FALSE(parse_route_line("a.com: [300.1.1.1]"));
    CHECK_FALSE(parse_route_line("a.com: b.com,99999"));
    CHECK_FALSE(parse_route_line("a.com: b.com/SECURITY=MAYBE"));
}

TEST_CASE("esmtproutes: first match wins, .domain matches subdomains only, empty is smarthost") {
    std::vector<RouteEntry> routes;
    for (const char* l : {"example.com: relay1.test", ".example.com: [10.0.0.3]", "other.com:", ": [10.0.0.4]"})
        routes.push_back(*parse_route_line(l));
    CHECK(match_route(routes, "example.com")->relay == "relay1.test");
    CHECK(match_route(routes, "EXAMPLE.com.")->relay == "relay1.test");
    CHECK(match_route(routes, "a.example.com")->relay == "[10.0.0.3]");
    CHECK(match_route(routes, "other.com")->relay.empty());
    CHECK(match_route(routes, "xexample.com")->relay == "[10.0.0.4]");
    routes.pop_back();
    CHECK_FALSE(match_route(routes, "elsewhere.org"));
}

TEST_CASE("MX order: lowest preference first, equal preferences shuffled") {
    std::mt19937 rng(1);
    std::vector<dns::MxRecord> mx = {{20, "c"}, {10, "a"}, {10, "b"}, {30, "d"}};
    bool saw_a_first = false, saw_b_first = false;
    for (int i = 0; i < 50; ++i) {
        auto o = order_mx(mx, rng);
        REQUIRE(o.size() == 4);
        CHECK(o[0].preference == 10);
        CHECK(o[2].host == "c");
        CHECK(o[3].host == "d");
        saw_a_first |= o[0].host == "a";
        saw_b_first |= o[0].host == "b";
    }
    CHECK(saw_a_first);
    CHECK(saw_b_first);
    auto own = order_mx(mx, rng, 20u);
    CHECK(own.size() == 2);
}

TEST_CASE("route plan: MX, implicit MX, null MX, NXDOMAIN, own host") {
    FakeLookup l;
    std::mt19937 rng(2);
    l.add_mx("ex.test", {{20, "mx2.ex.test"}, {10, "mx1.ex.test"}});
    l.as["mx1.ex.test"] = {"127.0.0.2"};
    l.as["mx2.ex.test"] = {"127.0.0.3"};
    auto p = plan_route("ex.test", {}, l, rng);
    REQUIRE(p.kind == RoutePlan::Kind::ok);
    REQUIRE(p.targets.size() == 2);
    CHECK(p.targets[0].address == "127.0.0.2");
    CHECK(p.targets[1].address == "127.0.0.3");

    l.as["plain.test"] = {"127.0.0.4"};
    p = plan_route("plain.test", {}, l, rng);
    REQUIRE(p.kind == RoutePlan::Kind::ok);
    CHECK(p.targets[0].address == "127.0.0.4");

    l.add_mx("null.test", {{0, ""}});
    p = plan_route("null.test", {}, l, rng);
    CHECK(p.kind == RoutePlan::Kind::permfail);
    CHECK(p.error.rfind("556 5.1.10", 0) == 0);

    p = plan_route("nowhere.test", {}, l, rng);
    CHECK(p.kind == RoutePlan::Kind::permfail);

    l.self = "mx1.ex.test";
    p = plan_route("ex.test", {}, l, rng);
    CHECK(p.kind == RoutePlan::Kind::permfail);   // we are the best MX: nothing better left
    l.self = "mx2.ex.test";
    p = plan_route("ex.test", {}, l, rng);
    REQUIRE(p.kind == RoutePlan::Kind::ok);
    CHECK(p.targets.size() == 1);
}

TEST_CASE("route plan: esmtproutes relay by name, literal and port") {
    FakeLookup l;
    std::mt19937 rng(3);
    l.as["relay.test"] = {"127.0.0.9"};
    std::vector<RouteEntry> routes = {*parse_route_line("a.test: relay.test,2525/SECURITY=REQUIRED"),
                                      *parse_route_line("b.test: [127.0.0.7],26")};
    auto p = plan_route("a.test", routes, l, rng);
    REQUIRE(p.kind == RoutePlan::Kind::ok);
    CHECK(p.targets[0].address == "127.0.0.9");
    CHECK(p.targets[0].port == 2525);
    CHECK(p.security == Security::required);
    p = plan_route("b.test", routes, l, rng);
    REQUIRE(p.kind == RoutePlan::Kind::ok);
    CHECK(p.targets[0].address == "127.0.0.7");
    CHECK(p.targets[0].port == 26);
}

TEST_CASE("source settings: ipout, ipout.<vhost>, empty means the same address, esmtphelo") {
    char tmpl[] = "/tmp/outboundcfgXXXXXX";
    REQUIRE(mkdtemp(tmpl));
    std::string dir = tmpl;
    auto write = [&](const std::string& name, const std::string& text) {
        FILE* f = std::fopen((dir + "/" + name).c_str(), "w");
        REQUIRE(f);
        std::fputs(text.c_str(), f);
        std::fclose(f);
    };
    ConfigDir cfg(dir);
    write("me", "mx.example\n");
    write("ipout", "192.0.2.1\n");
    write("ipout.192.0.2.7", "");
    write("ip6out.192.0.2.8", "2001:db8::8\n");
    auto s = source_settings(cfg, "");
    CHECK(s.ipout == "192.0.2.1");
    CHECK(s.ip6out.empty());
    CHECK(s.helo == "mx.example");
    CHECK(source_settings(cfg, "192.0.2.7").ipout == "192.0.2.7");
    CHECK(source_settings(cfg, "192.0.2.8").ipout == "192.0.2.1");
    CHECK(source_settings(cfg, "192.0.2.8").ip6out == "2001:db8::8");
    write("esmtphelo", "*\n");
    CHECK(source_settings(cfg, "").helo == "*");
    write("esmtptimeoutconnect", "2m\n");
    write("esmtpdelay", "0\n");
    CHECK(load_timeouts(cfg).connect == 120);
    CHECK(load_timeouts(cfg).command == 600);
    CHECK(load_esmtpdelay(cfg) == 0);
    CHECK(load_max_sessions(cfg) == 4);
    for (const char* f : {"me", "ipout", "ipout.192.0.2.7", "ip6out.192.0.2.8", "esmtphelo", "esmtptimeoutconnect", "esmtpdelay"})
        std::remove((dir + "/" + f).c_str());
    rmdir(dir.c_str());
}
