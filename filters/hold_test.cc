// Unit tests for HOLD (doc/filters.md): the hold/release status records, what courierd
// and mailq make of them, `courier release` arguments, and the release itself.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cstdlib>
#include "courierd/admin.h"
#include "courierd/message_state.h"
#include "courierd/queue_listing.h"
#include "filters/hold.h"
#include "lib/fileio.h"

TEST_CASE("hold: status records round trip and decide whether a message is held") {
    StatusRecord h;
    h.kind = StatusRecord::Kind::hold;
    h.when = 1700000000;
    h.text = "spam score 9";
    CHECK(format_status(h) == "hold 1700000000 spam+20score+209\n");
    StatusRecord r = h;
    r.kind = StatusRecord::Kind::release;
    r.text = "courier release";
    auto log = parse_status_log(format_status(h) + "retry 1700000300 0\n" + format_status(r));
    REQUIRE(log.size() == 3);
    CHECK(log[0].kind == StatusRecord::Kind::hold);
    CHECK(log[0].text == "spam score 9");
    CHECK(log[2].kind == StatusRecord::Kind::release);
    CHECK_FALSE(is_held(log));
    CHECK(is_held({log[0]}));
    CHECK(is_held({log[0], log[2], log[0]}));
    CHECK(summarize_status({log[0]}, 1).held);
    CHECK_FALSE(summarize_status(log, 1).held);
    // A hold record never counts as a recipient's result.
    CHECK_FALSE(summarize_status({log[0]}, 1).final_rcpt[0]);
}

TEST_CASE("hold: mailq shows a held message and its reason") {
    QueueEnvelope env;
    env.id = *QueueId::parse("6560A000.00000001.0001");
    env.sender = "s@example.com";
    env.rcpts = {QueueRecipient{"r@example.com", "local", "r", "", ""}};
    StatusRecord h;
    h.kind = StatusRecord::Kind::hold;
    h.text = "looks odd";
    auto m = courierd::list_message(env, {h});
    CHECK(m.held);
    CHECK(m.rcpts[0].state == "pending");   // the hold is not the recipient's reply
    CHECK(m.rcpts[0].text.empty());
    CHECK(courierd::format_listing_text({m}).find("    held: looks odd\n") != std::string::npos);
    CHECK(courierd::format_listing_json({m}).find("\"held\": true") != std::string::npos);
}

TEST_CASE("hold: courier release <qid>") {
    auto r = parse_admin_args({"release", "6560A000.00000001.0001"});
    REQUIRE(r);
    CHECK(r->command == AdminRequest::Command::release);
    CHECK(r->id->text == "6560A000.00000001.0001");
    CHECK_FALSE(parse_admin_args({"release", "nonsense"}));
    CHECK_FALSE(parse_admin_args({"release"}));

    char tmpl[] = "/tmp/holdtest.XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    std::string spool = tmpl;
    QueueId id = *QueueId::parse("6560A000.00000001.0001");
    CHECK(*release_held_message(spool, id, 1, "t") == ReleaseOutcome::no_such_message);
    std::string bucket = spool + "/msgs/" + id.bucket();
    REQUIRE(ensure_dir(spool + "/msgs", 0750));
    REQUIRE(ensure_dir(bucket, 0750));
    REQUIRE(write_file_durably(bucket, "Q" + id.text, "courier-queue 1\n", 0640));
    CHECK(*release_held_message(spool, id, 1, "t") == ReleaseOutcome::not_held);
    REQUIRE(write_file_durably(bucket, "S" + id.text, "hold 5 why\n", 0640));
    CHECK(*release_held_message(spool, id, 6, "admin") == ReleaseOutcome::released);
    CHECK(*read_file(bucket + "/S" + id.text, 1000) == "hold 5 why\nrelease 6 admin\n");
    CHECK(*release_held_message(spool, id, 7, "admin") == ReleaseOutcome::not_held);
    CHECK(std::system(("rm -rf " + spool).c_str()) == 0);
}
