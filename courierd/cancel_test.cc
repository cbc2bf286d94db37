// Unit tests: who may cancel a message (cancelmsg(1)) and what cancelling records.
#include <doctest/doctest.h>
#include "courierd/cancel.h"

using courierd::CancelRight;
using courierd::cancel_right;

TEST_CASE("cancelmsg: root, the mail user and the recorded owner may cancel; nobody else") {
    const uid_t mail = 100;
    CHECK(cancel_right(0, mail, -1) == CancelRight::root);
    CHECK(cancel_right(0, mail, 1000) == CancelRight::root);
    CHECK(cancel_right(mail, mail, 1000) == CancelRight::mail_user);
    CHECK(cancel_right(1000, mail, 1000) == CancelRight::owner);
    CHECK(cancel_right(1001, mail, 1000) == CancelRight::none);
    // No owner record (esmtp mail, an old queue file): only root and the mail user.
    CHECK(cancel_right(1000, mail, -1) == CancelRight::none);
    // Without a mail user nobody is it; uid -1 never matches a missing owner.
    CHECK(cancel_right(static_cast<uid_t>(-1), static_cast<uid_t>(-1), -1) == CancelRight::none);
    CHECK(cancel_right(1000, static_cast<uid_t>(-1), 1000) == CancelRight::owner);
}

TEST_CASE("cancelmsg: open recipients get a failed record; final ones are left alone") {
    courierd::ListedMessage m;
    m.rcpts = {{"a@x", "pending", ""}, {"b@x", "delivered", "250 ok"}, {"c@x", "deferred", "451 later"},
               {"d@x", "failed", "550 no"}};
    auto recs = courierd::cancel_records(m, "alice\n", 1234);
    REQUIRE(recs.size() == 2);
    CHECK(recs[0].rcpt == 0);
    CHECK(recs[1].rcpt == 2);
    for (const auto& r : recs) {
        CHECK(r.kind == StatusRecord::Kind::failed);
        CHECK(r.when == 1234);
        CHECK(r.text == "554 5.0.0 Message cancelled by alice\\x0a");   // log_safe: no raw LF
    }
    m.rcpts = {{"b@x", "delivered", ""}};
    CHECK(courierd::cancel_records(m, "root", 1).empty());
}
