#include <doctest/doctest.h>
#include "courierd/scheduler_state.h"

namespace {

ModuleConfig module(const std::string& name, unsigned dels, unsigned host, unsigned rcpt) {
    ModuleConfig m;
    m.name = name;
    m.prog = "/bin/" + name;
    m.maxdels = dels;
    m.maxhost = host;
    m.maxrcpt = rcpt;
    return m;
}

// A message with recipients given as {module, host} pairs; address "r<i>@<host>".
Message message(unsigned seq, std::vector<std::pair<std::string, std::string>> rcpts) {
    QueueEnvelope env;
    env.id = QueueId::make(0x60000000, 1, seq);
    env.sender = "s@example.org";
    for (size_t i = 0; i < rcpts.size(); ++i)
        env.rcpts.push_back({"r" + std::to_string(i) + "@" + rcpts[i].second, rcpts[i].first,
                             rcpts[i].second, "", ""});
    StatusSummary none = summarize_status({}, env.rcpts.size());
    return make_message(env, "/q/Q" + env.id.text, none);
}

ModuleReply result(unsigned long id, size_t index, DeliveryStatus st) {
    ModuleReply r;
    r.kind = ModuleReply::Kind::result;
    r.result.id = id;
    r.result.index = index;
    r.result.status = st;
    r.result.text = st == DeliveryStatus::ok ? "250 2.0.0 ok" : "451 4.0.0 later";
    return r;
}

ModuleReply done(unsigned long id) {
    ModuleReply r;
    r.kind = ModuleReply::Kind::done;
    r.done_id = id;
    return r;
}

}  // namespace

TEST_CASE("scheduler: MAXRCPT groups recipients per host, results remove the message") {
    SchedulerState st({module("local", 10, 4, 2)}, 100);
    Effects fx;
    st.add_message(message(1, {{"local", "a"}, {"local", "a"}, {"local", "a"}, {"local", "b"}}),
                   1000, fx);
    CHECK(fx.appends.empty());
    auto plan = st.plan_deliveries();
    REQUIRE(plan.size() == 3);   // a:{0,1}, b:{3}, a:{2}: hosts take turns
    CHECK(plan[0].request.host == "a");
    CHECK(plan[0].request.rcpts.size() == 2);
    CHECK(plan[1].request.host == "b");
    CHECK(plan[2].request.rcpts[0].index == 2);
    CHECK(st.plan_deliveries().empty());
    for (auto& d : plan) {
        for (auto& r : d.request.rcpts)
            REQUIRE(st.apply_reply("local", result(d.request.id, r.index, DeliveryStatus::ok),
                                   1001, fx).ok());
        REQUIRE(st.apply_reply("local", done(d.request.id), 1001, fx).ok());
    }
    CHECK(fx.appends.size() == 4);
    CHECK(fx.appends[0].durable);
    CHECK(fx.appends[0].record.kind == StatusRecord::Kind::delivered);
    CHECK(fx.logs.size() == 4);
    CHECK(fx.logs[0].rfind("delivery id=", 0) == 0);
    REQUIRE(fx.settled.size() == 1);
    CHECK(st.message_count() == 0);
    CHECK(st.deliveries_in_progress() == 0);
}

TEST_CASE("scheduler: MAXDELS and MAXHOST limit deliveries in progress") {
    SchedulerState st({module("esmtp", 3, 2, 1)}, 100);
    Effects fx;
    for (unsigned i = 0; i < 4; ++i) st.add_message(message(i, {{"esmtp", "x.org"}}), 10, fx);
    st.add_message(message(9, {{"esmtp", "y.org"}}), 10, fx);
    auto plan = st.plan_deliveries();
    REQUIRE(plan.size() == 3);   // two to x.org (MAXHOST), one to y.org
    int x = 0;
    for (auto& d : plan) x += d.request.host == "x.org";
    CHECK(x == 2);
    CHECK(st.plan_deliveries().empty());
    auto first = plan[0].request;
    REQUIRE(st.apply_reply("esmtp", result(first.id, first.rcpts[0].index, DeliveryStatus::ok), 11, fx).ok());
    REQUIRE(st.apply_reply("esmtp", done(first.id), 11, fx).ok());
    auto more = st.plan_deliveries();
    REQUIRE(more.size() == 1);
    CHECK(more[0].request.host == "x.org");
    CHECK(more[0].request.qid == QueueId::make(0x60000000, 1, 2).text);   // oldest first
}

TEST_CASE("scheduler: a deferral settles the message once every recipient has an outcome") {
    SchedulerState st({module("local", 5, 5, 1)}, 100);
    Effects fx;
    st.add_message(message(1, {{"local", "a"}, {"local", "b"}}), 100, fx);
    auto plan = st.plan_deliveries();
    REQUIRE(plan.size() == 2);
    REQUIRE(st.apply_reply("local", result(plan[0].request.id, 0, DeliveryStatus::defer), 100, fx).ok());
    REQUIRE(st.apply_reply("local", done(plan[0].request.id), 100, fx).ok());
    CHECK(st.message_count() == 1);   // recipient 1 still in progress
    // done without a result: the recipient counts as deferred.
    REQUIRE(st.apply_reply("local", done(plan[1].request.id), 105, fx).ok());
    CHECK(st.message_count() == 0);
    REQUIRE(fx.appends.size() == 2);
    CHECK(!fx.appends[0].durable);
    CHECK(fx.appends[1].record.kind == StatusRecord::Kind::deferred);
    // The retry record is the event loop's (settlement.h): the state only says so.
    REQUIRE(fx.settled.size() == 1);
    CHECK(fx.settled[0].text == QueueId::make(0x60000000, 1, 1).text);
}

TEST_CASE("scheduler: protocol errors and unknown modules") {
    SchedulerState st({module("local", 5, 5, 1)}, 100);
    Effects fx;
    st.add_message(message(1, {{"local", "a"}}), 100, fx);
    auto plan = st.plan_deliveries();
    REQUIRE(plan.size() == 1);
    auto id = plan[0].request.id;
    CHECK(!st.apply_reply("local", done(id + 1), 100, fx).ok());
    CHECK(!st.apply_reply("esmtp", done(id), 100, fx).ok());
    CHECK(!st.apply_reply("local", result(id, 7, DeliveryStatus::ok), 100, fx).ok());
    REQUIRE(st.apply_reply("local", result(id, 0, DeliveryStatus::fail), 100, fx).ok());
    CHECK(!st.apply_reply("local", result(id, 0, DeliveryStatus::ok), 100, fx).ok());
    REQUIRE(st.apply_reply("local", done(id), 100, fx).ok());
    CHECK(fx.appends[0].record.kind == StatusRecord::Kind::failed);
    CHECK(fx.settled.size() == 1);

    Effects fx2;
    st.add_message(message(2, {{"uucp", "h"}}), 200, fx2);
    CHECK(st.message_count() == 0);
    REQUIRE(fx2.appends.size() == 1);   // deferred, and settled at once
    CHECK(fx2.appends[0].record.kind == StatusRecord::Kind::deferred);
    CHECK(fx2.settled.size() == 1);
}

TEST_CASE("scheduler: recipients with final records are not delivered again") {
    SchedulerState st({module("local", 5, 5, 1)}, 100);
    QueueEnvelope env;
    env.id = QueueId::make(0x60000000, 1, 3);
    env.rcpts = {{"a@x", "local", "a", "", ""}, {"b@x", "local", "b", "", ""}};
    StatusRecord delivered;
    delivered.kind = StatusRecord::Kind::delivered;
    delivered.rcpt = 0;
    StatusRecord retry;
    retry.kind = StatusRecord::Kind::retry;
    retry.next = 500;
    retry.attempts = 2;
    auto sum = summarize_status({delivered, retry}, 2);
    CHECK(sum.attempts == 2);
    CHECK(sum.retry_next == 500);
    CHECK(!sum.all_final());
    Effects fx;
    st.add_message(make_message(env, "/q", sum), 600, fx);
    auto plan = st.plan_deliveries();
    REQUIRE(plan.size() == 1);
    CHECK(plan[0].request.rcpts[0].index == 1);
}

TEST_CASE("scheduler: the delivery log line") {
    Message m = message(4, {{"local", "alice"}});
    m.arrival = 1000;
    CHECK(delivery_log_line(m, 0, "local", DeliveryStatus::defer, "451 4.2.0 full", 1090) ==
          "delivery id=" + m.id.text + " from=<s@example.org> rcpt=<r0@alice> module=local "
          "relay=alice status=defer code=4.2.0 delay=90 attempt=1 text=451 4.2.0 full");
    CHECK(delivery_log_line(m, 0, "local", DeliveryStatus::ok, "250 ok", 1000).find(" code=250 ") !=
          std::string::npos);
}

TEST_CASE("WaitingMessages: bounded, ordered, flushable") {
    WaitingMessages w(2);
    w.add("A", 300);
    w.add("B", 100);
    w.add("A", 200);   // re-adding moves, does not duplicate
    CHECK(w.size() == 2);
    CHECK(w.next_due() == 100);
    w.add("C", 400);   // over the cap: the latest is forgotten
    CHECK(w.overflowed());
    CHECK(!w.contains("C"));
    CHECK(w.make_due("A", 50));
    CHECK(!w.make_due("Z", 50));
    CHECK(w.pop_due(60) == "A");
    CHECK(!w.pop_due(60));
    w.make_all_due(70);
    CHECK(w.pop_due(70) == "B");
    CHECK(w.size() == 0);
}

TEST_CASE("scheduler: queuefill puts older messages found on disk at the top") {
    // One delivery slot: the order of the requests is the scheduling order.
    SchedulerState st({module("esmtp", 1, 1, 10)}, 100);
    Effects fx;
    st.add_message(message(10, {{"esmtp", "x.org"}}), 1000, fx);   // new mail
    st.add_message(message(11, {{"esmtp", "x.org"}}), 1000, fx);
    // A refill finds two older messages, oldest first: they go first, in that order.
    st.add_message(message(1, {{"esmtp", "x.org"}}), 1000, fx, true);
    st.add_message(message(2, {{"esmtp", "x.org"}}), 1000, fx, true);
    // And a host that had no work is served before the other hosts.
    st.add_message(message(12, {{"esmtp", "y.org"}}), 1000, fx);
    st.add_message(message(3, {{"esmtp", "z.org"}}), 1000, fx, true);
    std::vector<std::string> order;
    for (int round = 0; round < 6; ++round) {
        auto plan = st.plan_deliveries();
        REQUIRE(plan.size() == 1);
        order.push_back(plan[0].request.qid);
        CHECK(st.apply_reply("esmtp", result(plan[0].request.id, 0, DeliveryStatus::ok), 1001, fx));
        CHECK(st.apply_reply("esmtp", done(plan[0].request.id), 1001, fx));
    }
    auto q = [](unsigned seq) { return QueueId::make(0x60000000, 1, seq).text; };
    // z.org (priority host) first; then hosts take turns: x.org (its priority work
    // first, oldest first), y.org, x.org, ...
    CHECK(order == std::vector<std::string>{q(3), q(1), q(12), q(2), q(10), q(11)});
    CHECK(st.message_count() == 0);
}
