// Unit tests for esmtpdelay bookkeeping (outbound_worker.h).
#include <doctest/doctest.h>
#include "esmtp/outbound_worker.h"

using outbound::DelayTable;

TEST_CASE("esmtpdelay: postponed until the delay runs out") {
    DelayTable t;
    t.activity(1000);
    t.set("a.test", 1000, 300);
    CHECK(t.postponed("a.test", 1000));
    CHECK(t.postponed("a.test", 1299));
    CHECK_FALSE(t.postponed("a.test", 1300));
    CHECK_FALSE(t.postponed("b.test", 1000));
}

TEST_CASE("esmtpdelay: 0 disables it") {
    DelayTable t;
    t.set("a.test", 1000, 0);
    CHECK_FALSE(t.postponed("a.test", 1000));
}

TEST_CASE("esmtpdelay: forgotten after a minute without requests") {
    DelayTable t;
    t.activity(1000);
    t.set("a.test", 1000, 3600);
    t.activity(1059);
    CHECK(t.postponed("a.test", 1059));
    t.activity(1119);   // 60 s since the last request
    CHECK_FALSE(t.postponed("a.test", 1119));
}
