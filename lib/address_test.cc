// Unit tests: RFC 5321 path parsing, the cases the SMTP server meets on the wire.
#include <doctest/doctest.h>
#include "lib/address.h"

TEST_CASE("plain and null paths") {
    auto p = parse_smtp_path("<User@Example.COM>");
    REQUIRE(p);
    CHECK(p->mailbox.local == "User");
    CHECK(p->mailbox.domain == "example.com");
    CHECK(p->params.empty());
    auto n = parse_smtp_path(" <> SIZE=100");
    REQUIRE(n);
    CHECK(n->null_path);
    CHECK(n->params == "SIZE=100");
}

TEST_CASE("parameters after the path") {
    auto p = parse_smtp_path("<a@b.c> NOTIFY=SUCCESS ORCPT=rfc822;a@b.c");
    REQUIRE(p);
    CHECK(p->params == "NOTIFY=SUCCESS ORCPT=rfc822;a@b.c");
    CHECK_FALSE(parse_smtp_path("<a@b.c>junk"));
}

TEST_CASE("quoted local parts round trip") {
    auto p = parse_smtp_path("<\"john doe\"@x.org>");
    REQUIRE(p);
    CHECK(p->mailbox.local == "john doe");
    CHECK(p->mailbox.str() == "\"john doe\"@x.org");
    auto q = parse_smtp_path("<\"a\\\"b@c\"@x.org>");
    REQUIRE(q);
    CHECK(q->mailbox.local == "a\"b@c");
    CHECK(q->mailbox.str() == "\"a\\\"b@c\"@x.org");
}

TEST_CASE("source routes are dropped") {
    auto p = parse_smtp_path("<@relay.one,@relay.two:user@dest.org>");
    REQUIRE(p);
    CHECK(p->mailbox.str() == "user@dest.org");
    CHECK_FALSE(parse_smtp_path("<@relay.one user@dest.org>"));
}

TEST_CASE("address literals") {
    auto p = parse_smtp_path("<u@[127.0.0.1]>");
    REQUIRE(p);
    CHECK(p->mailbox.domain == "[127.0.0.1]");
    CHECK(parse_smtp_path("<u@[IPv6:::1]>"));
    CHECK_FALSE(parse_smtp_path("<u@[300.0.0.1]>"));
    CHECK_FALSE(parse_smtp_path("<u@[1.2.3]>"));
}

TEST_CASE("malformed paths are refused") {
    CHECK_FALSE(parse_smtp_path("user@example.com"));
    CHECK_FALSE(parse_smtp_path("<user@example.com"));
    CHECK_FALSE(parse_smtp_path("<.user@example.com>"));
    CHECK_FALSE(parse_smtp_path("<user.@example.com>"));
    CHECK_FALSE(parse_smtp_path("<us..er@example.com>"));
    CHECK_FALSE(parse_smtp_path("<user@-bad.com>"));
    CHECK_FALSE(parse_smtp_path("<user@exa mple.com>"));
    CHECK_FALSE(parse_smtp_path("<user@>"));
    CHECK_FALSE(parse_smtp_path("<@>"));
    CHECK_FALSE(parse_smtp_path("<\"unterminated@x.org>"));
    CHECK_FALSE(parse_smtp_path(std::string("<a@b.c>\0", 8)));
}

TEST_CASE("bare mailboxes and postmaster") {
    auto m = parse_mailbox("postmaster");
    REQUIRE(m);
    CHECK(is_bare_postmaster(*m));
    auto p = parse_smtp_path("<PostMaster>");
    REQUIRE(p);
    CHECK(is_bare_postmaster(p->mailbox));
    CHECK_FALSE(is_bare_postmaster(parse_mailbox("postmaster@x.org").value()));
    CHECK_FALSE(parse_mailbox("a@b.c d"));
}

TEST_CASE("domain validity") {
    CHECK(is_valid_domain("example.com"));
    CHECK(is_valid_domain("a-b.example"));
    CHECK_FALSE(is_valid_domain("a..b"));
    CHECK_FALSE(is_valid_domain(std::string(64, 'a') + ".com"));
    CHECK_FALSE(is_valid_domain(""));
    CHECK(lowercase_ascii("MiXeD") == "mixed");
}
