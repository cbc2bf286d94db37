// Unit tests: courierd <-> module records round trip and malformed lines are caught.
#include <doctest/doctest.h>
#include "lib/module_protocol.h"

TEST_CASE("request round trip through the module-side parser") {
    DeliveryRequest r;
    r.id = 17;
    r.queue_file = "/spool/msgs/65F1A/Q65F1A2B3.00000001.0001";
    r.qid = "65F1A2B3.00000001.0001";
    r.sender = "";
    r.host = "user";
    r.rcpts = {{0, "user@x"}, {3, "\"a b\"@x"}};
    std::string text = format_request(r);
    RequestParser p;
    std::optional<DeliveryRequest> got;
    size_t start = 0;
    while (start < text.size()) {
        size_t nl = text.find('\n', start);
        std::string err;
        auto g = p.feed(std::string_view(text).substr(start, nl - start), &err);
        CHECK(err.empty());
        if (g) got = g;
        start = nl + 1;
    }
    REQUIRE(got);
    CHECK(got->id == 17);
    CHECK(got->queue_file == r.queue_file);
    CHECK(got->sender.empty());
    REQUIRE(got->rcpts.size() == 2);
    CHECK(got->rcpts[1].index == 3);
    CHECK(got->rcpts[1].address == "\"a b\"@x");
}

TEST_CASE("module replies parse; junk is an error") {
    DeliveryResult res{9, 2, DeliveryStatus::fail, "550 5.1.1 unknown user"};
    std::string err;
    auto r = parse_module_reply(format_result(res).substr(0, format_result(res).size() - 1), &err);
    REQUIRE(r);
    CHECK(r->kind == ModuleReply::Kind::result);
    CHECK(r->result.status == DeliveryStatus::fail);
    CHECK(r->result.text == "550 5.1.1 unknown user");
    auto d = parse_module_reply("done 9", &err);
    REQUIRE(d);
    CHECK(d->done_id == 9);
    auto rel = parse_module_reply("result 9 3 relayed 250+20ok", &err);
    REQUIRE(rel);
    CHECK(rel->result.status == DeliveryStatus::relayed);
    CHECK(format_result(rel->result) == "result 9 3 relayed 250+20ok\n");
    CHECK_FALSE(parse_module_reply("result 9 2 maybe x", &err));
    CHECK_FALSE(parse_module_reply("hello", &err));
    RequestParser p;
    CHECK_FALSE(p.feed("rcpt 1 a@b", &err));
    CHECK(err == "malformed rcpt line");
}
