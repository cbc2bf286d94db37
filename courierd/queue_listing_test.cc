#include <doctest/doctest.h>
#include "courierd/queue_listing.h"

TEST_CASE("mailq listing: states, next attempt, JSON") {
    QueueEnvelope env;
    env.id = QueueId::make(0x60000000, 3, 1);
    env.arrival = 0x60000000;
    env.sender = "s@example.org";
    env.source = "esmtp";
    env.data_size = 1234;
    env.rcpts = {{"a@x", "local", "a", "", ""}, {"b@x", "local", "b", "", ""}, {"c\"@x", "local", "c", "", ""}};
    StatusRecord d;
    d.kind = StatusRecord::Kind::delivered;
    d.rcpt = 0;
    d.text = "250 ok";
    StatusRecord f = d;
    f.kind = StatusRecord::Kind::deferred;
    f.rcpt = 1;
    f.text = "451 4.2.2 full";
    StatusRecord r;
    r.kind = StatusRecord::Kind::retry;
    r.next = 0x60000000 + 300;
    r.attempts = 1;
    auto m = courierd::list_message(env, {d, f, r});
    CHECK(m.attempts == 1);
    CHECK(m.rcpts[0].state == "delivered");
    CHECK(m.rcpts[1].state == "deferred");
    CHECK(m.rcpts[1].text == "451 4.2.2 full");
    CHECK(m.rcpts[2].state == "pending");
    std::string text = courierd::format_listing_text({m});
    CHECK(text.find(env.id.text) == 0);
    CHECK(text.find("1234") != std::string::npos);
    CHECK(text.find("<b@x> deferred, next attempt ") != std::string::npos);
    CHECK(text.find("1 message in the queue.") != std::string::npos);
    std::string json = courierd::format_listing_json({m});
    CHECK(json.find("\"address\": \"c\\\"@x\"") != std::string::npos);
    CHECK(json.find("\"next_attempt\": " + std::to_string(0x60000000 + 300)) != std::string::npos);
    CHECK(courierd::format_listing_json({}) == "[]\n");
}

TEST_CASE("mailq -s: recipients to deliver per domain and state") {
    using courierd::ListedMessage;
    ListedMessage a;
    a.rcpts = {{"u@Example.COM", "pending", ""}, {"v@example.com", "deferred", "451"},
               {"w@other.org", "delivered", "250"}, {"root", "failed", "550"}};
    ListedMessage b;
    b.rcpts = {{"x@other.org", "deferred", ""}, {"localuser", "pending", ""}};
    ListedMessage done;
    done.rcpts = {{"y@example.com", "delivered", ""}};
    auto rows = courierd::summarize_by_domain({a, b, done});
    REQUIRE(rows.size() == 4);
    CHECK(rows[0].domain == "example.com");
    CHECK(rows[0].pending == 1);
    CHECK(rows[0].deferred == 1);
    CHECK(rows[0].messages == 1);
    CHECK(rows[1].domain == "(local)");   // equal totals keep name order
    CHECK(rows[2].domain == "other.org");
    CHECK(rows[2].deferred == 1);
    CHECK(rows[3].domain == "TOTAL");
    CHECK(rows[3].total() == 4);
    CHECK(rows[3].messages == 2);
    std::string text = courierd::format_summary_text(rows);
    CHECK(text.find("domain") == 0);
    CHECK(text.find("example.com                                     1        2        1        1\n") !=
          std::string::npos);
}
