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
