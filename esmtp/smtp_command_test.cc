// Unit tests for SMTP command line and ESMTP parameter parsing.
#include <doctest/doctest.h>
#include "esmtp/smtp_command.h"

TEST_CASE("split_command: verb upper-cased, CR and trailing blanks removed") {
    CommandLine c = split_command("mail FROM:<a@b> SIZE=10  \r");
    CHECK(c.verb == "MAIL");
    CHECK(c.args == "FROM:<a@b> SIZE=10");
    c = split_command("QUIT");
    CHECK(c.verb == "QUIT");
    CHECK(c.args.empty());
    c = split_command("noop\r");
    CHECK(c.verb == "NOOP");
    CHECK(split_command("").verb.empty());
}

TEST_CASE("strip_keyword is case-insensitive") {
    CHECK(strip_keyword("from:<a@b>", "FROM:") == std::optional<std::string_view>("<a@b>"));
    CHECK(strip_keyword("TO:<x>", "FROM:") == std::nullopt);
    CHECK(strip_keyword("FRO", "FROM:") == std::nullopt);
}

TEST_CASE("parse_esmtp_params follows the RFC 5321 grammar") {
    auto p = parse_esmtp_params("SIZE=100 body=8bitmime  FLAG");
    REQUIRE(p);
    REQUIRE(p->size() == 3);
    CHECK((*p)[0].keyword == "SIZE");
    CHECK((*p)[0].value == "100");
    CHECK((*p)[1].keyword == "BODY");
    CHECK((*p)[1].value == "8bitmime");
    CHECK_FALSE((*p)[2].has_value);
    CHECK_FALSE(parse_esmtp_params("=x"));
    CHECK_FALSE(parse_esmtp_params("SIZE="));
    CHECK_FALSE(parse_esmtp_params("-X=1"));
    CHECK_FALSE(parse_esmtp_params("X=a\x01"));
    CHECK(parse_esmtp_params("")->empty());
}

TEST_CASE("check_mail_params: SIZE and BODY") {
    std::string reply;
    auto p = check_mail_params("SIZE=500 BODY=8bitmime", 1000, &reply);
    REQUIRE(p);
    CHECK(*p->size == 500);
    CHECK(p->body == "8BITMIME");
    CHECK(submit_mail_params(*p) == "BODY=8BITMIME");
    CHECK(submit_mail_params(MailParams{}) == "");

    CHECK_FALSE(check_mail_params("SIZE=1001", 1000, &reply));
    CHECK(reply.rfind("552 5.3.4 ", 0) == 0);
    CHECK_FALSE(check_mail_params("SIZE=99999999999999999999", 1000, &reply));
    CHECK(reply.rfind("552 5.3.4 ", 0) == 0);
    CHECK_FALSE(check_mail_params("SIZE=12x", 1000, &reply));
    CHECK(reply.rfind("501 5.5.4 ", 0) == 0);
    CHECK_FALSE(check_mail_params("SIZE", 1000, &reply));
    CHECK(reply.rfind("501 5.5.4 ", 0) == 0);
    CHECK_FALSE(check_mail_params("BODY=BINARYMIME", 1000, &reply));
    CHECK(reply.rfind("501 5.5.4 ", 0) == 0);
    CHECK_FALSE(check_mail_params("SIZE=1 SIZE=2", 1000, &reply));
    CHECK(reply.rfind("501 5.5.4 ", 0) == 0);
    CHECK_FALSE(check_mail_params("XFOO", 1000, &reply));
    CHECK(reply.rfind("555 5.5.4 ", 0) == 0);
    CHECK_FALSE(check_mail_params("a b=", 1000, &reply));
    CHECK(reply.rfind("501 5.5.4 ", 0) == 0);
}

TEST_CASE("check_mail_params: DSN, SMTPUTF8 and AUTH parameters") {
    std::string reply;
    auto p = check_mail_params("RET=hdrs ENVID=abc+2Bd SMTPUTF8 AUTH=<>", 1000, &reply);
    REQUIRE(p);
    CHECK(p->ret == "HDRS");
    CHECK(p->envid == "abc+2Bd");
    CHECK(p->smtputf8);
    CHECK(submit_mail_params(*p) == "RET=HDRS ENVID=abc+2Bd SMTPUTF8=1");
    for (const char* bad : {"RET=ALL", "RET", "ENVID=a+zz", "ENVID=a+2", "SMTPUTF8=yes",
                            "AUTH=", "ENVID=" "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789x"}) {
        CAPTURE(bad);
        CHECK_FALSE(check_mail_params(bad, 1000, &reply));
        CHECK(reply.rfind("501 5.5.4 ", 0) == 0);
    }
}

TEST_CASE("check_rcpt_params: NOTIFY and ORCPT (RFC 3461)") {
    std::string reply;
    auto p = check_rcpt_params("", &reply);
    REQUIRE(p);
    CHECK(submit_rcpt_params(*p) == "");
    p = check_rcpt_params("notify=success,delay ORCPT=rfc822;u+2Bx@example.com", &reply);
    REQUIRE(p);
    CHECK(submit_rcpt_params(*p) == "NOTIFY=SUCCESS,DELAY ORCPT=rfc822;u+2Bx@example.com");
    CHECK(check_rcpt_params("NOTIFY=NEVER", &reply));
    for (const char* bad : {"NOTIFY=NEVER,SUCCESS", "NOTIFY=", "NOTIFY=SUCCESS,SUCCESS", "NOTIFY=SOMETIMES",
                            "ORCPT=nosemicolon", "ORCPT=;x", "ORCPT=rfc822;", "ORCPT=rfc822;a+zz"}) {
        CAPTURE(bad);
        CHECK_FALSE(check_rcpt_params(bad, &reply));
        CHECK(reply.rfind("501 5.5.4 ", 0) == 0);
    }
    CHECK_FALSE(check_rcpt_params("XFOO=1", &reply));
    CHECK(reply.rfind("555 5.5.4 ", 0) == 0);
    CHECK_FALSE(check_rcpt_params("=", &reply));
    CHECK(reply.rfind("501 5.5.4 ", 0) == 0);
}

TEST_CASE("max_line_for: RFC 5321 4.5.3.1.4 raised by extensions") {
    CHECK(max_line_for("NOOP") == 512);
    CHECK(max_line_for("MAIL") == 2048);
    CHECK(max_line_for("AUTH") == 12288);
}
