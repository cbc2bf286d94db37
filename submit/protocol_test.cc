// Unit tests for the submit protocol's command parsing (submit/protocol.h).
#include <doctest/doctest.h>
#include "submit/protocol.h"

using namespace submit;

TEST_CASE("parse_command splits the verb and keeps empty fields") {
    CommandLine c = parse_command("mail  RET=FULL");
    CHECK(c.verb == Verb::mail);
    REQUIRE(c.fields.size() == 2);
    CHECK(c.fields[0] == "");
    CHECK(c.fields[1] == "RET=FULL");
    CHECK(parse_command("quit").verb == Verb::quit);
    CHECK(parse_command("quit").fields.empty());
    CHECK(parse_command("mail ").fields.size() == 1);
    CHECK(parse_command("MAIL a@b").verb == Verb::unknown);   // the protocol is lower case
    CHECK(parse_command("").verb == Verb::unknown);
    CHECK(parse_command("chunk 12").verb == Verb::chunk);
    CHECK(parse_command("session helo x").fields.size() == 2);
}

TEST_CASE("split_address_and_params: the null path with and without its field") {
    CommandLine a = parse_command("mail  RET=FULL ENVID=x");
    AddressAndParams ap = split_address_and_params(a.fields);
    CHECK(ap.address == "");
    CHECK(ap.params.size() == 2);
    CommandLine b = parse_command("mail RET=FULL");
    CHECK(split_address_and_params(b.fields).address == "");
    CHECK(split_address_and_params(b.fields).params.size() == 1);
    CommandLine c = parse_command("rcpt u@example.com NOTIFY=NEVER");
    CHECK(split_address_and_params(c.fields).address == "u@example.com");
    CHECK(split_address_and_params(parse_command("mail").fields).address == "");
}

TEST_CASE("mail parameters") {
    SubmitReply err;
    std::vector<std::string_view> p = {"ret=hdrs", "ENVID=abc+2Bd", "BODY=8bitmime", "SMTPUTF8=1"};
    auto m = parse_mail_params(p, &err);
    REQUIRE(m);
    CHECK(m->ret == "HDRS");
    CHECK(m->envid == "abc+d");
    CHECK(m->body == "8BITMIME");
    CHECK(m->smtputf8);

    std::vector<std::string_view> bad_ret = {"RET=ALL"};
    CHECK_FALSE(parse_mail_params(bad_ret, &err));
    CHECK(err.code == 501);
    std::vector<std::string_view> unknown = {"XFOO=1"};
    CHECK_FALSE(parse_mail_params(unknown, &err));
    CHECK(err.code == 555);
    std::vector<std::string_view> twice = {"RET=FULL", "RET=HDRS"};
    CHECK_FALSE(parse_mail_params(twice, &err));
    std::vector<std::string_view> binary = {"BODY=BINARYMIME"};
    CHECK_FALSE(parse_mail_params(binary, &err));
    CHECK(err.code == 555);
    std::vector<std::string_view> bad_xtext = {"ENVID=a+zz"};
    CHECK_FALSE(parse_mail_params(bad_xtext, &err));
}

TEST_CASE("rcpt parameters") {
    SubmitReply err;
    std::vector<std::string_view> p = {"notify=success,delay", "ORCPT=rfc822;u+2Bx@example.com"};
    auto r = parse_rcpt_params(p, &err);
    REQUIRE(r);
    CHECK(r->notify == "SUCCESS,DELAY");
    CHECK(r->orcpt == "rfc822;u+x@example.com");
    for (std::string_view bad : {"NOTIFY=NEVER,SUCCESS", "NOTIFY=", "NOTIFY=SUCCESS,SUCCESS",
                                 "NOTIFY=SOMETIMES", "ORCPT=nosemicolon", "ORCPT=;x"}) {
        std::vector<std::string_view> one = {bad};
        CHECK_FALSE(parse_rcpt_params(one, &err));
        CHECK(err.code == 501);
    }
    std::vector<std::string_view> never = {"NOTIFY=never"};
    CHECK(parse_rcpt_params(never, &err)->notify == "NEVER");
}

TEST_CASE("chunk sizes") {
    CHECK(parse_chunk_size(parse_command("chunk 0").fields) == 0u);
    CHECK(parse_chunk_size(parse_command("chunk 65536").fields) == 65536u);
    CHECK_FALSE(parse_chunk_size(parse_command("chunk").fields));
    CHECK_FALSE(parse_chunk_size(parse_command("chunk -1").fields));
    CHECK_FALSE(parse_chunk_size(parse_command("chunk 1 2").fields));
    CHECK_FALSE(parse_chunk_size(parse_command("chunk 1234567890123456789").fields));
    CHECK(format_reply({250, "2.1.5 Ok"}) == "250 2.1.5 Ok\n");
}
