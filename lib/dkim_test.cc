// Unit tests for lib/dkim.h: the RFC 6376 3.4.5 canonicalisation example, tag lists,
// signature and key record parsing, and sign/verify round trips for both algorithms
// against a lookup that serves the key records (DNS itself: tests/integration).
#include <doctest/doctest.h>
#include <string>
#include "lib/dkim.h"

using namespace std::string_literals;

namespace {

// RFC 6376 3.4.5.
const std::string kExample = "A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n C \r\nD \t E\r\n\r\n\r\n";

dkim::TxtLookup serve(std::string name, std::string record) {
    return [name, record](const std::string& q) {
        dns::Answer<std::string> a;
        if (q == name) {
            a.outcome = dns::Outcome::ok;
            a.records.push_back(record);
        } else {
            a.outcome = dns::Outcome::nxdomain;
        }
        return a;
    };
}

const std::string kMessage =
    "From: Joe SixPack <joe@football.example.com>\n"
    "To: Suzie Q <suzie@shopping.example.net>\n"
    "Subject: Is dinner ready?\n"
    "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\n"
    "Message-ID: <20030712040037.46341.5F8J@football.example.com>\n"
    "\n"
    "Hi.\n"
    "\n"
    "We lost the game. Are you hungry yet?\n"
    "\n"
    "Joe.\n";

}  // namespace

TEST_CASE("dkim: RFC 6376 3.4.5 relaxed and simple canonicalisation") {
    auto m = dkim::split_message(kExample);
    REQUIRE(m.fields.size() == 2);
    CHECK(dkim::canon_header(dkim::Canon::relaxed, m.fields[0]) == "a:X\r\n");
    CHECK(dkim::canon_header(dkim::Canon::relaxed, m.fields[1]) == "b:Y Z\r\n");
    CHECK(dkim::canon_body(dkim::Canon::relaxed, m.body) == " C\r\nD E\r\n");
    CHECK(dkim::canon_header(dkim::Canon::simple, m.fields[0]) == "A: X\r\n");
    CHECK(dkim::canon_header(dkim::Canon::simple, m.fields[1]) == "B : Y\t\r\n\tZ  \r\n");
    CHECK(dkim::canon_body(dkim::Canon::simple, m.body) == " C \r\nD \t E\r\n");
}

TEST_CASE("dkim: empty bodies and LF line ends") {
    CHECK(dkim::canon_body(dkim::Canon::simple, "") == "\r\n");
    CHECK(dkim::canon_body(dkim::Canon::relaxed, "") == "");
    CHECK(dkim::canon_body(dkim::Canon::relaxed, "\n\n") == "");
    CHECK(dkim::canon_body(dkim::Canon::simple, "a\nb") == "a\r\nb\r\n");
    CHECK(dkim::canon_body(dkim::Canon::relaxed, "a  \t b \n\n") == "a b\r\n");
}

TEST_CASE("dkim: tag lists are strict") {
    auto t = dkim::parse_tag_list(" v = 1 ; a=rsa-sha256;\r\n\tb= ab cd ;");
    REQUIRE(t);
    CHECK(t->at("v") == "1");
    CHECK(t->at("b") == "ab cd");
    CHECK_FALSE(dkim::parse_tag_list("a=1; a=2"));
    CHECK_FALSE(dkim::parse_tag_list("a=1;; b=2"));
    CHECK_FALSE(dkim::parse_tag_list("novalue"));
    CHECK_FALSE(dkim::parse_tag_list("1a=x"));
    std::string many;
    for (int i = 0; i < 70; ++i) many += "t" + std::to_string(i) + "=x;";
    CHECK_FALSE(dkim::parse_tag_list(many));
}

TEST_CASE("dkim: base64 with folding whitespace") {
    CHECK(dkim::decode_base64("aGVs\r\n bG8=") == "hello");
    CHECK_FALSE(dkim::decode_base64("aGVsbG8"));
    CHECK(dkim::encode_base64("hello") == "aGVsbG8=");
}

TEST_CASE("dkim: DKIM-Signature parsing") {
    std::string bh = dkim::encode_base64(std::string(32, 'x'));
    std::string base = "v=1; a=rsa-sha256; d=Example.COM; s=sel; h=From:To; bh=" + bh + "; b=YWJj";
    auto s = dkim::parse_signature(base + "; c=relaxed; t=100; x=200; i=user@sub.example.com");
    REQUIRE(s);
    CHECK(s->domain == "example.com");
    CHECK(s->headers == std::vector<std::string>{"from", "to"});
    CHECK(s->header_canon == dkim::Canon::relaxed);
    CHECK(s->body_canon == dkim::Canon::simple);
    CHECK(*s->expiration == 200);
    CHECK(dkim::parse_signature(base)->identity == "@example.com");
    CHECK_FALSE(dkim::parse_signature(base + "; i=a@other.com"));
    CHECK_FALSE(dkim::parse_signature(base + "; t=300; x=200"));
    CHECK_FALSE(dkim::parse_signature("v=1; a=rsa-sha1; d=a.b; s=s; h=from; bh=" + bh + "; b=YWJj"));
    CHECK_FALSE(dkim::parse_signature("v=1; a=rsa-sha256; d=a.b; s=s; h=to; bh=" + bh + "; b=YWJj"));
    CHECK_FALSE(dkim::parse_signature("v=2; a=rsa-sha256; d=a.b; s=s; h=from; bh=" + bh + "; b=YWJj"));
    CHECK_FALSE(dkim::parse_signature("v=1; a=rsa-sha256; d=a.b; h=from; bh=" + bh + "; b=YWJj"));
}

TEST_CASE("dkim: key records") {
    auto k = dkim::parse_key_record("v=DKIM1; k=ed25519; t=y:s; p=" + dkim::encode_base64(std::string(32, 'k')));
    REQUIRE(k);
    CHECK(k->key_type == dkim::KeyType::ed25519);
    CHECK(k->testing);
    CHECK(k->strict);
    CHECK(dkim::parse_key_record("p=")->revoked);
    CHECK_FALSE(dkim::parse_key_record("v=DKIM2; p=YWJj"));
    CHECK_FALSE(dkim::parse_key_record("k=dsa; p=YWJj"));
    CHECK_FALSE(dkim::parse_key_record("k=rsa"));
    CHECK_FALSE(dkim::parse_key_record("s=other; p=YWJj"));
}

TEST_CASE("dkim: header selection signs present headers and oversigns From") {
    auto m = dkim::split_message("From: a@b\nTo: c@d\nReceived: x\nTo: e@f\nX-Other: 1\n\nbody\n");
    dkim::SignOptions o;
    CHECK(dkim::select_headers(m, o) == std::vector<std::string>{"from", "from", "to", "to"});
}

TEST_CASE("dkim: sign and verify round trip, RSA and Ed25519, both canonicalisations") {
    for (auto type : {dkim::KeyType::rsa, dkim::KeyType::ed25519})
        for (auto canon : {dkim::Canon::relaxed, dkim::Canon::simple}) {
            auto key = dkim::generate_key(type, 2048);
            REQUIRE(key);
            auto reloaded = dkim::parse_private_key(dkim::private_key_pem(*key));
            REQUIRE(reloaded);
            dkim::SignOptions o;
            o.domain = "football.example.com";
            o.selector = "brisbane";
            o.header_canon = o.body_canon = canon;
            o.now = 1000;
            auto field = dkim::sign(kMessage, o, *reloaded);
            REQUIRE(field);
            auto dnsf = serve("brisbane._domainkey.football.example.com",
                              dkim::format_key_record(type, dkim::public_key_bytes(*key)));
            auto good = dkim::verify(*field + kMessage, dnsf, 2000);
            REQUIRE(good.size() == 1);
            CHECK(good[0].verdict == dkim::Verdict::pass);
            CHECK(good[0].domain == "football.example.com");
            CHECK(good[0].b_prefix.size() == 8);
            // The same message with CRLF line ends verifies too.
            std::string crlf;
            for (char c : *field + kMessage) crlf += c == '\n' ? "\r\n" : std::string(1, c);
            CHECK(dkim::verify(crlf, dnsf, 2000)[0].verdict == dkim::Verdict::pass);
            std::string tampered = *field + kMessage;
            tampered.replace(tampered.find("hungry"), 6, "HUNGRY");
            auto bad = dkim::verify(tampered, dnsf, 2000);
            CHECK(bad[0].verdict == dkim::Verdict::fail);
            CHECK(bad[0].reason == "body hash did not verify");
            std::string subject = *field + kMessage;
            subject.replace(subject.find("dinner"), 6, "supper");
            CHECK(dkim::verify(subject, dnsf, 2000)[0].verdict == dkim::Verdict::fail);
            // Oversigned From: a second From: added on the way breaks the signature.
            CHECK(dkim::verify("From: evil@x\n" + *field + kMessage, dnsf, 2000)[0].verdict ==
                  dkim::Verdict::fail);
        }
}

TEST_CASE("dkim: lookup failures and expiry") {
    auto key = dkim::generate_key(dkim::KeyType::ed25519, 0);
    REQUIRE(key);
    dkim::SignOptions o;
    o.domain = "example.com";
    o.selector = "s";
    auto field = dkim::sign(kMessage, o, *key);
    REQUIRE(field);
    auto none = dkim::verify(*field + kMessage, serve("other", ""), 0);
    CHECK(none[0].verdict == dkim::Verdict::permerror);
    auto temp = dkim::verify(*field + kMessage, [](const std::string&) { return dns::Answer<std::string>{}; }, 0);
    CHECK(temp[0].verdict == dkim::Verdict::temperror);
    auto revoked = dkim::verify(*field + kMessage, serve("s._domainkey.example.com", "v=DKIM1; p="), 0);
    CHECK(revoked[0].verdict == dkim::Verdict::fail);
    auto wrongtype = dkim::verify(*field + kMessage, serve("s._domainkey.example.com", "v=DKIM1; k=rsa; p=YWJj"), 0);
    CHECK(wrongtype[0].verdict == dkim::Verdict::permerror);
    std::string expired = "DKIM-Signature: v=1; a=ed25519-sha256; d=example.com; s=s; h=from; x=5; bh=" +
                          dkim::encode_base64(std::string(32, 'x')) + "; b=YWJj\n" + kMessage;
    CHECK(dkim::verify(expired, serve("x", ""), 10)[0].verdict == dkim::Verdict::policy);
    CHECK(dkim::verify("DKIM-Signature: v=1; a=x\n" + kMessage, serve("x", ""), 10)[0].verdict ==
          dkim::Verdict::permerror);
}

TEST_CASE("dkim: at most max_signatures are checked") {
    std::string sig = "DKIM-Signature: v=1\n";
    std::string msg;
    for (int i = 0; i < 8; ++i) msg += sig;
    CHECK(dkim::verify(msg + kMessage, serve("x", ""), 0, 5).size() == 5);
}

TEST_CASE("dkim: a message without From: is not signed") {
    auto key = dkim::generate_key(dkim::KeyType::ed25519, 0);
    REQUIRE(key);
    dkim::SignOptions o;
    o.domain = "example.com";
    o.selector = "s";
    CHECK_FALSE(dkim::sign("Subject: x\n\nbody\n", o, *key));
}
