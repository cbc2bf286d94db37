// Unit tests for the DANE rules (dane.h), the esmtproutes DANE flags, the MX plan's
// DNSSEC status and the DANE/MTA-STS combination (outbound_session.h).
#include <doctest/doctest.h>
#include "esmtp/dane.h"
#include "esmtp/outbound_route.h"
#include "esmtp/outbound_session.h"

using namespace outbound;

namespace {
dns::TlsaRecord rec(uint8_t u, uint8_t s, uint8_t m, size_t len) {
    return {u, s, m, std::string(len, '\x5a')};
}

dns::Answer<dns::TlsaRecord> answer(dns::Outcome o, bool secure, std::vector<dns::TlsaRecord> r = {}) {
    dns::Answer<dns::TlsaRecord> a;
    a.outcome = o;
    a.secure = secure;
    a.records = std::move(r);
    if (o == dns::Outcome::tempfail) a.error = "SERVFAIL";
    return a;
}

class SignedLookup : public Lookup {
public:
    bool mx_secure = true, a_secure = true;
    dns::Answer<dns::MxRecord> mx(std::string_view) override {
        dns::Answer<dns::MxRecord> a;
        a.outcome = dns::Outcome::ok;
        a.secure = mx_secure;
        a.records = {{10, "mx.signed.test"}};
        return a;
    }
    dns::Answer<std::string> a(std::string_view) override {
        dns::Answer<std::string> r;
        r.outcome = dns::Outcome::ok;
        r.secure = a_secure;
        r.records = {"192.0.2.1"};
        return r;
    }
    dns::Answer<std::string> aaaa(std::string_view) override {
        dns::Answer<std::string> r;
        r.outcome = dns::Outcome::nodata;
        r.secure = a_secure;
        return r;
    }
    bool is_self(std::string_view, const std::vector<std::string>&) override { return false; }
};
}  // namespace

TEST_CASE("TLSA records usable for SMTP: DANE-TA and DANE-EE only, digest lengths checked") {
    CHECK(tlsa_usable_for_smtp(rec(3, 1, 1, 32)));
    CHECK(tlsa_usable_for_smtp(rec(3, 0, 2, 64)));
    CHECK(tlsa_usable_for_smtp(rec(2, 0, 0, 300)));
    CHECK_FALSE(tlsa_usable_for_smtp(rec(0, 0, 1, 32)));   // PKIX-TA
    CHECK_FALSE(tlsa_usable_for_smtp(rec(1, 1, 1, 32)));   // PKIX-EE
    CHECK_FALSE(tlsa_usable_for_smtp(rec(3, 2, 1, 32)));   // selector
    CHECK_FALSE(tlsa_usable_for_smtp(rec(3, 1, 3, 32)));   // matching type
    CHECK_FALSE(tlsa_usable_for_smtp(rec(3, 1, 1, 31)));   // short digest
    CHECK_FALSE(tlsa_usable_for_smtp(rec(3, 1, 0, 0)));    // empty full data
    CHECK(usable_tlsa({rec(1, 1, 1, 32), rec(3, 1, 1, 32)}).size() == 1);
    CHECK(tlsa_name("mx.example", 25) == "_25._tcp.mx.example");
}

TEST_CASE("DANE decision per MX host (RFC 7672 2.2)") {
    using K = DaneDecision::Kind;
    auto ok = answer(dns::Outcome::ok, true, {rec(3, 1, 1, 32)});
    CHECK(decide_dane(DaneSetting::automatic, true, &ok).kind == K::authenticate);
    CHECK(decide_dane(DaneSetting::automatic, true, &ok).records.size() == 1);
    // An insecure host is never looked up: opportunistic, or deferred when DANE is required.
    CHECK(decide_dane(DaneSetting::automatic, false, nullptr).kind == K::opportunistic);
    CHECK(decide_dane(DaneSetting::required, false, nullptr).kind == K::defer);
    // A TLSA lookup that failed (SERVFAIL, bogus) for a secure host: defer, never downgrade.
    auto bogus = answer(dns::Outcome::tempfail, false);
    CHECK(decide_dane(DaneSetting::automatic, true, &bogus).kind == K::defer);
    // Secure denial: opportunistic unless required.
    auto none = answer(dns::Outcome::nxdomain, true);
    CHECK(decide_dane(DaneSetting::automatic, true, &none).kind == K::opportunistic);
    CHECK(decide_dane(DaneSetting::required, true, &none).kind == K::defer);
    // TLSA records from an insecure zone cut are ignored.
    auto insecure = answer(dns::Outcome::ok, false, {rec(3, 1, 1, 32)});
    CHECK(decide_dane(DaneSetting::automatic, true, &insecure).kind == K::opportunistic);
    // Only unusable records: mandatory unauthenticated TLS.
    auto pkix = answer(dns::Outcome::ok, true, {rec(1, 1, 1, 32)});
    CHECK(decide_dane(DaneSetting::automatic, true, &pkix).kind == K::encrypt);
    CHECK(decide_dane(DaneSetting::required, true, &pkix).kind == K::defer);
    CHECK(decide_dane(DaneSetting::off, true, &ok).kind == K::opportunistic);
}

TEST_CASE("esmtproutes DANE and MTA-STS flags") {
    auto e = parse_route_line("example.com: /SECURITY=DANE");
    REQUIRE(e);
    CHECK(e->dane == DaneSetting::required);
    e = parse_route_line("example.com: /DANE=OFF /MTASTS=OFF");
    REQUIRE(e);
    CHECK(e->dane == DaneSetting::off);
    CHECK_FALSE(e->mta_sts);
    CHECK(parse_route_line("example.com:")->dane == DaneSetting::automatic);
    CHECK_FALSE(parse_route_line("example.com: /DANE=MAYBE"));
}

TEST_CASE("the MX plan marks hosts whose MX and address records are DNSSEC-secure") {
    std::mt19937 rng(1);
    SignedLookup l;
    auto p = plan_route("signed.test", {}, l, rng);
    REQUIRE(p.targets.size() == 1);
    CHECK(p.targets[0].dnssec);
    l.mx_secure = false;
    CHECK_FALSE(plan_route("signed.test", {}, l, rng).targets[0].dnssec);
    l.mx_secure = true;
    l.a_secure = false;
    CHECK_FALSE(plan_route("signed.test", {}, l, rng).targets[0].dnssec);
}

TEST_CASE("DANE wins over MTA-STS; MTA-STS applies otherwise") {
    mta_sts::Policy enforce;
    enforce.mode = mta_sts::Mode::enforce;
    enforce.mx = {"*.example.com"};
    DaneDecision dane;
    dane.kind = DaneDecision::Kind::authenticate;
    CHECK(combine_policies(dane, &enforce).sts == StsCheck::none);
    dane.kind = DaneDecision::Kind::opportunistic;
    auto tp = combine_policies(dane, &enforce);
    CHECK(tp.sts == StsCheck::enforce);
    CHECK(tp.must_tls(Security::none));
    mta_sts::Policy testing = enforce;
    testing.mode = mta_sts::Mode::testing;
    CHECK(combine_policies(dane, &testing).sts == StsCheck::testing);
    CHECK_FALSE(combine_policies(dane, &testing).must_tls(Security::none));
    CHECK(combine_policies(dane, nullptr).sts == StsCheck::none);
    dane.kind = DaneDecision::Kind::encrypt;
    CHECK(combine_policies(dane, nullptr).must_tls(Security::none));
}

TEST_CASE("MTA-STS enforce drops MX hosts outside the policy; testing keeps them") {
    mta_sts::Policy p;
    p.mode = mta_sts::Mode::enforce;
    p.mx = {"mx1.example.com", "*.backup.example.com"};
    std::vector<Target> t = {{"mx1.example.com", "192.0.2.1"}, {"evil.example.net", "192.0.2.2"},
                             {"a.backup.example.com", "192.0.2.3"}};
    std::vector<std::string> refused;
    auto kept = sts_filter_targets(t, p, &refused);
    REQUIRE(kept.size() == 2);
    CHECK(kept[1].host == "a.backup.example.com");
    CHECK(refused == std::vector<std::string>{"evil.example.net"});
    p.mode = mta_sts::Mode::testing;
    refused.clear();
    CHECK(sts_filter_targets(t, p, &refused).size() == 3);
    CHECK(refused.size() == 1);
}
