#include <doctest/doctest.h>
#include "courierd/trigger.h"

TEST_CASE("parse_trigger_notice") {
    auto id = QueueId::make(0x6543210F, 0x1234, 7);
    auto n = parse_trigger_notice("new " + id.bucket() + "/Q" + id.text);
    REQUIRE(n);
    CHECK(n->kind == TriggerNotice::Kind::new_message);
    CHECK(n->id->text == id.text);
    n = parse_trigger_notice("flush");
    REQUIRE(n);
    CHECK(n->kind == TriggerNotice::Kind::flush_all);
    n = parse_trigger_notice("flush " + id.text);
    REQUIRE(n);
    CHECK(n->kind == TriggerNotice::Kind::flush_one);
    CHECK(n->id->text == id.text);
    CHECK(!parse_trigger_notice("new 00000/Q" + id.text));      // wrong bucket
    CHECK(!parse_trigger_notice("new " + id.bucket() + "/S" + id.text));
    CHECK(!parse_trigger_notice("new ../../etc/passwd"));
    CHECK(!parse_trigger_notice("flush x"));
    CHECK(!parse_trigger_notice("flush "));
    CHECK(!parse_trigger_notice(""));
    CHECK(!parse_trigger_notice("bogus"));
    CHECK(format_flush_notice(std::nullopt) == "flush\n");
    CHECK(format_flush_notice(id) == "flush " + id.text + "\n");
}

TEST_CASE("trigger: etrn notices (courieresmtpd's ETRN)") {
    auto n = parse_trigger_notice("etrn example.net");
    REQUIRE(n);
    CHECK(n->kind == TriggerNotice::Kind::flush_domain);
    CHECK(n->domain == "example.net");
    n = parse_trigger_notice("etrn @example.net");
    REQUIRE(n);
    CHECK(n->domain == "@example.net");
    CHECK(!parse_trigger_notice("etrn "));
    CHECK(!parse_trigger_notice("etrn @"));
    CHECK(!parse_trigger_notice("etrn ../x"));   // '/' is no domain byte
    CHECK(!parse_trigger_notice("etrn Example.net"));   // writers send lower case
    CHECK(!parse_trigger_notice("etrn a b"));
    CHECK(format_etrn_notice("@example.net") == "etrn @example.net\n");
}

TEST_CASE("trigger: which hosts an ETRN domain covers (RFC 1985 section 3)") {
    CHECK(etrn_covers("example.net", "example.net"));
    CHECK(etrn_covers("example.net", "EXAMPLE.net."));
    CHECK_FALSE(etrn_covers("example.net", "mx.example.net"));
    CHECK(etrn_covers("@example.net", "example.net"));
    CHECK(etrn_covers("@example.net", "mx.example.net"));
    CHECK_FALSE(etrn_covers("@example.net", "badexample.net"));
    CHECK_FALSE(etrn_covers("@example.net", "example.org"));
}

TEST_CASE("trigger: an ETRN wants messages with open esmtp recipients there") {
    QueueEnvelope env;
    env.rcpts = {{"a@example.net", "esmtp", "example.net", "", ""},
                 {"u@here", "local", "example.net", "", ""},
                 {"b@other.org", "esmtp", "other.org", "", ""}};
    CHECK(etrn_wants(env, {false, false, false}, "example.net"));
    CHECK_FALSE(etrn_wants(env, {true, false, false}, "example.net"));   // delivered already
    CHECK(etrn_wants(env, {true, false, false}, "@other.org"));
    CHECK_FALSE(etrn_wants(env, {false, false, false}, "here"));         // local, not esmtp
}
