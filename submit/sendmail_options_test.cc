// Unit tests for sendmail's command line.
#include <doctest/doctest.h>
#include "submit/sendmail_options.h"

using namespace submit;

TEST_CASE("sendmail options as cron, mailx and PHP pass them") {
    std::string err;
    auto o = parse_sendmail_args({"-FCronDaemon", "-i", "-B8BITMIME", "-oem", "-oi", "-t"}, &err);
    REQUIRE(o);
    CHECK(o->full_name == "CronDaemon");
    CHECK(o->ignore_dots);
    CHECK(o->recipients_from_headers);
    CHECK(o->body == "8BITMIME");
    auto p = parse_sendmail_args({"-t", "-i", "-f", "www@example.com", "--", "-odd-name"}, &err);
    REQUIRE(p);
    CHECK(*p->sender == "www@example.com");
    CHECK(p->recipients == std::vector<std::string>{"-odd-name"});
    auto q = parse_sendmail_args({"-f<>", "-N", "success,delay", "-R", "hdrs", "-V", "id1", "a@b.example"}, &err);
    REQUIRE(q);
    CHECK(q->sender->empty());
    CHECK(q->notify == "SUCCESS,DELAY");
    CHECK(q->ret == "HDRS");
    CHECK(q->envid == "id1");
    CHECK(q->recipients == std::vector<std::string>{"a@b.example"});
    CHECK(parse_sendmail_args({"-Nnever"}, &err)->notify == "NEVER");
}

TEST_CASE("sendmail modes and bad options") {
    std::string err;
    CHECK(parse_sendmail_args({"-bs"}, &err)->mode == SendmailOptions::Mode::smtp);
    CHECK(parse_sendmail_args({"-bS"}, &err)->mode == SendmailOptions::Mode::batch_smtp);
    CHECK(parse_sendmail_args({"-bp"}, &err)->mode == SendmailOptions::Mode::print_queue);
    CHECK(parse_sendmail_args({"-q30m"}, &err)->mode == SendmailOptions::Mode::flush);
    CHECK_FALSE(parse_sendmail_args({"-Z"}, &err));
    CHECK(err == "unknown option -Z");
    CHECK_FALSE(parse_sendmail_args({"-Nsometimes"}, &err));
    CHECK_FALSE(parse_sendmail_args({"-Rall"}, &err));
    CHECK_FALSE(parse_sendmail_args({"-f"}, &err));
    CHECK_FALSE(parse_sendmail_args({"-f", "not an address"}, &err));
}
