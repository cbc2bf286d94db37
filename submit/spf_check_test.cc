// Unit tests for submit/spf_check.h: the BOFHSPF* keywords of courier(8), the reply
// for each result, when a check is skipped, the Received-SPF renaming filter and the
// checks of one message over a fake DNS. Wire-level tests: tests/integration/test_spf.py.
#include <doctest/doctest.h>
#include <map>
#include <string>
#include "submit/received.h"
#include "submit/spf_check.h"

using namespace submit;
using R = spf::Result;

namespace {

SpfSettings settings(std::map<std::string, std::string> opts) {
    OptMap o(opts.begin(), opts.end()), where;
    for (const auto& [k, v] : opts) where[k] = "bofh:1";
    return parse_spf_settings(o, where);
}

std::string filtered(std::string_view in, std::string* from = nullptr, size_t piece = 0) {
    SpfHeaderFilter f;
    std::string out;
    if (piece == 0) piece = in.size();
    for (size_t i = 0; i < in.size(); i += piece) f.append(in.substr(i, piece), out);
    f.finish(out);
    if (from) *from = f.from_field();
    return out;
}

SpfSession esmtp_session() {
    SpfSession s;
    s.source = "esmtp";
    s.remote_ip = "192.0.2.10";
    s.helo = "client.test";
    return s;
}

}  // namespace

TEST_CASE("spf settings: off by default; keywords, all, allowok, mailfromok") {
    SpfSettings d = settings({});
    CHECK(!d.helo.enabled);
    CHECK(!d.mailfrom.enabled);
    CHECK(!d.from.enabled);
    CHECK(d.hard_errors == ((1u << int(R::fail)) | (1u << int(R::softfail))));

    SpfSettings s = settings({{"BOFHSPFHELO", "pass,none,neutral,softfail,unknown"},
                              {"BOFHSPFMAILFROM", "all"},
                              {"BOFHSPFFROM", "pass,allowok,mailfromok"}});
    CHECK(s.helo.enabled);
    CHECK(s.helo.accepts(R::pass));
    CHECK(s.helo.accepts(R::permerror));
    CHECK(!s.helo.accepts(R::fail));
    CHECK(!s.helo.accepts(R::temperror));
    for (int r = 0; r < 7; ++r) CHECK(s.mailfrom.accepts(R(r)));
    CHECK(s.from.allowok);
    CHECK(s.from.mailfromok);
    CHECK(!s.from.accepts(R::none));
    CHECK(s.errors.empty());
}

TEST_CASE("spf settings: off wins, unknown keywords are reported with file:line") {
    SpfSettings s = settings({{"BOFHSPFHELO", "pass,off"}, {"BOFHSPFMAILFROM", "pass,bogus,mailfromok"}});
    CHECK(!s.helo.enabled);
    CHECK(s.mailfrom.enabled);
    CHECK(!s.mailfrom.mailfromok);   // only BOFHSPFFROM knows it
    REQUIRE(s.errors.size() == 2);
    CHECK(s.errors[0] == "bofh:1: BOFHSPFMAILFROM: unknown keyword \"bogus\"");
    CHECK(settings({{"BOFHSPFHELO", ""}}).helo.enabled == false);
}

TEST_CASE("spf settings: BOFHSPFHARDERROR, TRUSTME, NOVERBOSE") {
    SpfSettings s = settings({{"BOFHSPFHARDERROR", "fail,error"}, {"BOFHSPFTRUSTME", "1"},
                              {"BOFHSPFNOVERBOSE", "1"}});
    CHECK(s.hard_errors == ((1u << int(R::fail)) | (1u << int(R::temperror))));
    CHECK(s.trust_relay_clients);
    CHECK(s.no_verbose);
    CHECK(!settings({{"BOFHSPFTRUSTME", "0"}}).trust_relay_clients);
}

TEST_CASE("spf decision: listed results pass; others 5xx when hard, else 4xx") {
    SpfSettings s = settings({{"BOFHSPFMAILFROM", "pass,none"}});
    auto ok = decide_spf(SpfIdentity::mailfrom, s, R::pass, false, "a@x.test", "");
    CHECK(ok.accepted);
    CHECK(ok.rule == "BOFHSPFMAILFROM=pass,none (bofh:1)");

    auto fail = decide_spf(SpfIdentity::mailfrom, s, R::fail, false, "a@x.test", "not allowed");
    CHECK(!fail.accepted);
    CHECK(fail.reply.code == 550);
    CHECK(fail.reply.text == "5.7.23 SPF fail a@x.test: not allowed");
    CHECK(fail.rule.find("BOFHSPFHARDERROR=fail,softfail (default) lists fail") != std::string::npos);

    auto neutral = decide_spf(SpfIdentity::mailfrom, s, R::neutral, false, "a@x.test", "why");
    CHECK(neutral.reply.code == 451);
    CHECK(neutral.reply.text == "4.7.23 SPF neutral a@x.test: why");

    auto temp = decide_spf(SpfIdentity::mailfrom, s, R::temperror, false, "a@x.test", "dns");
    CHECK(temp.reply.code == 451);
    CHECK(temp.reply.text == "4.7.24 SPF error a@x.test: dns");
    auto perm = decide_spf(SpfIdentity::mailfrom, s, R::permerror, false, "a@x.test", "syntax");
    CHECK(perm.reply.text == "4.7.24 SPF unknown a@x.test: syntax");
}

TEST_CASE("spf decision: allowok passes whitelisted clients; NOVERBOSE hides the reason") {
    SpfSettings s = settings({{"BOFHSPFHELO", "pass,allowok"}, {"BOFHSPFNOVERBOSE", "1"},
                              {"BOFHSPFHARDERROR", "all"}});
    CHECK(decide_spf(SpfIdentity::helo, s, R::fail, true, "h.test", "").accepted);
    auto d = decide_spf(SpfIdentity::helo, s, R::none, false, "h.test", "secret reason");
    CHECK(!d.accepted);
    CHECK(d.reply.code == 550);
    CHECK(d.reply.text == "5.7.23 SPF none h.test: Rejected by the Sender Policy Framework.");
}

TEST_CASE("spf skip: source, client, TRUSTME, HELO address, null sender, mailfromok") {
    SpfSettings s = settings({{"BOFHSPFHELO", "all"}, {"BOFHSPFMAILFROM", "all"},
                              {"BOFHSPFFROM", "all,mailfromok"}, {"BOFHSPFTRUSTME", "1"}});
    SpfSession e = esmtp_session();
    CHECK(!spf_skip_reason(SpfIdentity::helo, s, e, "client.test", {}));
    CHECK(!spf_skip_reason(SpfIdentity::mailfrom, s, e, "a@x.test", {}));
    CHECK(spf_skip_reason(SpfIdentity::mailfrom, s, e, "", {}) == "null sender");
    SpfSession local = e;
    local.source = "local";
    CHECK(spf_skip_reason(SpfIdentity::mailfrom, s, local, "a@x.test", {}) == "source local");
    SpfSession relay = e;
    relay.relay = true;
    CHECK(spf_skip_reason(SpfIdentity::mailfrom, s, relay, "a@x.test", {}) == "BOFHSPFTRUSTME relay client");
    SpfSession lit = e;
    lit.helo = "[192.0.2.10]";
    CHECK(spf_skip_reason(SpfIdentity::helo, s, lit, lit.helo, {}) == "HELO is an address");
    CHECK(spf_skip_reason(SpfIdentity::from, s, e, "a@x.test", R::pass) == "mailfromok, MAIL FROM passed");
    CHECK(!spf_skip_reason(SpfIdentity::from, s, e, "a@x.test", R::fail));
    CHECK(!spf_skip_reason(SpfIdentity::from, s, e, "a@x.test", std::nullopt));
    CHECK(spf_skip_reason(SpfIdentity::from, s, e, "", {}) == "no From: address");
    CHECK(spf_skip_reason(SpfIdentity::helo, settings({}), e, "client.test", {}) == "off");
}

TEST_CASE("spf: HELO names that are addresses") {
    CHECK(helo_is_address("[192.0.2.1]", "192.0.2.9"));
    CHECK(helo_is_address("[IPv6:2001:db8::1]", ""));
    CHECK(helo_is_address("192.0.2.1", ""));
    CHECK(helo_is_address("2001:db8::1", ""));
    CHECK(!helo_is_address("mail.example.com", "192.0.2.1"));
}

TEST_CASE("spf header filter: Received-SPF renamed in the header only; From: kept") {
    std::string from;
    std::string in = "Received-SPF: pass (forged)\r\n  more\r\nFrom: Someone <a@x.test>,\r\n b@y.test\r\n"
                     "received-spf: fail\r\nFrom: second@z.test\r\n\r\nReceived-SPF: in the body\r\n";
    std::string want = "Old-Received-SPF: pass (forged)\r\n  more\r\nFrom: Someone <a@x.test>,\r\n b@y.test\r\n"
                       "Old-received-spf: fail\r\nFrom: second@z.test\r\n\r\nReceived-SPF: in the body\r\n";
    CHECK(filtered(in, &from) == want);
    CHECK(from == " Someone <a@x.test>,\r\n b@y.test\r\n");
    CHECK(first_from_address(from) == "a@x.test");
    // Byte by byte, the same.
    std::string from2;
    CHECK(filtered(in, &from2, 1) == want);
    CHECK(from2 == from);
    // LF line ends, a header block without body, a short last line.
    CHECK(filtered("X: 1\nReceived-SPF: none\n") == "X: 1\nOld-Received-SPF: none\n");
    CHECK(filtered("Received-SP") == "Received-SP");
    CHECK(filtered("\nReceived-SPF: x\n") == "\nReceived-SPF: x\n");   // no header at all
    SpfHeaderFilter keep(false);
    std::string out;
    keep.append("Received-SPF: pass\n\n", out);
    CHECK(out == "Received-SPF: pass\n\n");
}

TEST_CASE("spf: the From: address") {
    CHECK(first_from_address(" \"Doe, J\" <j@x.test>") == "j@x.test");
    CHECK(first_from_address(" j@x.test (Joe)") == "j@x.test");
    CHECK(first_from_address(" undisclosed:;") == "");
    CHECK(first_from_address("") == "");
}

TEST_CASE("Received-SPF: RFC 7208 9.1 form, folded") {
    ReceivedSpfInfo i;
    i.result = "pass";
    i.comment = "mx.test: domain of a@x.test designates 192.0.2.10 as permitted sender";
    i.client_ip = "192.0.2.10";
    i.envelope_from = "a@x.test";
    i.helo = "client.test";
    i.receiver = "mx.test";
    i.identity = "mailfrom";
    CHECK(format_received_spf(i) ==
          "Received-SPF: pass (mx.test: domain of a@x.test designates 192.0.2.10 as\n"
          "  permitted sender) client-ip=192.0.2.10; envelope-from=\"a@x.test\";\n"
          "  helo=client.test; receiver=mx.test; identity=mailfrom;\n");
    i.envelope_from = "";
    i.helo = "bad\"helo (x)";
    std::string h = format_received_spf(i);
    CHECK(h.find("envelope-from=\"\";") != std::string::npos);
    CHECK(h.find("helo=\"bad\\\"helo (x)\";") != std::string::npos);
}

TEST_CASE("spf checker: one message over a fake DNS") {
    spf::Lookups dns;
    std::map<std::string, std::string> txt = {{"pass.test", "v=spf1 ip4:192.0.2.10 -all"},
                                              {"fail.test", "v=spf1 -all"},
                                              {"client.test", "v=spf1 ip4:192.0.2.10 -all"}};
    dns.txt = [&](const std::string& n) {
        dns::Answer<std::string> a;
        a.outcome = dns::Outcome::nxdomain;
        if (auto it = txt.find(n); it != txt.end()) {
            a.outcome = dns::Outcome::ok;
            a.records.push_back(it->second);
        }
        return a;
    };
    dns.a = dns.aaaa = dns.ptr = [](const std::string&) {
        dns::Answer<std::string> a;
        a.outcome = dns::Outcome::nxdomain;
        return a;
    };
    dns.mx = [](const std::string&) {
        dns::Answer<dns::MxRecord> a;
        a.outcome = dns::Outcome::nxdomain;
        return a;
    };
    SpfChecker c(settings({{"BOFHSPFHELO", "pass"}, {"BOFHSPFMAILFROM", "pass,none"},
                           {"BOFHSPFFROM", "pass,mailfromok"}}), dns);
    c.reset(esmtp_session(), "a@pass.test", "mx.test");
    CHECK(!c.check_mail());
    std::string out;
    c.filter("From: x@fail.test\nReceived-SPF: old\n\nbody\n", out);
    c.finish_filter(out);
    CHECK(out == "From: x@fail.test\nOld-Received-SPF: old\n\nbody\n");
    CHECK(!c.check_from());   // mailfromok: MAIL FROM passed
    std::string h = c.headers();
    CHECK(h.find("Received-SPF: pass") == 0);
    CHECK(h.find("identity=helo;") != std::string::npos);
    CHECK(h.find("identity=mailfrom;") != std::string::npos);
    CHECK(h.find("identity=from;") == std::string::npos);

    c.reset(esmtp_session(), "a@fail.test", "mx.test");
    auto r = c.check_mail();
    REQUIRE(r);
    CHECK(r->code == 550);
    CHECK(r->text.rfind("5.7.23 SPF fail a@fail.test: ", 0) == 0);

    c.reset(esmtp_session(), "", "mx.test");
    CHECK(!c.check_mail());
    out.clear();
    c.filter("From: x@fail.test\n\n", out);
    auto f = c.check_from();
    REQUIRE(f);
    CHECK(f->text.rfind("5.7.23 SPF fail x@fail.test", 0) == 0);
}
