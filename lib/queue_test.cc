// Unit tests: queue ids, envelope round trip, status log parsing after a crash.
#include <doctest/doctest.h>
#include "lib/queue.h"

TEST_CASE("queue ids sort by time and name their bucket") {
    QueueId a = QueueId::make(0x65F1A2B3, 0x1234, 1);
    CHECK(a.text == "65F1A2B3.00001234.0001");
    CHECK(a.bucket() == "65F1A");
    CHECK(QueueId::parse(a.text));
    CHECK_FALSE(QueueId::parse("65f1a2b3.00001234.0001"));
    CHECK_FALSE(QueueId::parse("../../etc/passwd"));
    CHECK_FALSE(QueueId::parse("65F1A2B3.00001234.001"));
    CHECK(QueueId::make(5, 1, 0).text < QueueId::make(6, 0, 0).text);
}

TEST_CASE("envelope round trip, including awkward addresses") {
    QueueEnvelope e;
    e.id = QueueId::make(1000, 42, 7);
    e.arrival = 1000;
    e.sender = "";
    e.source = "esmtp";
    e.ret = "HDRS";
    e.envid = "abc def";
    e.remote_ip = "127.0.0.1";
    e.helo = "client host";
    e.rcpts.push_back({"\"john doe\"@x.org", "esmtp", "x.org", "rfc822;john@x.org", "SUCCESS,FAILURE"});
    e.rcpts.push_back({"user@local", "local", "user", "", ""});
    e.data_size = 5;
    std::string file = format_envelope(e) + "hello";
    size_t off = 0;
    auto p = parse_envelope(file, &off);
    REQUIRE(p);
    CHECK(file.substr(off) == "hello");
    CHECK(p->id.text == e.id.text);
    CHECK(p->sender.empty());
    CHECK(p->envid == "abc def");
    CHECK(p->helo == "client host");
    REQUIRE(p->rcpts.size() == 2);
    CHECK(p->rcpts[0].address == "\"john doe\"@x.org");
    CHECK(p->rcpts[0].orcpt == "rfc822;john@x.org");
    CHECK(p->rcpts[1].module == "local");
    CHECK(p->rcpts[1].host == "user");
    CHECK(p->data_size == 5);
}

TEST_CASE("envelope parser refuses damage and skips unknown records") {
    QueueEnvelope e;
    e.id = QueueId::make(1, 2, 3);
    e.rcpts.push_back({"a@b", "local", "a", "", ""});
    std::string good = format_envelope(e);
    CHECK(parse_envelope(good, nullptr));
    CHECK_FALSE(parse_envelope(good.substr(0, good.size() - 3), nullptr));
    CHECK_FALSE(parse_envelope("courier-queue 2\n" + good.substr(good.find('\n') + 1), nullptr));
    std::string extra = good;
    extra.insert(extra.find("rcpt "), "future-thing x\n");
    CHECK(parse_envelope(extra, nullptr));
    std::string nomodule = "courier-queue 1\nid " + e.id.text + "\nrcpt a@b\ndata 0\n";
    CHECK_FALSE(parse_envelope(nomodule, nullptr));
}

TEST_CASE("status log: records round trip and a torn last line is ignored") {
    StatusRecord d{StatusRecord::Kind::delivered, 2, 100, 0, 0, "250 2.0.0 ok"};
    StatusRecord r{StatusRecord::Kind::retry, 0, 0, 400, 3, ""};
    std::string log = format_status(d) + format_status(r) + "failed 1 10";
    auto recs = parse_status_log(log);
    REQUIRE(recs.size() == 2);
    CHECK(recs[0].kind == StatusRecord::Kind::delivered);
    CHECK(recs[0].rcpt == 2);
    CHECK(recs[0].text == "250 2.0.0 ok");
    CHECK(recs[1].kind == StatusRecord::Kind::retry);
    CHECK(recs[1].next == 400);
    CHECK(recs[1].attempts == 3);

    StatusRecord rel{StatusRecord::Kind::relayed, 1, 200, 0, 0, "250 2.0.0 queued as X"};
    auto again = parse_status_log(format_status(rel));
    REQUIRE(again.size() == 1);
    CHECK(format_status(rel) == "relayed 1 200 250+202.0.0+20queued+20as+20X\n");
    CHECK(again[0].kind == StatusRecord::Kind::relayed);
    CHECK(again[0].rcpt == 1);
    CHECK(again[0].text == "250 2.0.0 queued as X");
}

TEST_CASE("spool paths") {
    QueueId id = QueueId::make(0x65F1A2B3, 1, 1);
    CHECK(queue_file_path("/s", id) == "/s/msgs/65F1A/Q65F1A2B3.00000001.0001");
    CHECK(status_file_path("/s", id) == "/s/msgs/65F1A/S65F1A2B3.00000001.0001");
}

TEST_CASE("envelope owner: the submitting uid round trips; old files have none") {
    QueueEnvelope e;
    e.id = QueueId::make(1, 2, 3);
    e.rcpts.push_back({"a@b", "local", "a", "", ""});
    std::string old_format = format_envelope(e);
    CHECK(old_format.find("\nowner ") == std::string::npos);
    auto old = parse_envelope(old_format, nullptr);
    REQUIRE(old);
    CHECK(old->owner_uid == -1);
    e.owner_uid = 1001;
    std::string with_owner = format_envelope(e);
    CHECK(with_owner.find("\nowner 1001\n") != std::string::npos);
    auto p = parse_envelope(with_owner, nullptr);
    REQUIRE(p);
    CHECK(p->owner_uid == 1001);
    for (const char* bad : {"owner -1\n", "owner x\n", "owner 99999999999\n", "owner \n"}) {
        std::string damaged = old_format;
        damaged.insert(damaged.find("rcpt "), bad);
        CHECK_FALSE(parse_envelope(damaged, nullptr));
    }
}
