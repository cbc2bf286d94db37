#include <doctest/doctest.h>
#include "courierd/admin.h"

TEST_CASE("parse_admin_args") {
    using C = AdminRequest::Command;
    auto r = parse_admin_args({"start"});
    REQUIRE(r.ok());
    CHECK(r->command == C::start);
    CHECK(parse_admin_args({"stop"})->command == C::stop);
    CHECK(parse_admin_args({"restart"})->command == C::restart);
    r = parse_admin_args({"flush"});
    REQUIRE(r.ok());
    CHECK(r->command == C::flush);
    CHECK(!r->id);
    auto id = QueueId::make(0x60000000, 42, 1);
    r = parse_admin_args({"flush", id.text});
    REQUIRE(r.ok());
    CHECK(r->id->text == id.text);
    CHECK(!parse_admin_args({"flush", "../etc"}).ok());
    CHECK(!parse_admin_args({"flush", id.text, "x"}).ok());
    CHECK(!parse_admin_args({}).ok());
    CHECK(parse_admin_args({"clear", "all"})->command == C::clear_all);
    CHECK(parse_admin_args({"show", "all"})->command == C::show_all);
    r = parse_admin_args({"clear", "u@example.com"});
    REQUIRE(r.ok());
    CHECK(r->command == C::clear_one);
    CHECK(r->address == "u@example.com");
    CHECK(!parse_admin_args({"clear", "nobody"}).ok());
    CHECK(!parse_admin_args({"show", "some"}).ok());
    CHECK(!parse_admin_args({"start", "now"}).ok());
    CHECK(parse_admin_args({"check"})->command == C::check);
    CHECK(!parse_admin_args({"check"})->errors_only);
    CHECK(parse_admin_args({"check", "-q"})->errors_only);
    CHECK(!parse_admin_args({"check", "-x"}).ok());
}
