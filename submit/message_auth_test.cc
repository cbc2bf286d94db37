// Unit tests for submit/message_auth.h: settings with file:line errors, which job a
// message gets, forged Authentication-Results removal, the header's format, DMARC
// enforcement, and a whole verification with fake DNS and SPF.
#include <doctest/doctest.h>
#include <map>
#include <string>
#include "submit/message_auth.h"

using namespace submit;

TEST_CASE("message_auth: settings and their errors") {
    auto s = parse_message_auth_settings("DKIM_SIGN_CANONICALIZATION=simple/relaxed\nDKIM_OVERSIGN=\"From Subject\"\n"
                                         "DKIM_VERIFY_MAX=3\n", "dkimsettings", "reject");
    CHECK(s.errors.empty());
    CHECK(s.header_canon == dkim::Canon::simple);
    CHECK(s.body_canon == dkim::Canon::relaxed);
    CHECK(s.oversign == std::vector<std::string>{"from", "subject"});
    CHECK(s.max_signatures == 3);
    CHECK(s.enforce == dmarc::Disposition::reject);
    CHECK(s.enforce_where == "dmarcpolicy:1");
    auto bad = parse_message_auth_settings("# c\nDKIM_VERIFY=2\nDKIM_SIGN_CANONICALIZATION=loose\n", "dkimsettings",
                                           "maybe");
    REQUIRE(bad.errors.size() == 3);
    CHECK(bad.errors[0] == "dkimsettings:3: DKIM_SIGN_CANONICALIZATION: not simple|relaxed[/simple|relaxed]");
    CHECK(bad.errors[1] == "dkimsettings:2: DKIM_VERIFY: not 0 or 1");
    CHECK(bad.errors[2] == "dmarcpolicy:1: not none, quarantine or reject");
    CHECK(bad.enforce == dmarc::Disposition::none);
}

TEST_CASE("message_auth: local and authenticated mail is signed, other SMTP mail verified") {
    MessageAuthContext c;
    c.source = "local";
    CHECK(auth_job(c) == AuthJob::sign);
    c.source = "esmtp";
    CHECK(auth_job(c) == AuthJob::verify);
    c.authenticated = c.relay = true;
    CHECK(auth_job(c) == AuthJob::sign);
    c.authenticated = false;   // a relay client by address: neither
    CHECK(auth_job(c) == AuthJob::none);
    c.source = "dsn";
    CHECK(auth_job(c) == AuthJob::none);
}

TEST_CASE("message_auth: forged Authentication-Results are removed") {
    CHECK(authserv_id_of(" (comment) MX.Example.org 1; spf=pass") == "mx.example.org");
    CHECK(authserv_id_of("example.net; none") == "example.net");
    std::string msg = "Authentication-Results: mx.example.org;\n\tdkim=pass header.d=bank.test\n"
                      "Authentication-Results: other.example; dkim=fail\n"
                      "From: a@b.test\n\nbody\nAuthentication-Results: mx.example.org; in the body\n";
    auto out = remove_forged_results(msg, "MX.example.org");
    REQUIRE(out);
    CHECK(*out == "Authentication-Results: other.example; dkim=fail\nFrom: a@b.test\n\nbody\n"
                  "Authentication-Results: mx.example.org; in the body\n");
    CHECK_FALSE(remove_forged_results("From: a@b\n\nx\n", "mx.example.org"));
}

TEST_CASE("message_auth: From: domain and signing domains") {
    CHECK(from_domain("Subject: x\nFrom: \"A, B\" <A@Mail.Example.COM>\n\n") == "mail.example.com");
    CHECK(from_domain("Subject: x\n\n") == "");
    CHECK(signing_domain_candidates("a.b.example.com") ==
          std::vector<std::string>{"a.b.example.com", "b.example.com", "example.com"});
    CHECK(signing_domain_candidates("../etc").empty());
    CHECK(signing_domain_candidates("[1.2.3.4]").empty());
}

TEST_CASE("message_auth: Authentication-Results format") {
    SpfForDmarc spf{spf::Result::pass, "smtp.mailfrom=a@pass.test", "pass.test"};
    dkim::VerifyResult good{dkim::Verdict::pass, "pass.test", "sel", "abcdefgh", "@pass.test", "good"};
    dkim::VerifyResult bad{dkim::Verdict::fail, "x.test", "s2", "12345678", "@x.test", "body hash did not verify"};
    dmarc::Evaluation e;
    e.outcome = dmarc::Outcome::pass;
    e.record = dmarc::Record{};
    CHECK(format_results("mx.test", spf, {good, bad}, e, "pass.test") ==
          "Authentication-Results: mx.test;\n\tspf=pass smtp.mailfrom=a@pass.test;\n"
          "\tdkim=pass header.d=pass.test header.s=sel header.b=abcdefgh;\n"
          "\tdkim=fail reason=\"body hash did not verify\" header.d=x.test header.s=s2 header.b=12345678;\n"
          "\tdmarc=pass (p=none dis=none) header.from=pass.test\n");
    dkim::VerifyResult slash{dkim::Verdict::pass, "a.test", "s", "ab/cdefg", "@a.test", "good"};
    CHECK(format_results("mx.test", spf, {slash}, e, "a.test").find("header.b=\"ab/cdefg\";") != std::string::npos);
    dmarc::Evaluation none;
    CHECK(format_results("mx.test", spf, {}, none, "n.test").find("dkim=none;\n\tdmarc=none header.from=n.test\n") !=
          std::string::npos);
}

TEST_CASE("message_auth: dmarcpolicy decides what a DMARC failure does") {
    dmarc::Evaluation e;
    e.outcome = dmarc::Outcome::fail;
    e.disposition = dmarc::Disposition::reject;
    using A = Enforcement::Action;
    CHECK(decide_enforcement(e, dmarc::Disposition::none).action == A::none);
    CHECK(decide_enforcement(e, dmarc::Disposition::quarantine).action == A::hold);
    CHECK(decide_enforcement(e, dmarc::Disposition::reject).action == A::reject);
    e.disposition = dmarc::Disposition::quarantine;
    CHECK(decide_enforcement(e, dmarc::Disposition::reject).action == A::hold);
    e.outcome = dmarc::Outcome::temperror;   // never enforced
    e.disposition = dmarc::Disposition::reject;
    CHECK(decide_enforcement(e, dmarc::Disposition::reject).action == A::none);
}

TEST_CASE("message_auth: inbound verification, DMARC reject and the header") {
    std::map<std::string, std::string> zone = {{"_dmarc.fail.test", "v=DMARC1; p=reject"}};
    MessageAuthLookups l;
    l.txt = [zone](const std::string& q) {
        dns::Answer<std::string> a;
        auto it = zone.find(q);
        a.outcome = it == zone.end() ? dns::Outcome::nxdomain : dns::Outcome::ok;
        if (it != zone.end()) a.records.push_back(it->second);
        return a;
    };
    l.spf = [](const spf::Request&) { return spf::Result::fail; };
    l.random_percent = [] { return 0; };
    MessageAuthContext c;
    c.source = "esmtp";
    c.authserv_id = "mx.test";
    c.remote_ip = "192.0.2.1";
    c.helo = "client.test";
    c.sender = "a@fail.test";
    ConfigDir cfg("/nonexistent");
    std::string msg = "Authentication-Results: mx.test; dmarc=pass\nFrom: a@fail.test\n\nhi\n";
    auto s = parse_message_auth_settings("", "dkimsettings", "reject");
    AuthOutcome out = authenticate_message(cfg, s, c, msg, l, 0);
    REQUIRE(out.reply);
    CHECK(out.reply->code == 550);
    CHECK(out.results.find("spf=fail smtp.mailfrom=a@fail.test") != std::string::npos);
    CHECK(out.results.find("dmarc=fail (p=reject dis=reject) header.from=fail.test") != std::string::npos);
    REQUIRE(out.rewritten);
    CHECK(*out.rewritten == "From: a@fail.test\n\nhi\n");
    auto q = parse_message_auth_settings("", "dkimsettings", "quarantine");
    out = authenticate_message(cfg, q, c, msg, l, 0);
    CHECK_FALSE(out.reply);
    CHECK(out.hold);
    CHECK(out.hold_reason == "DMARC reject policy of fail.test");
}
