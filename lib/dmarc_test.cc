// Unit tests for lib/dmarc.h: record parsing, organisational domains (built-in rule
// and public suffix list rules), alignment and evaluation with a fake TXT lookup.
#include <doctest/doctest.h>
#include <map>
#include <string>
#include "lib/dmarc.h"

namespace {

dmarc::TxtLookup serve(std::map<std::string, std::string> records) {
    return [records](const std::string& q) {
        dns::Answer<std::string> a;
        if (q == "_dmarc.tempfail.test") return a;   // outcome tempfail
        auto it = records.find(q);
        a.outcome = it == records.end() ? dns::Outcome::nxdomain : dns::Outcome::ok;
        if (it != records.end()) a.records.push_back(it->second);
        return a;
    };
}

const dmarc::OrgDomain kTwoLabels = [](std::string_view d) {
    return dmarc::organizational_domain(d, dmarc::PublicSuffixList{});
};

}  // namespace

TEST_CASE("dmarc: record parsing") {
    auto r = dmarc::parse_record("v=DMARC1; p=reject; sp=quarantine; adkim=s; pct=50; rua=mailto:a@b.c,mailto:d@e.f");
    REQUIRE(r);
    CHECK(r->p == dmarc::Disposition::reject);
    CHECK(r->sp == dmarc::Disposition::quarantine);
    CHECK(r->adkim == dmarc::Alignment::strict);
    CHECK(r->aspf == dmarc::Alignment::relaxed);
    CHECK(r->pct == 50);
    CHECK(r->rua.size() == 2);
    CHECK_FALSE(dmarc::parse_record("p=reject; v=DMARC1"));
    CHECK_FALSE(dmarc::parse_record("v=DMARC1"));
    CHECK_FALSE(dmarc::parse_record("v=DMARC1; p=bogus"));
    CHECK(dmarc::parse_record("v=DMARC1; p=bogus; rua=mailto:x@y.z")->p == dmarc::Disposition::none);
    CHECK_FALSE(dmarc::parse_record("v=DMARC1; p=none; pct=101"));
    CHECK_FALSE(dmarc::parse_record("v=DMARC1; p=none; aspf=x"));
}

TEST_CASE("dmarc: organisational domain, built-in rule and public suffix list") {
    CHECK(dmarc::organizational_domain("a.b.Example.COM.", dmarc::PublicSuffixList{}) == "example.com");
    CHECK(dmarc::organizational_domain("example.com", dmarc::PublicSuffixList{}) == "example.com");
    auto psl = dmarc::PublicSuffixList::parse("// comment\ncom\nuk\nco.uk\n*.ck\n!www.ck\n");
    CHECK(psl.organizational_domain("mail.example.co.uk") == "example.co.uk");
    CHECK(psl.organizational_domain("a.b.example.com") == "example.com");
    CHECK(psl.organizational_domain("x.y.foo.ck") == "y.foo.ck");
    CHECK(psl.organizational_domain("a.www.ck") == "www.ck");
    CHECK(psl.organizational_domain("co.uk") == "co.uk");
    CHECK(psl.organizational_domain("a.b.unlisted") == "b.unlisted");
}

TEST_CASE("dmarc: strict and relaxed alignment") {
    using dmarc::Alignment;
    CHECK(dmarc::aligned("example.com", "EXAMPLE.com", Alignment::strict, kTwoLabels));
    CHECK_FALSE(dmarc::aligned("example.com", "mail.example.com", Alignment::strict, kTwoLabels));
    CHECK(dmarc::aligned("example.com", "mail.example.com", Alignment::relaxed, kTwoLabels));
    CHECK_FALSE(dmarc::aligned("example.com", "example.net", Alignment::relaxed, kTwoLabels));
    CHECK_FALSE(dmarc::aligned("example.com", "", Alignment::relaxed, kTwoLabels));
}

TEST_CASE("dmarc: evaluation") {
    auto dns = serve({{"_dmarc.pass.test", "v=DMARC1; p=reject"},
                      {"_dmarc.strict.test", "v=DMARC1; p=quarantine; adkim=s; aspf=s"},
                      {"_dmarc.org.test", "v=DMARC1; p=none; sp=reject"},
                      {"_dmarc.half.test", "v=DMARC1; p=reject; pct=50"},
                      {"_dmarc.broken.test", "v=DMARC1; p=maybe"}});
    dmarc::Inputs in;
    in.from_domain = "pass.test";
    in.dkim_pass_domains = {"mail.pass.test"};
    auto e = dmarc::evaluate(in, dns, kTwoLabels, 0);
    CHECK(e.outcome == dmarc::Outcome::pass);
    CHECK(e.dkim_aligned);
    CHECK(e.disposition == dmarc::Disposition::none);

    in.dkim_pass_domains = {"other.test"};
    in.spf_pass = true;
    in.spf_domain = "bounces.pass.test";
    e = dmarc::evaluate(in, dns, kTwoLabels, 0);
    CHECK(e.outcome == dmarc::Outcome::pass);
    CHECK(e.spf_aligned);

    in.spf_pass = false;
    e = dmarc::evaluate(in, dns, kTwoLabels, 0);
    CHECK(e.outcome == dmarc::Outcome::fail);
    CHECK(e.disposition == dmarc::Disposition::reject);

    in.from_domain = "strict.test";
    in.dkim_pass_domains = {"sub.strict.test"};
    e = dmarc::evaluate(in, dns, kTwoLabels, 0);
    CHECK(e.outcome == dmarc::Outcome::fail);
    CHECK(e.disposition == dmarc::Disposition::quarantine);

    in.from_domain = "news.org.test";   // found at the organisational domain: sp= applies
    in.dkim_pass_domains = {};
    e = dmarc::evaluate(in, dns, kTwoLabels, 0);
    CHECK(e.policy_domain == "org.test");
    CHECK(e.disposition == dmarc::Disposition::reject);

    in.from_domain = "half.test";       // pct=50: sampled out means one step less
    CHECK(dmarc::evaluate(in, dns, kTwoLabels, 10).disposition == dmarc::Disposition::reject);
    CHECK(dmarc::evaluate(in, dns, kTwoLabels, 60).disposition == dmarc::Disposition::quarantine);

    in.from_domain = "nothing.test";
    CHECK(dmarc::evaluate(in, dns, kTwoLabels, 0).outcome == dmarc::Outcome::none);
    in.from_domain = "tempfail.test";
    CHECK(dmarc::evaluate(in, dns, kTwoLabels, 0).outcome == dmarc::Outcome::temperror);
    in.from_domain = "broken.test";
    CHECK(dmarc::evaluate(in, dns, kTwoLabels, 0).outcome == dmarc::Outcome::permerror);
}
