// Unit tests for the global filter protocol (doc/filters.md): envelope file, request
// and answer round trips, the answer parser's limits, enablefiltering, names.
#include <doctest/doctest.h>
#include "filters/filter_protocol.h"
#include "filters/filter_supervisor.h"

using namespace courierfilter;

namespace {
AnswerParser::State feed_all(AnswerParser& p, std::vector<std::string> lines) {
    AnswerParser::State st = AnswerParser::State::more;
    for (const auto& l : lines) st = p.feed(l);
    return st;
}
}  // namespace

TEST_CASE("filter protocol: envelope file round trip, xtext and unknown tags") {
    Envelope e;
    e.source = "esmtp";
    e.sender = "a+b@example.com";
    e.size = 1234;
    e.remote_ip = "192.0.2.1";
    e.helo = "client example";
    e.rcpts = {"x@example.net", "y=z@example.net"};
    std::string text = format_envelope_file(e);
    CHECK(text.rfind("courier-filter 1\nsource esmtp\nsender a+2Bb@example.com\nsize 1234\n", 0) == 0);
    CHECK(text.find("helo client+20example\n") != std::string::npos);
    CHECK(text.find("remote-host") == std::string::npos);   // unknown facts are absent
    auto back = parse_envelope_file(text + "future-tag whatever\n");
    REQUIRE(back);
    CHECK(back->sender == e.sender);
    CHECK(back->size == 1234);
    CHECK(back->helo == "client example");
    CHECK(back->rcpts == e.rcpts);
    CHECK_FALSE(parse_envelope_file("courier-filter 2\n"));
    CHECK_FALSE(parse_envelope_file(""));
    CHECK_FALSE(parse_envelope_file("courier-filter 1\nsize x\n"));
    auto empty_sender = parse_envelope_file("courier-filter 1\nsender \n");
    REQUIRE(empty_sender);
    CHECK(empty_sender->sender.empty());
}

TEST_CASE("filter protocol: the request is two absolute paths and an empty line") {
    Request r{"/spool/tmp/filter.1.1.msg", "/spool/tmp/filter.1.1.env"};
    CHECK(format_request(r) == "/spool/tmp/filter.1.1.msg\n/spool/tmp/filter.1.1.env\n\n");
    CHECK_FALSE(parse_request_lines({"/a"}).has_value());
    CHECK_FALSE(parse_request_lines({"/a", "/b"}).has_value());
    auto done = parse_request_lines({"/a", "/b", ""});
    REQUIRE(done.has_value());
    REQUIRE(*done);
    CHECK((*done)->envelope_path == "/b");
    CHECK_FALSE(*parse_request_lines({"relative"}));
    CHECK_FALSE(*parse_request_lines({"/a", "/b", "extra"}));
}

TEST_CASE("filter protocol: answers with directives and multi-line replies") {
    AnswerParser p;
    CHECK(feed_all(p, {"prepend X-Spam: yes", "hold looks odd\r", "250-first", "250 second"}) ==
          AnswerParser::State::done);
    CHECK(p.answer().code == 250);
    CHECK(p.answer().text == "first second");
    CHECK(p.answer().prepend == std::vector<std::string>{"X-Spam: yes"});
    CHECK(p.answer().hold);
    CHECK(p.answer().hold_reason == "looks odd");

    AnswerParser q;
    CHECK(q.feed("550") == AnswerParser::State::done);
    CHECK(q.answer().code == 550);
    CHECK(q.answer().text.empty());

    Answer a{200, "whitelisted", {"X-A: 1"}, false, true, "", "gone"};
    AnswerParser r;
    std::string formatted = format_answer(a);
    size_t pos = 0;
    AnswerParser::State st = AnswerParser::State::more;
    while (pos < formatted.size()) {
        size_t nl = formatted.find('\n', pos);
        st = r.feed(std::string_view(formatted).substr(pos, nl - pos));
        pos = nl + 1;
    }
    CHECK(st == AnswerParser::State::done);
    CHECK(r.answer().skip_rest());
    CHECK(r.answer().discard);
    CHECK(r.answer().discard_reason == "gone");
}

TEST_CASE("filter protocol: malformed answers are errors") {
    auto bad = [](std::vector<std::string> lines) {
        AnswerParser p;
        return feed_all(p, lines) == AnswerParser::State::error;
    };
    CHECK(bad({"quarantine"}));                       // unknown directive
    CHECK(bad({"prepend no colon here"}));
    CHECK(bad({"prepend : empty name"}));
    CHECK(bad({"prepend Bad Name: x"}));
    CHECK(bad({"354 go ahead"}));                     // not 2xx/4xx/5xx
    CHECK(bad({"199 x"}));
    CHECK(bad({"250-a", "451 b"}));                   // code changed mid-reply
    CHECK(bad({"250-a", "hold x"}));                  // directive inside the reply
    CHECK(bad({"25"}));
    CHECK(bad({"250xOk"}));
    CHECK(bad({std::string(kMaxLine + 1, 'a')}));
    CHECK(bad({"250 a\x01"}));
    std::vector<std::string> many(kMaxDirectives + 1, "prepend X-A: b");
    CHECK(bad(many));
}

TEST_CASE("filter protocol: the client's reply text carries an enhanced status code") {
    CHECK(client_reply_text(550, "5.7.1 Spam") == "5.7.1 Spam");
    CHECK(client_reply_text(550, "Spam") == "5.7.1 Spam");
    CHECK(client_reply_text(451, "later") == "4.7.1 later");
    CHECK(client_reply_text(451, "5.7.1 mismatched class") == "4.7.1 5.7.1 mismatched class");
    CHECK(client_reply_text(250, "") == "2.0.0 Ok");
    CHECK(client_reply_text(554, "") == "5.7.1 Refused by a filter");
}

TEST_CASE("filter protocol: enablefiltering lists sources, errors say file:line") {
    auto s = parse_enablefiltering("esmtp local\n# comment\n\nforward bogus # trailing\n", "/etc/enablefiltering");
    CHECK(s.sources == std::vector<std::string>{"esmtp", "local", "forward"});
    CHECK(s.covers("esmtp"));
    CHECK_FALSE(s.covers("dsn"));
    REQUIRE(s.errors.size() == 1);
    CHECK(s.errors[0] == "/etc/enablefiltering:4: unknown mail source \"bogus\"");
    CHECK(parse_enablefiltering("", "f").sources.empty());
}

TEST_CASE("filter protocol: failure modes and filter names") {
    CHECK(parse_failure_mode("tempfail") == FailureMode::tempfail);
    CHECK(parse_failure_mode("closed") == FailureMode::tempfail);
    CHECK(parse_failure_mode("accept") == FailureMode::accept);
    CHECK(parse_failure_mode("open") == FailureMode::accept);
    CHECK_FALSE(parse_failure_mode("maybe"));
    CHECK(valid_filter_name("10-pcre"));
    CHECK_FALSE(valid_filter_name(".hidden"));
    CHECK_FALSE(valid_filter_name("a/b"));
    CHECK_FALSE(valid_filter_name(""));
    CHECK_FALSE(valid_filter_name("with space"));
}

TEST_CASE("courierfilter: reconciliation and restart pauses") {
    auto plan = plan_filters({"a", "b", "c"}, {"b", "d"});
    CHECK(plan.start == std::vector<std::string>{"a", "c"});
    CHECK(plan.stop == std::vector<std::string>{"d"});
    CHECK(filter_restart_pause(1) == 5);
    CHECK(filter_restart_pause(2) == 10);
    CHECK(filter_restart_pause(4) == 40);
    CHECK(filter_restart_pause(5) == 60);
    CHECK(filter_restart_pause(50) == 60);
}
