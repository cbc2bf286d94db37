// Unit tests: the bofh parser (every keyword, bad lines as file:line) and its pure
// rules (badfrom's four forms, freemail, spamtrap, badmx) and the content scanner.
#include <doctest/doctest.h>
#include "submit/bofh.h"

using namespace submit;

namespace {
BofhConfig parsed(std::string_view text) {
    BofhConfig b;
    b.parse(text, "bofh");
    return b;
}
}  // namespace

TEST_CASE("bofh: keywords, opts kept in a map, bad lines reported as file:line") {
    auto b = parsed("# comment\nbadfrom spam@example.com\nmaxrcpts 5 hard\nopt BOFHSPFHELO=pass,none\n"
                    "opt BOFHCHECKHELO=2\nbogus line\nmaxrcpts x\nopt BOFHHEADERLIMIT=5000\n"
                    "opt BOFHNOBASE64TEXT=1\nopt BOFHSUPPRESSBACKSCATTER=smtp,authsmtp\nspamtrap nodomain\n");
    CHECK(b.badfrom.size() == 1);
    CHECK(b.maxrcpts == 5);
    CHECK(b.maxrcpts_hard);
    CHECK(b.maxrcpts_where == "bofh:3");
    CHECK(b.opt("BOFHSPFHELO") == "pass,none");
    CHECK(b.where("BOFHSPFHELO") == "bofh:4");
    CHECK(b.where("BOFHSPFFROM") == "default");
    CHECK(b.opt_or("BOFHSPFFROM", "off") == "off");
    CHECK(b.check_helo == 2);
    CHECK(b.header_limit == 5000);
    CHECK(b.no_base64_text);
    CHECK(b.suppress_backscatter == std::vector<std::string>{"smtp", "authsmtp"});
    REQUIRE(b.errors.size() == 3);
    CHECK(b.errors[0].rfind("bofh:6: ", 0) == 0);
    CHECK(b.errors[1].rfind("bofh:7: ", 0) == 0);
    CHECK(b.errors[2].rfind("bofh:11: ", 0) == 0);
    auto d = parsed("");
    CHECK(d.suppress_backscatter == std::vector<std::string>{"smtp"});
    CHECK(d.header_limit == 100000);
    CHECK(parsed("opt BOFHCHECKHELO=7\n").errors.size() == 1);
}

TEST_CASE("badfrom: user@domain, @domain, @.domain, user@.domain") {
    auto b = parsed("badfrom spam@one.example\nbadfrom @two.example\nbadfrom @.three.example\n"
                    "badfrom joe@.four.example\n");
    CHECK(match_badfrom("spam@one.example", b) == "bofh:1");
    CHECK(match_badfrom("SPAM@ONE.example", b) == "bofh:1");
    CHECK_FALSE(match_badfrom("ham@one.example", b));
    CHECK(match_badfrom("anyone@two.example", b) == "bofh:2");
    CHECK_FALSE(match_badfrom("anyone@sub.two.example", b));
    CHECK(match_badfrom("x@sub.three.example", b) == "bofh:3");
    CHECK_FALSE(match_badfrom("x@three.example", b));
    CHECK(match_badfrom("joe@a.four.example", b) == "bofh:4");
    CHECK_FALSE(match_badfrom("joe@four.example", b));
    CHECK_FALSE(match_badfrom("ann@a.four.example", b));
    CHECK_FALSE(match_badfrom("", b));
}

TEST_CASE("freemail: the return address domain must come from its own relays") {
    auto b = parsed("freemail freemail.example mailer.example\n");
    CHECK(match_freemail("u@freemail.example", "", b) == "bofh:1");
    CHECK(match_freemail("u@freemail.example", "evil.example", b) == "bofh:1");
    CHECK_FALSE(match_freemail("u@freemail.example", "mx1.freemail.example", b));
    CHECK_FALSE(match_freemail("u@freemail.example", "out.mailer.example", b));
    CHECK_FALSE(match_freemail("u@other.example", "evil.example", b));
}

TEST_CASE("spamtrap and badmx") {
    auto b = parsed("spamtrap Trap@Host.Example\nbadmx 192.0.2.66\nbadmx [192.0.2.67]\n");
    CHECK(match_spamtrap("trap@host.example", b) == "bofh:1");
    CHECK_FALSE(match_spamtrap("other@host.example", b));
    CHECK(match_badmx({"198.51.100.1", "192.0.2.66"}, b) == "bofh:2");
    CHECK(match_badmx({"192.0.2.67"}, b) == "bofh:3");
    CHECK_FALSE(match_badmx({}, b));
}

TEST_CASE("ContentScanner: header size and base64 text parts, across chunk boundaries") {
    ContentScanner s;
    s.feed("Subject: x\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n");
    s.finish();
    CHECK(s.base64_text());
    CHECK(s.header_bytes() == std::string("Subject: x\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n").size());

    ContentScanner m;
    std::string msg = "Content-Type: multipart/mixed;\n boundary=\"b1\"\n\npreamble\n--b1\n"
                      "Content-Type: application/pdf\nContent-Transfer-Encoding: base64\n\nAAAA\n"
                      "--b1\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: BASE64\n\nPGI+\n--b1--\n";
    for (char c : msg) m.feed(std::string_view(&c, 1));   // one byte at a time
    m.finish();
    CHECK(m.base64_text());

    ContentScanner ok;
    ok.feed("Content-Type: multipart/mixed; boundary=b1\n\n--b1\nContent-Type: application/pdf\n"
            "Content-Transfer-Encoding: base64\n\nAAAA\n--b1\nContent-Type: text/plain\n\nhello\n--b1--\n");
    ok.finish();
    CHECK_FALSE(ok.base64_text());
}

TEST_CASE("ContentScanner: a message without a header has an empty one") {
    ContentScanner s;
    s.feed("line 0\nline 1\n");
    s.finish();
    CHECK(s.header_bytes() == 0);
    ContentScanner t;
    t.feed("A: b\n c\nD: e\n\nbody\n");
    t.finish();
    CHECK(t.header_bytes() == std::string("A: b\n c\nD: e\n\n").size());
}
