// Unit tests of courieresmtpd's guard rules (smtpd_guards.h) and of the listener
// settings check (smtpd_config.h): BLOCK replies, enhanced-code stripping, the space
// and load thresholds, HELO patterns, ETRN arguments, file:line errors.
#include <doctest/doctest.h>
#include "esmtp/smtpd_config.h"
#include "esmtp/smtpd_guards.h"

TEST_CASE("guards: BLOCK text becomes one reply line") {
    CHECK(block_reply("Listed at bl.example") == "550 5.7.1 Listed at bl.example");
    // The reply-code form: the administrator's own code is kept.
    CHECK(block_reply("554 Go away") == "554 5.7.1 Go away");
    CHECK(block_reply("451 4.7.1 Try later") == "451 4.7.1 Try later");
    CHECK(block_reply("421-Busy") == "421 4.7.1 Busy");
    // Not a 4xx/5xx code: the text as it stands.
    CHECK(block_reply("250 ok really") == "550 5.7.1 250 ok really");
    CHECK(block_reply("bad\r\nRCPT TO:<x>") == "550 5.7.1 bad  RCPT TO:<x>");
}

TEST_CASE("guards: enhanced codes removed for NoENHANCEDSTATUSCODES") {
    CHECK(strip_enhanced_code("552 5.3.4 Too big") == "552 Too big");
    CHECK(strip_enhanced_code("250-2.0.0 Ok") == "250-Ok");
    CHECK(strip_enhanced_code("250 mx.example.com") == "250 mx.example.com");
    CHECK(strip_enhanced_code("250 SIZE 1000") == "250 SIZE 1000");
    CHECK(strip_enhanced_code("220 1.2 not a code") == "220 1.2 not a code");
    CHECK(strip_enhanced_code("354 End data") == "354 End data");
}

TEST_CASE("guards: spool space and load thresholds") {
    CHECK(spool_space_low(100, 200));
    CHECK_FALSE(spool_space_low(200, 200));
    CHECK_FALSE(spool_space_low(0, 0));   // 0: off
    CHECK(load_too_high(3.5, 3));
    CHECK_FALSE(load_too_high(3, 3));
    CHECK_FALSE(load_too_high(99, 0));
    CHECK(parse_load_setting("2.5") == 2.5);
    CHECK(parse_load_setting("8") == 8.0);
    CHECK_FALSE(parse_load_setting("-1"));
    CHECK_FALSE(parse_load_setting("high"));
    CHECK_FALSE(parse_load_setting(""));
}

TEST_CASE("guards: HELO patterns, first match decides") {
    std::vector<std::string> errors;
    auto p = HeloPatterns::parse("# comment\n"
                                 "*.dialup.example  !Dial-up hosts must use their provider's relay\n"
                                 "  indented lines are ignored\n"
                                 "\n"
                                 "localhost   SP\n"
                                 "\\[*\\]  AT\n"
                                 "old-mailer* E\n"
                                 "* -\n",
                                 "etc/esmtphelopatterns", &errors);
    CHECK(errors.empty());
    auto dial = p.match("PC1.Dialup.Example");
    CHECK(dial.matched);
    CHECK(dial.reject == "Dial-up hosts must use their provider's relay");
    CHECK(dial.rule == "etc/esmtphelopatterns:2 *.dialup.example");
    auto local = p.match("localhost");
    CHECK((local.strict && local.no_pipelining && !local.require_auth));
    auto lit = p.match("[192.0.2.1]");
    CHECK((lit.require_auth && lit.tarpit && !lit.strict));
    CHECK(p.match("old-mailer.example").no_ehlo);
    auto other = p.match("mx.example.org");
    CHECK(other.matched);   // the catch-all "-" line: matched, nothing asked
    CHECK((!other.strict && other.reject.empty()));
    CHECK_FALSE(HeloPatterns::parse("", "x", &errors).match("a").matched);
}

TEST_CASE("guards: HELO pattern errors carry file:line") {
    std::vector<std::string> errors;
    auto p = HeloPatterns::parse("good S\nlonely\nbad SQ\n", "etc/esmtphelopatterns", &errors);
    REQUIRE(errors.size() == 2);
    CHECK(errors[0] == "etc/esmtphelopatterns:2: missing flags after the pattern");
    CHECK(errors[1].rfind("etc/esmtphelopatterns:3: unknown flag 'Q'", 0) == 0);
    CHECK(p.match("good").strict);
}

TEST_CASE("guards: strict HELO names") {
    CHECK(plausible_helo_name("mail.example.com"));
    CHECK(plausible_helo_name("[192.0.2.1]"));
    CHECK_FALSE(plausible_helo_name("localhost"));
    CHECK_FALSE(plausible_helo_name("bad_name.example"));
    CHECK_FALSE(plausible_helo_name("example.com."));
}

TEST_CASE("guards: ETRN arguments (RFC 1985)") {
    CHECK(parse_etrn_argument("Example.COM") == "example.com");
    CHECK(parse_etrn_argument("@example.com") == "@example.com");
    CHECK(parse_etrn_argument("example.com ") == "example.com");
    CHECK_FALSE(parse_etrn_argument("#queue"));
    CHECK_FALSE(parse_etrn_argument("[192.0.2.1]"));
    CHECK_FALSE(parse_etrn_argument("exa mple.com"));
    CHECK_FALSE(parse_etrn_argument("../../etc"));
    CHECK_FALSE(parse_etrn_argument(""));
    CHECK_FALSE(parse_etrn_argument("@"));
}

TEST_CASE("listener settings: flags, counts and loads checked with file:line") {
    auto errors = check_listener_settings("PORT=25\nNoPIPELINING=1\nNoDSN=maybe\n"
                                          "MINAVAILSPACE=5000\nMAXLOADAVER=high\n"
                                          "MAXERRORRECIPIENTS=3x\n",
                                          "etc/esmtpd");
    REQUIRE(errors.size() == 3);
    CHECK(errors[0] == "etc/esmtpd:3: NoDSN=maybe: expected 1 or 0 (yes/no)");
    CHECK(errors[1] == "etc/esmtpd:6: MAXERRORRECIPIENTS=3x: expected a whole number");
    CHECK(errors[2] == "etc/esmtpd:5: MAXLOADAVER=high: expected a load average such as 8 or 2.5");
    CHECK(check_listener_settings("NoEHLO=yes\nMAXLOADAVER=2.5\n", "f").empty());
    // A line that is no setting at all is reported too.
    CHECK(check_listener_settings("junk line\n", "f") == std::vector<std::string>{"f:1: not a NAME=value line"});
}

TEST_CASE("listener settings: the environment becomes the session's guards") {
    std::map<std::string, std::string> env = {
        {"BLOCK", "Listed"}, {"BLOCK_ZONE", "bl.example"}, {"NoCHUNKING", "1"}, {"NoEHLO", "0"},
        {"MINAVAILSPACE", "2048"}, {"MAXERRORRECIPIENTS", "1"}, {"MAXLOADAVER", "4.5"},
        {"SIZELIMIT", "5000"}};
    auto lookup = [&](const char* n) -> std::optional<std::string> {
        auto it = env.find(n);
        if (it == env.end()) return std::nullopt;
        return it->second;
    };
    ConfigDir config("/nonexistent-config");
    SessionConfig c = load_session_config(config, lookup);
    CHECK(c.facts.block == "Listed");
    CHECK_FALSE(c.facts.dnswl);
    CHECK((c.switches.no_chunking && !c.switches.no_ehlo));
    CHECK(c.min_avail_kb == 2048);
    CHECK(c.max_null_sender_rcpts == 1);
    CHECK(c.max_load == 4.5);
    CHECK(c.size_limit == 5000);
    env["BLOCK"] = "";
    CHECK(load_session_config(config, lookup).facts.dnswl == "bl.example");
    env.erase("BLOCK_ZONE");
    CHECK(load_session_config(config, lookup).facts.dnswl == "-");
    env.erase("BLOCK");
    CHECK_FALSE(load_session_config(config, lookup).facts.dnswl);
}
