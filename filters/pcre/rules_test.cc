// Unit tests for pcrefilter's rules file and the verdicts of the compiled rules.
#include <doctest/doctest.h>
#include "filters/pcre/matcher.h"
#include "filters/pcre/rules.h"

using namespace pcrefilter;

TEST_CASE("rule lines: scope, pattern with escaped slash, flags, actions") {
    auto r = parse_rule_line("header /^Subject:.*a\\/b/ REJECT No thanks", "f:3");
    REQUIRE(r.ok());
    CHECK(r->scope == RuleScope::header);
    CHECK(r->pattern == "^Subject:.*a\\/b");
    CHECK(r->caseless);
    CHECK(r->action == RuleAction::reject);
    CHECK(r->text == "550 5.7.1 No thanks");
    CHECK(r->origin == "f:3");

    auto b = parse_rule_line("BODY\t/x y/ix  prepend  X-Flag: yes ", "f:4");
    REQUIRE(b.ok());
    CHECK(b->scope == RuleScope::body);
    CHECK_FALSE(b->caseless);   // "i" toggles Postfix's case-insensitive default
    CHECK(b->extended);
    CHECK(b->action == RuleAction::prepend);
    CHECK(b->text == "X-Flag: yes");
    for (auto [line, action] : {std::pair{"body /a/ discard", RuleAction::discard},
                                std::pair{"body /a/s HOLD why", RuleAction::hold},
                                std::pair{"header /a/ WARN", RuleAction::warn}}) {
        auto p = parse_rule_line(line, "f:1");
        REQUIRE(p.ok());
        CHECK(p->action == action);
    }
}

TEST_CASE("rule lines: every mistake is refused with file:line") {
    auto err = [](const char* line) {
        auto r = parse_rule_line(line, "rules:7");
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().text.rfind("rules:7: ", 0) == 0);
        return r.error().text;
    };
    CHECK(err("subject /x/ REJECT").find("header") != std::string::npos);
    err("header x REJECT");
    CHECK(err("header /unterminated REJECT").find("closing") != std::string::npos);
    err("header // REJECT");
    CHECK(err("header /x/q REJECT").find("flag 'q'") != std::string::npos);
    err("header /x/");
    err("header /x/ BOUNCE");
    err("header /x/ PREPEND no colon here");
    err("header /x/ REJECT 250 fine");
    err("header /x/ REJECT 550 4.7.1 mismatch");
}

TEST_CASE("REJECT replies: code kept, enhanced code added, default text") {
    CHECK(*reject_reply("") == "550 5.7.1 Message content rejected");
    CHECK(*reject_reply("554 5.7.0 go away") == "554 5.7.0 go away");
    CHECK(*reject_reply("450 later") == "450 4.7.1 later");
    CHECK(*reject_reply("553") == "553 5.7.1 Message content rejected");
    CHECK(*reject_reply("5000 dollars") == "550 5.7.1 5000 dollars");
}

TEST_CASE("a whole file: comments, blank lines, the line number of the bad line") {
    auto ok = parse_rules("# comment\n\nheader /a/ WARN\n  body /b/ HOLD\n", "/etc/pcrefilter");
    REQUIRE(ok.ok());
    REQUIRE(ok->size() == 2);
    CHECK((*ok)[1].origin == "/etc/pcrefilter:4");
    auto bad = parse_rules("header /a/ WARN\n\nbody /b/ FROB\n", "/etc/pcrefilter");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().text.rfind("/etc/pcrefilter:3: ", 0) == 0);
}

TEST_CASE("a bad regex is refused at compile time with file:line and the offset") {
    auto rules = parse_rules("header /fine/ WARN\nbody /(unclosed/ REJECT\n", "r");
    REQUIRE(rules.ok());
    auto set = RuleSet::compile(*rules);
    REQUIRE_FALSE(set.ok());
    CHECK(set.error().text.rfind("r:2: bad regex /(unclosed/ at offset", 0) == 0);
}

namespace {
RuleSet compile(const char* text) {
    auto rules = parse_rules(text, "t");
    REQUIRE(rules.ok());
    auto set = RuleSet::compile(*rules);
    REQUIRE(set.ok());
    return std::move(*set);
}
}  // namespace

TEST_CASE("verdicts: first matching rule per line, REJECT and DISCARD end the check") {
    auto set = compile(
        "header /^subject:.*cheap/ REJECT 554 5.7.1 No cheap things\n"
        "header /^subject:/ WARN any subject\n"
        "header /^x-mailer: bulk/ PREPEND X-Bulk: yes\n"
        "body /lottery/ HOLD lottery mail\n"
        "body /unsubscribe/ DISCARD\n"
        "body /sell/ REJECT\n");
    CHECK(set.size() == 6);
    MessageText clean{{"Subject: hello", "X-Mailer: Bulk 1"}, {"hi there"}};
    auto v = set.evaluate(clean);
    CHECK(v.outcome == Outcome::accept);
    CHECK(v.prepend == std::vector<std::string>{"X-Bulk: yes"});
    REQUIRE(v.hits.size() == 2);
    CHECK(v.hits[0].origin == "t:2");     // the WARN rule (the REJECT rule did not match)
    CHECK(v.hits[0].matched == "Subject: hello");

    auto r = set.evaluate(MessageText{{"SUBJECT: Cheap pills"}, {"unsubscribe"}});
    CHECK(r.outcome == Outcome::reject);
    CHECK(r.reply == "554 5.7.1 No cheap things");
    CHECK(r.hits.size() == 1);            // the check ended: the body was not looked at

    auto h = set.evaluate(MessageText{{}, {"lottery", "sell"}});
    CHECK(h.outcome == Outcome::reject);  // a later REJECT wins over an earlier HOLD
    auto held = set.evaluate(MessageText{{}, {"lottery win"}});
    CHECK(held.outcome == Outcome::hold);
    auto d = set.evaluate(MessageText{{}, {"to unsubscribe", "sell"}});
    CHECK(d.outcome == Outcome::discard);
}

TEST_CASE("case sensitivity toggles with i; headers and body rules stay apart") {
    auto set = compile("body /Exact/i WARN\nheader /body-only/ REJECT\n");
    CHECK(set.evaluate(MessageText{{}, {"exact"}}).hits.empty());
    CHECK(set.evaluate(MessageText{{}, {"Exact"}}).hits.size() == 1);
    CHECK(set.evaluate(MessageText{{}, {"body-only"}}).outcome == Outcome::accept);
}

TEST_CASE("matching works on bytes: invalid UTF-8 and NUL do not break a match") {
    auto set = compile("body /caf\\xe9/ REJECT\n");
    CHECK(set.evaluate(MessageText{{}, {std::string("\xff\xfe caf\xe9", 8)}}).outcome == Outcome::reject);
    CHECK(set.evaluate(MessageText{{}, {std::string("a\0caf\xe9", 6)}}).outcome == Outcome::reject);
}

TEST_CASE("a catastrophic pattern hits the match limit and is reported, not hung on") {
    auto set = compile("body /^(a+)+$/ REJECT\n");
    auto v = set.evaluate(MessageText{{}, {std::string(40, 'a') + "b"}});
    CHECK(v.outcome == Outcome::accept);
    CHECK(v.errors.size() == 1);
}
