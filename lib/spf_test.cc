// Unit tests for lib/spf.h: libspf2 evaluation over a fake DNS (the custom DNS layer),
// every result, and the reverse-name helper. The same records against a real dnsmasq
// are in tests/integration/test_spf.py.
#include <doctest/doctest.h>
#include <map>
#include <string>
#include "lib/spf.h"

namespace {

// A zone in memory: TXT and A records by name; names in `broken` fail temporarily.
struct FakeZone {
    std::multimap<std::string, std::string> txt, a;
    std::map<std::string, std::string> ptr;   // ip -> name
    std::vector<std::string> broken;
    std::vector<std::string> asked;            // "TXT name", in order

    template <typename Map>
    dns::Answer<std::string> answer(const Map& m, const std::string& name, const char* type) {
        asked.push_back(std::string(type) + " " + name);
        dns::Answer<std::string> ans;
        for (const auto& b : broken)
            if (b == name) return ans;   // tempfail
        auto [lo, hi] = m.equal_range(name);
        for (auto it = lo; it != hi; ++it) ans.records.push_back(it->second);
        bool known = txt.count(name) || this->a.count(name);
        ans.outcome = !ans.records.empty() ? dns::Outcome::ok
                      : known             ? dns::Outcome::nodata
                                          : dns::Outcome::nxdomain;
        return ans;
    }

    spf::Lookups lookups() {
        spf::Lookups l;
        l.txt = [this](const std::string& n) { return answer(txt, n, "TXT"); };
        l.a = [this](const std::string& n) { return answer(a, n, "A"); };
        l.aaaa = [this](const std::string& n) { return answer(std::multimap<std::string, std::string>{}, n, "AAAA"); };
        l.mx = [this](const std::string& n) {
            asked.push_back("MX " + n);
            dns::Answer<dns::MxRecord> ans;
            ans.outcome = dns::Outcome::nxdomain;
            return ans;
        };
        l.ptr = [this](const std::string& ip) {
            asked.push_back("PTR " + ip);
            dns::Answer<std::string> ans;
            ans.outcome = dns::Outcome::nxdomain;
            if (auto it = ptr.find(ip); it != ptr.end()) {
                ans.outcome = dns::Outcome::ok;
                ans.records.push_back(it->second);
            }
            return ans;
        };
        return l;
    }
};

spf::Verdict check(FakeZone& z, const std::string& identity, const std::string& ip = "192.0.2.10",
                   const std::string& helo = "client.test") {
    spf::Request r;
    r.client_ip = ip;
    r.helo = helo;
    r.identity = identity;
    r.receiver = "mx.test";
    return spf::evaluate(r, z.lookups());
}

}  // namespace

TEST_CASE("spf: each policy gives its result") {
    FakeZone z;
    z.txt.insert({"pass.test", "v=spf1 ip4:192.0.2.10 -all"});
    z.txt.insert({"fail.test", "v=spf1 ip4:198.51.100.1 -all"});
    z.txt.insert({"soft.test", "v=spf1 ~all"});
    z.txt.insert({"neutral.test", "v=spf1 ?all"});
    z.txt.insert({"none.test", "just some text"});
    z.txt.insert({"perm.test", "v=spf1 bogus:mechanism -all"});
    z.broken.push_back("temp.test");
    CHECK(check(z, "a@pass.test").result == spf::Result::pass);
    CHECK(check(z, "a@fail.test").result == spf::Result::fail);
    CHECK(check(z, "a@soft.test").result == spf::Result::softfail);
    CHECK(check(z, "a@neutral.test").result == spf::Result::neutral);
    CHECK(check(z, "a@none.test").result == spf::Result::none);
    CHECK(check(z, "a@nxdomain.test").result == spf::Result::none);
    CHECK(check(z, "a@perm.test").result == spf::Result::permerror);
    CHECK(check(z, "a@temp.test").result == spf::Result::temperror);
}

TEST_CASE("spf: two v=spf1 records are a permanent error (RFC 7208 4.5)") {
    FakeZone z;
    z.txt.insert({"two.test", "v=spf1 -all"});
    z.txt.insert({"two.test", "v=spf1 +all"});
    CHECK(check(z, "a@two.test").result == spf::Result::permerror);
}

TEST_CASE("spf: the a mechanism and include go through the lookups") {
    FakeZone z;
    z.txt.insert({"inc.test", "v=spf1 include:servers.test -all"});
    z.txt.insert({"servers.test", "v=spf1 a:out.servers.test -all"});
    z.a.insert({"out.servers.test", "192.0.2.10"});
    CHECK(check(z, "a@inc.test").result == spf::Result::pass);
    CHECK(check(z, "a@inc.test", "192.0.2.11").result == spf::Result::fail);
    bool asked_a = false;
    for (const auto& q : z.asked) asked_a = asked_a || q == "A out.servers.test";
    CHECK(asked_a);
}

TEST_CASE("spf: a temporary failure inside an include is temperror") {
    FakeZone z;
    z.txt.insert({"inc.test", "v=spf1 include:servers.test -all"});
    z.broken.push_back("servers.test");
    CHECK(check(z, "a@inc.test").result == spf::Result::temperror);
}

TEST_CASE("spf: the HELO identity is postmaster@helo") {
    FakeZone z;
    z.txt.insert({"client.test", "v=spf1 ip4:192.0.2.10 -all"});
    auto v = check(z, "", "192.0.2.10", "client.test");
    CHECK(v.result == spf::Result::pass);
    CHECK(v.identity == "postmaster@client.test");
    CHECK(check(z, "", "192.0.2.99", "client.test").result == spf::Result::fail);
}

TEST_CASE("spf: IPv6 clients and ip6 mechanisms") {
    FakeZone z;
    z.txt.insert({"six.test", "v=spf1 ip6:2001:db8::/32 -all"});
    CHECK(check(z, "a@six.test", "2001:db8::5").result == spf::Result::pass);
    CHECK(check(z, "a@six.test", "2001:db9::5").result == spf::Result::fail);
    // An IPv4-mapped client is the IPv4 host.
    z.txt.insert({"four.test", "v=spf1 ip4:192.0.2.10 -all"});
    CHECK(check(z, "a@four.test", "::ffff:192.0.2.10").result == spf::Result::pass);
}

TEST_CASE("spf: comments and explanations name the identity and the client") {
    FakeZone z;
    z.txt.insert({"fail.test", "v=spf1 -all"});
    z.txt.insert({"exp.test", "v=spf1 -all exp=why.exp.test"});
    z.txt.insert({"why.exp.test", "%{i} may not send for %{d}"});
    auto v = check(z, "a@fail.test");
    CHECK(v.comment == "mx.test: domain of a@fail.test does not designate 192.0.2.10 as permitted sender");
    CHECK(v.explanation == "fail.test does not designate 192.0.2.10 as a permitted sender");
    CHECK(check(z, "a@exp.test").explanation == "192.0.2.10 may not send for exp.test");
    z.txt.insert({"pass.test", "v=spf1 +all"});
    CHECK(check(z, "a@pass.test").comment ==
          "mx.test: domain of a@pass.test designates 192.0.2.10 as permitted sender");
}

TEST_CASE("spf: no domain to check is none; a bad client address permerror") {
    FakeZone z;
    CHECK(check(z, "", "192.0.2.10", "").result == spf::Result::none);
    CHECK(check(z, "a@x.test", "not-an-ip").result == spf::Result::permerror);
}

TEST_CASE("spf: keywords and RFC names") {
    CHECK(spf::keyword(spf::Result::temperror) == "error");
    CHECK(spf::keyword(spf::Result::permerror) == "unknown");
    CHECK(spf::rfc_name(spf::Result::temperror) == "temperror");
    CHECK(spf::rfc_name(spf::Result::softfail) == "softfail");
    CHECK(spf::result_from_keyword("unknown") == spf::Result::permerror);
    CHECK(spf::result_from_keyword("permerror") == spf::Result::permerror);
    CHECK(!spf::result_from_keyword("all"));
}

TEST_CASE("spf: reverse names back to addresses") {
    CHECK(spf::ip_from_reverse_name("10.2.0.192.in-addr.arpa") == "192.0.2.10");
    CHECK(spf::ip_from_reverse_name("10.2.0.192.IN-ADDR.ARPA.") == "192.0.2.10");
    CHECK(spf::ip_from_reverse_name("5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa") ==
          "2001:db8::5");
    CHECK(!spf::ip_from_reverse_name("example.com"));
    CHECK(!spf::ip_from_reverse_name("300.2.0.192.in-addr.arpa"));
}

TEST_CASE("spf: the ptr mechanism asks PTR by address") {
    FakeZone z;
    z.txt.insert({"ptr.test", "v=spf1 ptr:ptr.test -all"});
    z.ptr["192.0.2.10"] = "host.ptr.test";
    z.a.insert({"host.ptr.test", "192.0.2.10"});
    CHECK(check(z, "a@ptr.test").result == spf::Result::pass);
}

TEST_CASE("spf: libspf2 passes loopback clients without a lookup") {
    FakeZone z;
    z.txt.insert({"fail.test", "v=spf1 -all"});
    CHECK(check(z, "a@fail.test", "127.0.0.1").result == spf::Result::pass);
    CHECK(z.asked.empty());
}

TEST_CASE("spf: a UTF-8 domain is asked in its A-label form") {
    FakeZone z;
    z.txt.insert({"xn--bcher-kva.test", "v=spf1 ip4:192.0.2.10 -all"});
    CHECK(check(z, "a@b\xc3\xbc" "cher.test").result == spf::Result::pass);
}
