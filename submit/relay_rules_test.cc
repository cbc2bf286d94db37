// Unit tests: the relay rules against the classic open-relay test addresses.
#include <doctest/doctest.h>
#include "submit/relay_rules.h"

using namespace submit;

TEST_CASE("routing_in_local_part: percent hack, bang path, embedded @, source route") {
    CHECK(routing_in_local_part("user%elsewhere.example") == "percent hack");
    CHECK(routing_in_local_part("elsewhere.example!user") == "bang path");
    CHECK(routing_in_local_part("user@elsewhere.example") == "embedded @");
    CHECK(routing_in_local_part("@a:user") == "embedded @");
    CHECK(routing_in_local_part("a:user") == "source route");
    CHECK_FALSE(routing_in_local_part("user-ext"));
    CHECK_FALSE(routing_in_local_part("first.last"));
}

TEST_CASE("decide_relay: strangers reach only local, hosted and accepted domains") {
    CHECK_FALSE(decide_relay(DomainClass::foreign, "user", false).allowed);
    CHECK(decide_relay(DomainClass::foreign, "user", true).allowed);
    CHECK(decide_relay(DomainClass::foreign, "user", true).rule == "relay client");
    CHECK(decide_relay(DomainClass::local, "user", false).allowed);
    CHECK(decide_relay(DomainClass::local, "user", false).rule == "locals");
    CHECK(decide_relay(DomainClass::hosted, "user", false).allowed);
    CHECK(decide_relay(DomainClass::accepted, "user", false).allowed);
    for (auto cls : {DomainClass::local, DomainClass::hosted, DomainClass::accepted}) {
        CHECK_FALSE(decide_relay(cls, "user%victim.example", false).allowed);
        CHECK_FALSE(decide_relay(cls, "victim.example!user", false).allowed);
        CHECK_FALSE(decide_relay(cls, "user@victim.example", false).allowed);
    }
    CHECK(decide_relay(DomainClass::local, "user%victim.example", false).rule == "percent hack");
}
