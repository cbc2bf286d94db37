#include <doctest/doctest.h>
#include "courierd/settlement.h"

using courierd::NoticeItem;
using courierd::plan_settlement;
using courierd::SettlementOptions;

namespace {

QueueEnvelope envelope(std::vector<std::string> notify) {
    QueueEnvelope env;
    env.id = QueueId::make(0x60000000, 7, 1);
    env.arrival = 10000;
    env.sender = "s@example.org";
    env.source = "esmtp";
    for (size_t i = 0; i < notify.size(); ++i)
        env.rcpts.push_back({"r" + std::to_string(i) + "@x.org", "esmtp", "x.org", "", notify[i]});
    return env;
}

StatusRecord rec(StatusRecord::Kind k, size_t rcpt, std::time_t when, std::string text = "") {
    StatusRecord r;
    r.kind = k;
    r.rcpt = rcpt;
    r.when = when;
    r.text = std::move(text);
    return r;
}

StatusRecord notice(std::time_t when, std::string kind) {
    StatusRecord r;
    r.kind = StatusRecord::Kind::notice;
    r.when = when;
    r.text = std::move(kind);
    return r;
}

using K = StatusRecord::Kind;

}  // namespace

TEST_CASE("settlement: deferred recipients wait for the next attempt of the schedule") {
    auto env = envelope({""});
    SettlementOptions o;
    auto s = plan_settlement(env, {rec(K::deferred, 0, 10000, "451 4.4.1 no answer")}, 10000, o);
    CHECK_FALSE(s.remove);
    CHECK(s.attempts == 1);
    CHECK(s.next == 10300);
    CHECK(s.report.empty());
    CHECK(s.delay.empty());
    StatusRecord retry;
    retry.kind = K::retry;
    retry.attempts = 3;
    s = plan_settlement(env, {retry, rec(K::deferred, 0, 11000, "451 x")}, 11000, o);
    CHECK(s.attempts == 4);
    CHECK(s.next == 11300);
    retry.attempts = 2;
    s = plan_settlement(env, {retry, rec(K::deferred, 0, 11000, "451 x")}, 11000, o);
    CHECK(s.next == 11000 + 900);   // the end of the first series: retrygamma
}

TEST_CASE("settlement: failures are reported once, honouring NOTIFY") {
    auto env = envelope({"", "NEVER", "SUCCESS,FAILURE", "SUCCESS"});
    env.rcpts[2].module = "local";   // delivered here: the success notice is ours
    SettlementOptions o;
    std::vector<StatusRecord> log{rec(K::failed, 0, 10001, "550 5.1.1 no"),
                                  rec(K::failed, 1, 10001, "550 5.1.1 no"),
                                  rec(K::delivered, 2, 10001, "250 ok"),
                                  rec(K::failed, 3, 10001, "550 5.1.1 no")};
    auto s = plan_settlement(env, log, 10002, o);
    CHECK(s.remove);
    REQUIRE(s.report.size() == 2);
    CHECK(s.report[0].index == 0);
    CHECK(s.report[0].action == NoticeItem::Action::failed);
    CHECK(s.report[1].index == 2);
    CHECK(s.report[1].action == NoticeItem::Action::delivered);
    CHECK(s.backscatter_add == std::vector<std::string>{"r0@x.org", "r1@x.org", "r3@x.org"});
    CHECK(s.backscatter_remove == std::vector<std::string>{"r2@x.org"});
    // After the "notice dsn" record, the same records are not reported again.
    log.push_back(notice(10002, "dsn"));
    s = plan_settlement(env, log, 10003, o);
    CHECK(s.report.empty());
    CHECK(s.backscatter_add.empty());
}

TEST_CASE("settlement: never a notice to the null sender; backscatter only for listed sources") {
    auto env = envelope({""});
    env.sender = "";
    SettlementOptions o;
    o.backscatter_sources = {"smtp"};
    auto s = plan_settlement(env, {rec(K::failed, 0, 10001, "550 5.1.1 no")}, 10002, o);
    CHECK(s.report.empty());
    CHECK(s.remove);
    CHECK(s.backscatter_add.size() == 1);
    env.auth_user = "someone";   // authsmtp
    s = plan_settlement(env, {rec(K::failed, 0, 10001, "550 5.1.1 no")}, 10002, o);
    CHECK(s.backscatter_add.empty());
    o.backscatter_sources = {"smtp", "authsmtp"};
    s = plan_settlement(env, {rec(K::failed, 0, 10001, "550 5.1.1 no")}, 10002, o);
    CHECK(s.backscatter_add.size() == 1);
}

TEST_CASE("settlement: warntime gives one delay notice; backuprelay replaces it") {
    auto env = envelope({"", "FAILURE"});
    SettlementOptions o;
    std::vector<StatusRecord> log{rec(K::deferred, 0, 0, "451 4.2.2 full"), rec(K::deferred, 1, 0, "451 x")};
    auto s = plan_settlement(env, log, 10000 + 4 * 3600 - 1, o);
    CHECK(s.delay.empty());
    s = plan_settlement(env, log, 10000 + 4 * 3600, o);
    REQUIRE(s.delay.size() == 1);   // recipient 1 asked for FAILURE only
    CHECK(s.delay[0].index == 0);
    CHECK(s.delay[0].action == NoticeItem::Action::delayed);
    CHECK(s.delay[0].text == "451 4.2.2 full");
    log.push_back(notice(10000 + 4 * 3600, "delay"));
    s = plan_settlement(env, log, 10000 + 5 * 3600, o);
    CHECK(s.delay.empty());
    log.pop_back();
    o.backuprelay = true;
    s = plan_settlement(env, log, 10000 + 4 * 3600, o);
    CHECK(s.delay.empty());
}

TEST_CASE("settlement: queuetime expiry fails the open recipients and bounces") {
    auto env = envelope({"", ""});
    SettlementOptions o;
    o.retry.queuetime = 3600;
    std::vector<StatusRecord> log{rec(K::delivered, 0, 10001, "250 ok"),
                                  rec(K::deferred, 1, 13000, "451 4.4.1 timeout")};
    auto s = plan_settlement(env, log, 13000, o);
    CHECK_FALSE(s.remove);
    CHECK(s.next == 13300);
    s = plan_settlement(env, log, 13500, o);
    CHECK(s.next == 13600);   // the last attempt falls on the expiry time
    s = plan_settlement(env, log, 13600, o);
    CHECK(s.remove);
    REQUIRE(s.expired.size() == 1);
    CHECK(s.expired[0].rcpt == 1);
    CHECK(s.expired[0].kind == K::failed);
    CHECK(s.expired[0].text == "554 5.4.7 Delivery time expired; last attempt: 4.4.1 timeout");
    REQUIRE(s.report.size() == 1);
    CHECK(s.report[0].index == 1);
}

TEST_CASE("settlement: a cancelled message (every recipient failed) is reported and removed") {
    auto env = envelope({""});
    SettlementOptions o;
    auto s = plan_settlement(env, {rec(K::deferred, 0, 10000, "451 x"),
                                   rec(K::failed, 0, 10100, "554 5.0.0 Message cancelled by root")},
                             10100, o);
    CHECK(s.remove);
    REQUIRE(s.report.size() == 1);
    CHECK(s.report[0].text == "554 5.0.0 Message cancelled by root");
}

TEST_CASE("settlement: a relayed recipient gets a relayed notice only with NOTIFY=SUCCESS") {
    auto env = envelope({"SUCCESS", ""});
    SettlementOptions o;
    std::vector<StatusRecord> log{rec(K::relayed, 0, 10001, "250 2.0.0 queued"),
                                  rec(K::relayed, 1, 10001, "250 2.0.0 queued")};
    auto s = plan_settlement(env, log, 10002, o);
    CHECK(s.remove);
    REQUIRE(s.report.size() == 1);
    CHECK(s.report[0].index == 0);
    CHECK(s.report[0].action == NoticeItem::Action::relayed);
    CHECK(s.backscatter_add.empty());
}

TEST_CASE("settlement: a success at a next hop with DSN gives no notice from us") {
    // RFC 3461 5.2.2: the hop took NOTIFY=SUCCESS and ORCPT and sends the notice itself.
    auto env = envelope({"SUCCESS", "SUCCESS", "SUCCESS"});
    env.rcpts[1].module = "local";
    std::vector<StatusRecord> log{rec(K::delivered, 0, 10001, "250 2.0.0 queued"),
                                  rec(K::delivered, 1, 10001, "250 2.0.0 delivered"),
                                  rec(K::relayed, 2, 10001, "250 2.0.0 queued")};
    auto s = plan_settlement(env, log, 10002, SettlementOptions{});
    CHECK(s.remove);
    CHECK(s.mark_handled);   // "notice none" covers the esmtp success
    REQUIRE(s.report.size() == 2);
    CHECK(s.report[0].index == 1);
    CHECK(s.report[0].action == NoticeItem::Action::delivered);
    CHECK(s.report[1].index == 2);
    CHECK(s.report[1].action == NoticeItem::Action::relayed);
    CHECK(s.backscatter_remove == std::vector<std::string>{"r0@x.org", "r1@x.org", "r2@x.org"});
    using A = NoticeItem::Action;
    CHECK_FALSE(courierd::notice_is_ours("esmtp", A::delivered));
    CHECK(courierd::notice_is_ours("local", A::delivered));
    for (A a : {A::failed, A::delayed, A::relayed}) CHECK(courierd::notice_is_ours("esmtp", a));
}

TEST_CASE("notify_wants follows RFC 3461") {
    using A = NoticeItem::Action;
    CHECK(courierd::notify_wants("", A::failed));
    CHECK(courierd::notify_wants("", A::delayed));
    CHECK_FALSE(courierd::notify_wants("", A::delivered));
    CHECK(courierd::notify_wants("success", A::delivered));
    CHECK_FALSE(courierd::notify_wants("NEVER", A::failed));
    CHECK_FALSE(courierd::notify_wants("SUCCESS", A::failed));
}

TEST_CASE("backuprelay: after warntime, pending esmtp recipients go to the relay") {
    QueueEnvelope env = envelope({"", "", ""});
    env.rcpts[1].module = "local";
    env.rcpts[1].host = "alice";
    StatusSummary st;
    st.final_rcpt = {false, false, true};   // the third is already delivered
    RetrySettings s;
    s.warntime = 100;
    Message m = make_message(env, "Q", st);

    CHECK(courierd::reroute_to_backuprelay(m, "backup.example", env.arrival + 99, s).empty());
    CHECK(m.rcpts[0].host == "x.org");
    CHECK(courierd::reroute_to_backuprelay(m, "", env.arrival + 100, s).empty());

    auto moved = courierd::reroute_to_backuprelay(m, "backup.example", env.arrival + 100, s);
    CHECK(moved == std::vector<size_t>{0});
    CHECK(m.rcpts[0].host == "backup.example");
    CHECK(m.rcpts[1].host == "alice");        // local mail is never rerouted
    CHECK(m.rcpts[2].host == "x.org");        // nor a recipient that is done
    // Already rerouted: nothing more to report.
    CHECK(courierd::reroute_to_backuprelay(m, "backup.example", env.arrival + 200, s).empty());
}
