// Transcript tests of SmtpSession against a fake submit: every reply code of the
// server, the recipient replies passed through, and what reaches (or never reaches)
// the queue.
#include <doctest/doctest.h>
#include <algorithm>
#include <map>
#include <vector>
#include "esmtp/smtp_session.h"

namespace {
struct FakeSink : MessageSink {
    std::map<std::string, std::string> session;
    std::vector<std::string> calls;
    std::string data;
    size_t chunks = 0;
    bool fail_send = false;
    SubmitReply finish_reply{250, "2.0.0 Ok: queued as 6500AB12.00001234.0001"};

    void set_session(std::string k, std::string v) override { session[k] = v; }
    SubmitReply mail(std::string_view s, std::string_view p) override {
        calls.push_back("mail " + std::string(s) + " " + std::string(p));
        if (s == "blocked@example.net") return {550, "5.7.1 Sender refused"};
        return {250, "2.1.0 Ok"};
    }
    SubmitReply rcpt(std::string_view a, std::string_view p) override {
        calls.push_back("rcpt " + std::string(a) + (p.empty() ? "" : " " + std::string(p)));
        if (a.find("@remote.example") != std::string_view::npos) return {550, "5.7.1 Relaying denied"};
        if (a.rfind("nobody@", 0) == 0) return {550, "5.1.1 No such user here"};
        return {250, "2.1.5 Ok"};
    }
    Status send_data(std::string_view b) override {
        if (fail_send) return Error{32, "broken pipe"};
        data += b;
        ++chunks;
        return ok_status();
    }
    SubmitReply finish() override {
        calls.push_back("finish");
        return finish_reply;
    }
    void reset() override { calls.push_back("reset"); }
    void quit() override { calls.push_back("quit"); }
    bool called(std::string_view what) const {
        for (const auto& c : calls)
            if (c == what) return true;
        return false;
    }
};

SessionConfig test_config() {
    SessionConfig c;
    c.me = "mx.example.com";
    c.greeting = "mx.example.com ESMTP";
    c.size_limit = 100000;
    c.max_recipients = 3;
    c.facts.remote_ip = "192.0.2.7";
    c.facts.remote_port = "40000";
    c.facts.local_ip = "192.0.2.1";
    c.facts.local_port = "25";
    return c;
}

// Feeds client bytes as couriertcpd would deliver them: lines in command mode, raw
// bytes in DATA. Returns the replies produced.
std::string talk(SmtpSession& s, std::string_view input) {
    size_t pos = 0;
    while (pos < input.size() && !s.closed()) {
        if (s.mode() == SmtpSession::Mode::data) {
            pos += s.on_data(input.substr(pos));
            continue;
        }
        if (s.mode() == SmtpSession::Mode::bdat) {
            size_t n = static_cast<size_t>(std::min<uint64_t>(s.bdat_remaining(), input.size() - pos));
            s.on_bdat(input.substr(pos, n));
            pos += n;
            continue;
        }
        size_t nl = input.find('\n', pos);
        if (nl == std::string_view::npos) break;
        s.on_command(input.substr(pos, nl - pos));
        pos = nl + 1;
    }
    return s.take_output();
}

struct Fixture {
    FakeSink sink;
    SmtpSession s{test_config(), sink};
    std::vector<std::string> logs;
    std::vector<int> pauses;
    Fixture() {
        s.log = [this](const std::string& l) { logs.push_back(l); };
        s.pause = [this](int ms) { pauses.push_back(ms); };
        s.start();
        s.take_output();
    }
    std::string operator()(std::string_view input) { return talk(s, input); }
    void ready() { (*this)("EHLO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\n"); }
};

bool starts(const std::string& s, std::string_view prefix) { return s.rfind(prefix, 0) == 0; }
}  // namespace

TEST_CASE("greeting and session facts") {
    FakeSink sink;
    SessionConfig c = test_config();
    c.facts.relay_client = true;
    c.facts.remote_host = "client.example";
    SmtpSession s(c, sink);
    s.start();
    CHECK(s.flush_due());
    CHECK(s.take_output() == "220 mx.example.com ESMTP\r\n");
    CHECK(sink.session["remote-ip"] == "192.0.2.7");
    CHECK(sink.session["remote-port"] == "40000");
    CHECK(sink.session["remote-host"] == "client.example");
    CHECK(sink.session["local-ip"] == "192.0.2.1");
    CHECK(sink.session["local-port"] == "25");
    CHECK(sink.session["relay"] == "yes");
}

TEST_CASE("EHLO lists the extensions; HELO is plain SMTP") {
    Fixture t;
    CHECK(t("EHLO client.example\r\n") ==
          "250-mx.example.com\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE 100000\r\n"
          "250-ENHANCEDSTATUSCODES\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n");
    CHECK(t.sink.session["helo"] == "client.example");
    CHECK(t.sink.session["protocol"] == "ESMTP");
    CHECK(t.sink.session["relay"] == "no");
    CHECK(t("HELO other.example\r\n") == "250 mx.example.com\r\n");
    CHECK(t.sink.session["protocol"] == "SMTP");
    CHECK(t.sink.session["helo"] == "other.example");
    CHECK(starts(t("EHLO\r\n"), "501 5.5.4 "));
    CHECK(starts(t("HELO \r\n"), "501 5.5.4 "));
}

TEST_CASE("a message is streamed to submit and submit's reply is passed on") {
    Fixture t;
    CHECK(t("EHLO c\r\nMAIL FROM:<a@example.org> BODY=8BITMIME SIZE=20\r\n").find("250 2.1.0 Ok\r\n") !=
          std::string::npos);
    CHECK(t("RCPT TO:<b@example.com>\r\n") == "250 2.1.5 Ok\r\n");
    CHECK(t("RCPT TO:<c@remote.example>\r\n") == "550 5.7.1 Relaying denied\r\n");
    CHECK(t("RCPT TO:<nobody@example.com>\r\n") == "550 5.1.1 No such user here\r\n");
    CHECK(t("DATA\r\n") == "354 End data with <CR><LF>.<CR><LF>\r\n");
    CHECK(t.s.flush_due() == false);
    CHECK(t("Subject: hi\r\n\r\n..dot\r\n.\r\n") ==
          "250 2.0.0 Ok: queued as 6500AB12.00001234.0001\r\n");
    CHECK(t.sink.data == "Subject: hi\r\n\r\n.dot\r\n");
    CHECK(t.sink.calls.front() == "mail a@example.org BODY=8BITMIME");
    CHECK(t.sink.called("finish"));
    CHECK_FALSE(t.sink.called("reset"));
    REQUIRE(t.logs.size() == 1);
    CHECK(t.logs[0].find("status=accepted") != std::string::npos);
    CHECK(t.logs[0].find("rcpts=1") != std::string::npos);
    // The next transaction starts afresh.
    CHECK(t("MAIL FROM:<>\r\n") == "250 2.1.0 Ok\r\n");
    CHECK(t.sink.calls.back() == "mail  ");
}

TEST_CASE("QUIT, RSET, NOOP, VRFY, HELP") {
    Fixture t;
    t.ready();
    CHECK(t("RSET\r\n") == "250 2.0.0 Ok\r\n");
    CHECK(t.sink.called("reset"));
    CHECK(starts(t("RCPT TO:<b@example.com>\r\n"), "503 5.5.1 "));
    CHECK(t("NOOP\r\n") == "250 2.0.0 Ok\r\n");
    CHECK(t("NOOP anything\r\n") == "250 2.0.0 Ok\r\n");
    CHECK(t("VRFY root\r\n") ==
          "252 2.5.2 Cannot VRFY user, but will accept message and attempt delivery\r\n");
    CHECK(starts(t("VRFY\r\n"), "501 5.5.4 "));
    CHECK(starts(t("HELP\r\n"), "214 2.0.0 Commands: EHLO HELO MAIL"));
    CHECK(starts(t("RSET now\r\n"), "501 5.5.4 "));
    CHECK(starts(t("QUIT now\r\n"), "501 5.5.4 "));
    CHECK(t("QUIT\r\nNOOP\r\n") == "221 2.0.0 mx.example.com closing connection\r\n");
    CHECK(t.s.closed());
    CHECK(t.sink.called("quit"));
}

TEST_CASE("unknown commands, bad sequence and syntax errors") {
    Fixture t;
    CHECK(starts(t("MAIL FROM:<a@example.org>\r\n"), "503 5.5.1 "));   // before EHLO
    t("EHLO c\r\n");
    CHECK(t("FOO bar\r\n") == "500 5.5.1 Command unrecognized\r\n");
    CHECK(t("\r\n") == "500 5.5.1 Command unrecognized\r\n");
    t.s.on_command_too_long();
    CHECK(t.s.take_output() == "500 5.5.2 Line too long\r\n");
    CHECK(starts(t("RCPT TO:<b@example.com>\r\n"), "503 5.5.1 "));
    CHECK(starts(t("DATA\r\n"), "503 5.5.1 "));
    CHECK(starts(t("MAIL TO:<a@example.org>\r\n"), "501 5.5.4 "));
    CHECK(starts(t("MAIL FROM:<a@example.org\r\n"), "501 5.1.7 "));
    CHECK(starts(t("MAIL FROM:<a@example.org> SIZE=200000\r\n"), "552 5.3.4 "));
    CHECK(starts(t("MAIL FROM:<a@example.org> DSN=1\r\n"), "555 5.5.4 "));
    CHECK(t("MAIL FROM:<blocked@example.net>\r\n") == "550 5.7.1 Sender refused\r\n");
    CHECK(starts(t("RCPT TO:<b@example.com>\r\n"), "503 5.5.1 "));
    CHECK(t("MAIL FROM:<a@example.org>\r\n") == "250 2.1.0 Ok\r\n");
    CHECK(starts(t("MAIL FROM:<a@example.org>\r\n"), "503 5.5.1 "));
    CHECK(starts(t("DATA\r\n"), "503 5.5.1 "));                    // no recipient yet
    CHECK(starts(t("RCPT TO:<>\r\n"), "501 5.1.3 "));
    CHECK(starts(t("RCPT TO:<a b@example.com>\r\n"), "501 5.1.3 "));
    CHECK(starts(t("RCPT TO:b@example.com\r\n"), "501 5.1.3 "));
    CHECK(starts(t("RCPT FROM:<b@example.com>\r\n"), "501 5.5.4 "));
    CHECK(starts(t("RCPT TO:<b@example.com> XFOO=1\r\n"), "555 5.5.4 "));
    CHECK(t("RCPT TO:<nobody@example.com>\r\n") == "550 5.1.1 No such user here\r\n");
    CHECK(starts(t("DATA\r\n"), "503 5.5.1 "));                    // none accepted
    CHECK(starts(t("DATA x\r\n"), "501 5.5.4 "));
}

TEST_CASE("MAIL parameters need EHLO") {
    Fixture t;
    t("HELO c\r\n");
    CHECK(starts(t("MAIL FROM:<a@example.org> SIZE=10\r\n"), "555 5.5.4 "));
    CHECK(t("MAIL FROM:<a@example.org>\r\n") == "250 2.1.0 Ok\r\n");
}

TEST_CASE("recipient limit: 452 4.5.3") {
    Fixture t;
    t.ready();
    t("RCPT TO:<c@example.com>\r\nRCPT TO:<d@example.com>\r\n");
    CHECK(t("RCPT TO:<e@example.com>\r\n") == "452 4.5.3 Too many recipients\r\n");
}

TEST_CASE("refused content is read to its end and never queued") {
    struct Case {
        std::string body;
        std::string reply;
    };
    std::vector<Case> cases = {
        {"a\n.\nMAIL FROM:<x@y.example>\r\n.\r\n", "550 5.5.2 "},
        {"a\r.\rb\r\n.\r\n", "550 5.5.2 "},
        {std::string("a\0b\r\n.\r\n", 8), "550 5.6.0 "},
        {std::string(1001, 'x') + "\r\n.\r\n", "552 5.5.2 "},
        {std::string(150000, 'y') + "\r\n.\r\n", "552 5.5.2 "},
    };
    // Too big with short lines.
    std::string big;
    while (big.size() < 120000) big += std::string(70, 'z') + "\r\n";
    cases.push_back({big + ".\r\n", "552 5.3.4 "});
    for (const Case& c : cases) {
        CAPTURE(c.reply);
        Fixture t;
        t.ready();
        t("DATA\r\n");
        std::string out = t(c.body);
        CHECK(starts(out, c.reply));
        CHECK(t.s.mode() == SmtpSession::Mode::command);
        CHECK(t.sink.called("reset"));
        CHECK_FALSE(t.sink.called("finish"));
        REQUIRE(t.logs.size() == 1);
        CHECK(t.logs[0].find("status=rejected") != std::string::npos);
        CHECK(t("NOOP\r\n") == "250 2.0.0 Ok\r\n");   // still in sync
    }
}

TEST_CASE("large messages go to submit in chunks") {
    Fixture t;
    t.ready();
    t("DATA\r\n");
    std::string body;
    while (body.size() < 90000) body += std::string(76, 'm') + "\r\n";
    CHECK(starts(t(body + ".\r\n"), "250 2.0.0 "));
    CHECK(t.sink.data == body);
    CHECK(t.sink.chunks == 2);
}

TEST_CASE("submit failures become 4xx replies") {
    SUBCASE("send_data fails: 451 4.3.0, no finish") {
        Fixture t;
        t.ready();
        t.sink.fail_send = true;
        t("DATA\r\n");
        CHECK(starts(t("hello\r\n.\r\n"), "451 4.3.0 "));
        CHECK_FALSE(t.sink.called("finish"));
        CHECK(t.sink.called("reset"));
    }
    SUBCASE("finish answers 451: passed on unchanged") {
        Fixture t;
        t.ready();
        t.sink.finish_reply = {451, "4.3.0 Temporary failure in the queue, try again later"};
        t("DATA\r\n");
        CHECK(t("hello\r\n.\r\n") == "451 4.3.0 Temporary failure in the queue, try again later\r\n");
        CHECK(t.logs[0].find("status=rejected") != std::string::npos);
    }
}

TEST_CASE("timeouts and lost connections") {
    SUBCASE("idle timeout: 421 4.4.2 and close") {
        Fixture t;
        t.ready();
        t.s.on_timeout();
        CHECK(starts(t.s.take_output(), "421 4.4.2 mx.example.com "));
        CHECK(t.s.closed());
        CHECK(t.sink.called("reset"));
        CHECK(t.sink.called("quit"));
    }
    SUBCASE("EOF in DATA: nothing queued") {
        Fixture t;
        t.ready();
        t("DATA\r\nhalf a message\r\n");
        t.s.on_eof();
        CHECK(t.s.closed());
        CHECK(t.sink.called("reset"));
        CHECK_FALSE(t.sink.called("finish"));
        CHECK(t.logs[0].find("status=aborted") != std::string::npos);
        CHECK(t.s.take_output().empty());
    }
}

TEST_CASE("too many errors: 421 4.7.0") {
    Fixture t;
    std::string out;
    for (int i = 0; i < 25 && !t.s.closed(); ++i) out += t("BAD\r\n");
    CHECK(t.s.closed());
    CHECK(out.find("421 4.7.0 ") != std::string::npos);
}

TEST_CASE("PIPELINING: which replies must be flushed at once") {
    Fixture t;
    t.s.on_command("EHLO c\r");
    CHECK(t.s.flush_due());
    t.s.take_output();
    t.s.on_command("MAIL FROM:<a@example.org>\r");
    t.s.on_command("RCPT TO:<b@example.com>\r");
    CHECK_FALSE(t.s.flush_due());
    t.s.on_command("DATA\r");
    CHECK(t.s.flush_due());
    CHECK(t.s.take_output() == "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n");
}

TEST_CASE("EHLO resets a transaction") {
    Fixture t;
    t.ready();
    t("EHLO again\r\n");
    CHECK(t.sink.called("reset"));
    CHECK(starts(t("RCPT TO:<b@example.com>\r\n"), "503 5.5.1 "));
}

// ---- issue 3: extensions, TLS, AUTH -------------------------------------------------

namespace {
struct FakeAuth : esmtp::AuthBackend {
    Verdict check_password(const std::string& u, const std::string& p) override {
        if (u == "down") return Verdict::temporary_failure;
        return u == "alice" && p == "pw" ? Verdict::ok : Verdict::bad;
    }
    std::optional<std::string> cram_secret(const std::string& u) override {
        if (u == "alice") return std::string("tanstaaftanstaaf");
        return std::nullopt;
    }
    bool supports_cram() const override { return true; }
};

struct AuthFixture : Fixture {
    FakeAuth auth;
    explicit AuthFixture(bool tls = true, bool required = false) {
        SessionConfig c = test_config();
        c.tls_available = true;
        c.auth_tls = {"PLAIN", "LOGIN", "CRAM-MD5"};
        c.auth_required = required;
        c.auth_fail_delay_ms = 10;
        s.~SmtpSession();
        new (&s) SmtpSession(c, sink);
        s.log = [this](const std::string& l) { logs.push_back(l); };
        s.pause = [this](int ms) { pauses.push_back(ms); };
        s.set_auth_backend(&auth);
        if (tls) s.on_tls_started(TlsInfo{"TLSv1.3", "TLS_AES_256_GCM_SHA384", 256, false, false, "", ""});
        s.start();
        s.take_output();
    }
};
}  // namespace

TEST_CASE("RCPT: bare postmaster goes to postmaster@me; user@[our-ip] gets defaultdomain") {
    Fixture t;
    t("EHLO c\r\nMAIL FROM:<a@example.org>\r\n");
    CHECK(t("RCPT TO:<Postmaster>\r\n") == "250 2.1.5 Ok\r\n");
    CHECK(t.sink.called("rcpt postmaster@mx.example.com"));
    t("RCPT TO:<joe@[192.0.2.1]>\r\n");
    // defaultdomain was not set in test_config: the empty value is never used silently.
    SessionConfig c = test_config();
    c.default_domain = "example.com";
    FakeSink sink;
    SmtpSession s(c, sink);
    s.start();
    talk(s, "EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<joe@[192.0.2.1]>\r\nRCPT TO:<joe@[192.0.2.9]>\r\n");
    CHECK(sink.called("rcpt joe@example.com"));
    CHECK(sink.called("rcpt joe@[192.0.2.9]"));
}

TEST_CASE("DSN and SMTPUTF8 parameters reach submit") {
    Fixture t;
    t("EHLO c\r\n");
    CHECK(t("MAIL FROM:<a@example.org> RET=HDRS ENVID=QQ+2B1 SMTPUTF8\r\n") == "250 2.1.0 Ok\r\n");
    CHECK(t.sink.called("mail a@example.org RET=HDRS ENVID=QQ+2B1 SMTPUTF8=1"));
    CHECK(t.sink.session["protocol"] == "UTF8SMTP");
    CHECK(t("RCPT TO:<b@example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@example.com\r\n") == "250 2.1.5 Ok\r\n");
    CHECK(t.sink.called("rcpt b@example.com NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@example.com"));
    CHECK(starts(t("RCPT TO:<c@example.com> NOTIFY=NEVER,DELAY\r\n"), "501 5.5.4 "));
    // UTF-8 local part and an IDN domain, normalised to its A-label.
    CHECK(t("RCPT TO:<j\xc3\xb6rg@b\xc3\xbc" "cher.example>\r\n") == "250 2.1.5 Ok\r\n");
    CHECK(t.sink.called("rcpt j\xc3\xb6rg@xn--bcher-kva.example"));
    CHECK(starts(t("RCPT TO:<x@\xff.example>\r\n"), "553 5.1.2 "));
}

TEST_CASE("SMTPUTF8: non-ASCII addresses need the MAIL parameter") {
    Fixture t;
    t("EHLO c\r\n");
    CHECK(starts(t("MAIL FROM:<j\xc3\xb6rg@example.org>\r\n"), "553 5.6.7 "));
    t("MAIL FROM:<a@example.org>\r\n");
    CHECK(starts(t("RCPT TO:<j\xc3\xb6rg@example.com>\r\n"), "553 5.6.7 "));
}

TEST_CASE("line limits per command (RFC 5321 4.5.3.1.4, RFC 3461, RFC 4954) and NUL") {
    Fixture t;
    t("EHLO c\r\n");
    CHECK(t("NOOP " + std::string(600, 'a') + "\r\n") == "500 5.5.2 Line too long\r\n");
    CHECK(t("MAIL FROM:<a@example.org> ENVID=" + std::string(90, 'e') + " RET=FULL" + std::string(450, ' ') + "\r\n") ==
          "250 2.1.0 Ok\r\n");
    CHECK(t("RCPT TO:<b@example.com>" + std::string(2100, ' ') + "\r\n") == "500 5.5.2 Line too long\r\n");
    CHECK(t(std::string("NOOP a\0b\r\n", 10)) == "500 5.5.2 NUL byte in command\r\n");
}

TEST_CASE("errors past the third wait longer each time, then 421") {
    Fixture t;
    for (int i = 0; i < 6; ++i) t("FOO\r\n");
    CHECK(t.pauses == std::vector<int>{1000, 2000, 3000});
    for (int i = 0; i < 13; ++i) t("FOO\r\n");
    CHECK_FALSE(t.s.closed());
    CHECK(t("FOO\r\n").find("421 4.7.0 ") != std::string::npos);
    CHECK(t.s.closed());
    CHECK(t.pauses.back() == 10000);   // capped
}

TEST_CASE("BDAT: chunks, LAST, and errors that keep the stream in sync") {
    Fixture t;
    t.ready();
    CHECK(t("BDAT 12\r\nSubject: x\r\n") == "250 2.0.0 12 octets received\r\n");
    CHECK(starts(t("DATA\r\n"), "503 5.5.1 "));
    CHECK(t("BDAT 8 LAST\r\n\r\n.body\n") == "550 5.5.2 Message refused: bare CR or LF in the message (lines must end with CRLF)\r\n");
    CHECK_FALSE(t.sink.called("finish"));
    t.ready();
    t.sink.data.clear();
    CHECK(t("BDAT 17\r\nSubject: x\r\n\r\n.\r\n") == "250 2.0.0 17 octets received\r\n");
    CHECK(t("BDAT 0 LAST\r\n") == "250 2.0.0 Ok: queued as 6500AB12.00001234.0001\r\n");
    CHECK(t.sink.data == "Subject: x\r\n\r\n.\r\n");   // no dot-unstuffing in BDAT
    // Without a transaction the chunk is read and dropped.
    CHECK(starts(t("BDAT 5\r\nNOOP\n"), "503 5.5.1 "));
    CHECK(t("NOOP\r\n") == "250 2.0.0 Ok\r\n");
    CHECK(starts(t("BDAT x\r\n"), "501 5.5.4 "));
    CHECK(t.s.closed());
}

TEST_CASE("BDAT: SIZE is checked over the chunks") {
    Fixture t;
    t.ready();
    std::string big(60000, 'a');
    big += "\r\n";
    std::string out = t("BDAT " + std::to_string(big.size()) + "\r\n" + big);
    CHECK(starts(out, "552 5.5.2 "));   // a line over 1000 octets
    CHECK(t.sink.called("reset"));
}

TEST_CASE("STARTTLS: offered, then the session starts over") {
    FakeSink sink;
    SessionConfig c = test_config();
    c.tls_available = true;
    SmtpSession s(c, sink);
    s.start();
    s.take_output();
    CHECK(talk(s, "EHLO c\r\n").find("STARTTLS\r\n") != std::string::npos);
    talk(s, "MAIL FROM:<a@example.org>\r\n");
    CHECK(starts(talk(s, "STARTTLS now\r\n"), "501 5.5.4 "));
    CHECK(talk(s, "STARTTLS\r\n") == "220 2.0.0 Ready to start TLS\r\n");
    CHECK(s.starttls_requested());
    CHECK(sink.called("reset"));
    s.on_tls_started(TlsInfo{"TLSv1.3", "TLS_AES_128_GCM_SHA256", 128, false, false, "", ""});
    CHECK(sink.session["tls"] == "TLSv1.3 TLS_AES_128_GCM_SHA256 128");
    CHECK(starts(talk(s, "MAIL FROM:<a@example.org>\r\n"), "503 5.5.1 "));   // EHLO again first
    std::string ehlo = talk(s, "EHLO c\r\n");
    CHECK(ehlo.find("STARTTLS") == std::string::npos);
    CHECK(sink.session["protocol"] == "ESMTPS");
    CHECK(starts(talk(s, "STARTTLS\r\n"), "503 5.5.1 "));
    s.on_tls_failed();
    CHECK(s.closed());

    Fixture plain;   // no certificate
    plain("EHLO c\r\n");
    CHECK(starts(plain("STARTTLS\r\n"), "454 4.7.0 "));
}

TEST_CASE("AUTH is not offered in the clear unless ESMTPAUTH says so") {
    AuthFixture t(false);
    std::string ehlo = t("EHLO c\r\n");
    CHECK(ehlo.find("AUTH") == std::string::npos);
    CHECK(starts(t("AUTH PLAIN AGFsaWNlAHB3\r\n"), "538 5.7.11 "));
    AuthFixture tls;
    CHECK(tls("EHLO c\r\n").find("250 AUTH PLAIN LOGIN CRAM-MD5\r\n") != std::string::npos);
}

TEST_CASE("AUTH PLAIN with an initial response, and with a 334 challenge") {
    AuthFixture t;
    t("EHLO c\r\n");
    CHECK(t("AUTH PLAIN " + esmtp::base64_encode(std::string("\0alice\0pw", 9)) + "\r\n") ==
          "235 2.7.0 Authentication successful\r\n");
    CHECK(t.s.authenticated_user() == "alice");
    CHECK(t.sink.session["auth"] == "alice");
    CHECK(t.sink.session["relay"] == "yes");
    CHECK(t.sink.session["protocol"] == "ESMTPSA");
    CHECK(starts(t("AUTH PLAIN\r\n"), "503 5.5.1 "));
    AuthFixture u;
    u("EHLO c\r\n");
    CHECK(u("AUTH plain\r\n") == "334 \r\n");
    CHECK(u(esmtp::base64_encode(std::string("\0alice\0wrong", 12)) + "\r\n") ==
          "535 5.7.8 Authentication credentials invalid\r\n");
    CHECK(u.pauses == std::vector<int>{10});
    CHECK(u.s.authenticated_user().empty());
    CHECK(u("AUTH PLAIN\r\n") == "334 \r\n");
    CHECK(u("*\r\n") == "501 5.0.0 Authentication cancelled\r\n");
    CHECK(u("AUTH PLAIN\r\n") == "334 \r\n");
    CHECK(u("not base64!\r\n") == "501 5.5.2 Cannot decode response\r\n");
    CHECK(starts(u("AUTH GSSAPI\r\n"), "504 5.5.4 "));
    CHECK(u("AUTH PLAIN " + esmtp::base64_encode(std::string("\0down\0pw", 8)) + "\r\n") ==
          "454 4.7.0 Temporary authentication failure\r\n");
}

TEST_CASE("AUTH LOGIN and CRAM-MD5") {
    AuthFixture t;
    t("EHLO c\r\n");
    CHECK(t("AUTH LOGIN\r\n") == "334 VXNlcm5hbWU6\r\n");
    CHECK(t(esmtp::base64_encode("alice") + "\r\n") == "334 UGFzc3dvcmQ6\r\n");
    CHECK(t(esmtp::base64_encode("pw") + "\r\n") == "235 2.7.0 Authentication successful\r\n");

    AuthFixture c;
    c("EHLO c\r\n");
    std::string challenge_line = c("AUTH CRAM-MD5\r\n");
    REQUIRE(starts(challenge_line, "334 "));
    auto challenge = esmtp::base64_decode(challenge_line.substr(4, challenge_line.size() - 6));
    REQUIRE(challenge);
    std::string answer = "alice " + esmtp::hmac_md5_hex("tanstaaftanstaaf", *challenge);
    CHECK(c(esmtp::base64_encode(answer) + "\r\n") == "235 2.7.0 Authentication successful\r\n");

    AuthFixture bad;
    bad("EHLO c\r\n");
    bad("AUTH CRAM-MD5\r\n");
    CHECK(starts(bad(esmtp::base64_encode("alice 00000000000000000000000000000000") + "\r\n"), "535 5.7.8 "));
}

TEST_CASE("three failed AUTH attempts end the session, with growing delays") {
    AuthFixture t;
    t("EHLO c\r\n");
    std::string bad = "AUTH PLAIN " + esmtp::base64_encode(std::string("\0alice\0x", 8)) + "\r\n";
    t(bad);
    t(bad);
    std::string last = t(bad);
    CHECK(last.find("535 5.7.8 ") != std::string::npos);
    CHECK(last.find("421 4.7.0 ") != std::string::npos);
    CHECK(t.s.closed());
    CHECK(t.pauses == std::vector<int>{10, 20, 30});
}

TEST_CASE("AUTH_REQUIRED: no MAIL before AUTH (RFC 6409)") {
    AuthFixture t(true, true);
    t("EHLO c\r\n");
    CHECK(t("MAIL FROM:<a@example.org>\r\n") == "530 5.7.0 Authentication required\r\n");
    t("AUTH PLAIN " + esmtp::base64_encode(std::string("\0alice\0pw", 9)) + "\r\n");
    CHECK(t("MAIL FROM:<a@example.org>\r\n") == "250 2.1.0 Ok\r\n");
}

TEST_CASE("STARTTLS is refused after AUTH") {
    SessionConfig c = test_config();
    c.tls_available = true;
    c.auth_plain = {"PLAIN"};
    FakeAuth auth;
    FakeSink sink;
    SmtpSession s(c, sink);
    s.set_auth_backend(&auth);
    s.start();
    s.take_output();
    CHECK(talk(s, "EHLO c\r\n").find("AUTH PLAIN\r\n") != std::string::npos);
    CHECK(talk(s, "AUTH PLAIN " + esmtp::base64_encode(std::string("\0alice\0pw", 9)) + "\r\n") ==
          "235 2.7.0 Authentication successful\r\n");
    CHECK(starts(talk(s, "STARTTLS\r\n"), "503 5.5.1 "));
}

// --- issue 10: BLOCK, the guards, the switches, HELO patterns, ETRN ---

namespace {
struct GuardFixture {
    FakeSink sink;
    std::unique_ptr<SmtpSession> s;
    std::vector<std::string> logs;
    std::vector<int> pauses;
    std::vector<std::string> etrn;
    bool etrn_ok = true;
    std::optional<uint64_t> space_kb = 1000000;
    std::string greeting;
    explicit GuardFixture(SessionConfig c, bool with_etrn = true) {
        s = std::make_unique<SmtpSession>(std::move(c), sink);
        s->log = [this](const std::string& l) { logs.push_back(l); };
        s->pause = [this](int ms) { pauses.push_back(ms); };
        s->spool_available_kb = [this] { return space_kb; };
        s->load_average = [] { return std::optional<double>(1.5); };
        if (with_etrn)
            s->request_etrn = [this](const std::string& d) {
                etrn.push_back(d);
                return etrn_ok;
            };
        s->start();
        greeting = s->take_output();
    }
    std::string operator()(std::string_view input) { return talk(*s, input); }
    bool logged(std::string_view what) const {
        for (const auto& l : logs)
            if (l.find(what) != std::string::npos) return true;
        return false;
    }
};
}  // namespace

TEST_CASE("BLOCK refuses every recipient with its text; the rule is logged") {
    SessionConfig c = test_config();
    c.facts.block = "Listed by bl.example";
    c.facts.block_zone = "bl.example";
    GuardFixture t(c);
    t("EHLO c\r\nMAIL FROM:<a@example.org>\r\n");
    CHECK(t("RCPT TO:<b@example.com>\r\n") == "550 5.7.1 Listed by bl.example\r\n");
    CHECK(t("RCPT TO:<postmaster>\r\n") == "550 5.7.1 Listed by bl.example\r\n");
    CHECK_FALSE(t.sink.called("rcpt b@example.com"));
    CHECK(t.logged("policy rule=BLOCK zone=bl.example client=192.0.2.7 reply=550 5.7.1 Listed"));
    CHECK(starts(t("DATA\r\n"), "503 "));
}

TEST_CASE("BLOCK with its own reply code; an authenticated client is not blocked") {
    SessionConfig c = test_config();
    c.facts.block = "451 Try again later";
    GuardFixture t(c);
    t("EHLO c\r\nMAIL FROM:<a@example.org>\r\n");
    CHECK(t("RCPT TO:<b@example.com>\r\n") == "451 4.7.1 Try again later\r\n");
}

TEST_CASE("an allow-list hit is passed to submit as the dnswl fact") {
    SessionConfig c = test_config();
    c.facts.dnswl = "wl.example";
    GuardFixture t(c);
    CHECK(t.sink.session["dnswl"] == "wl.example");
    GuardFixture none(test_config());
    CHECK(none.sink.session.count("dnswl") == 0);
}

TEST_CASE("MINAVAILSPACE: 452 4.3.1 at MAIL and DATA while the spool is short") {
    SessionConfig c = test_config();
    c.min_avail_kb = 2048;
    c.size_limit = 10000000;
    GuardFixture t(c);
    t.space_kb = 1000;
    t("EHLO c\r\n");
    CHECK(t("MAIL FROM:<a@example.org>\r\n") == "452 4.3.1 Insufficient system storage, try again later\r\n");
    CHECK(t.logged("policy rule=MINAVAILSPACE"));
    t.space_kb = 3000;
    // The declared size counts too: 3000 KB free minus 2048 leaves less than 2 MB.
    CHECK(starts(t("MAIL FROM:<a@example.org> SIZE=2000000\r\n"), "452 4.3.1 "));
    CHECK(t("MAIL FROM:<a@example.org>\r\n") == "250 2.1.0 Ok\r\n");
    CHECK(t("RCPT TO:<b@example.com>\r\n") == "250 2.1.5 Ok\r\n");
    t.space_kb = 10;
    CHECK(starts(t("DATA\r\n"), "452 4.3.1 "));
    t.space_kb = 5000;
    CHECK(starts(t("DATA\r\n"), "354 "));   // the transaction was kept
}

TEST_CASE("MAXERRORRECIPIENTS limits the recipients of MAIL FROM:<>") {
    SessionConfig c = test_config();
    c.max_null_sender_rcpts = 1;
    GuardFixture t(c);
    t("EHLO c\r\nMAIL FROM:<>\r\n");
    CHECK(t("RCPT TO:<b@example.com>\r\n") == "250 2.1.5 Ok\r\n");
    CHECK(t("RCPT TO:<c@example.com>\r\n") == "550 5.5.3 Too many recipients for a message with a null sender\r\n");
    CHECK(t.logged("policy rule=MAXERRORRECIPIENTS"));
    t("RSET\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\n");
    CHECK(t("RCPT TO:<c@example.com>\r\n") == "250 2.1.5 Ok\r\n");
}

TEST_CASE("MAXLOADAVER: 421 4.3.2 instead of the greeting") {
    SessionConfig c = test_config();
    c.max_load = 1.0;   // the fixture's load is 1.5
    GuardFixture t(c);
    CHECK(t.greeting == "421 4.3.2 mx.example.com System load too high, try again later\r\n");
    CHECK(t.s->closed());
    CHECK(t.logged("policy rule=MAXLOADAVER load=1.50"));
    c.max_load = 2.0;
    GuardFixture fine(c);
    CHECK(starts(fine.greeting, "220 "));
}

TEST_CASE("switches withhold extensions and refuse their parameters") {
    SessionConfig c = test_config();
    c.switches.no_8bitmime = c.switches.no_chunking = c.switches.no_dsn = true;
    c.switches.no_pipelining = true;
    GuardFixture t(c);
    CHECK(t("EHLO c\r\n") == "250-mx.example.com\r\n250-SIZE 100000\r\n250-ENHANCEDSTATUSCODES\r\n"
                             "250-SMTPUTF8\r\n250 ETRN\r\n");
    CHECK(starts(t("MAIL FROM:<a@example.org> BODY=8BITMIME\r\n"), "555 5.5.4 "));
    CHECK(starts(t("MAIL FROM:<a@example.org> RET=HDRS\r\n"), "555 5.5.4 "));
    t("MAIL FROM:<a@example.org>\r\n");
    CHECK(starts(t("RCPT TO:<b@example.com> NOTIFY=NEVER\r\n"), "555 5.5.4 "));
    CHECK(t("RCPT TO:<b@example.com>\r\n") == "250 2.1.5 Ok\r\n");
    // BDAT is refused, and its bytes are still read so the session stays in step.
    CHECK(starts(t("BDAT 5 LAST\r\nhello"), "502 5.5.1 "));
    CHECK(t("NOOP\r\n") == "250 2.0.0 Ok\r\n");
}

TEST_CASE("NoENHANCEDSTATUSCODES and NoEHLO") {
    SessionConfig c = test_config();
    c.switches.no_enhanced_codes = true;
    c.switches.no_ehlo = true;
    GuardFixture t(c);
    CHECK(t("EHLO c\r\n") == "502 EHLO not available, use HELO\r\n");
    CHECK(t.logged("policy rule=NoEHLO"));
    CHECK(t("HELO c\r\n") == "250 mx.example.com\r\n");
    CHECK(t("MAIL FROM:<a@example.org>\r\n") == "250 Ok\r\n");
    CHECK(t("RCPT TO:<nobody@example.com>\r\n") == "550 No such user here\r\n");
}

TEST_CASE("HELO patterns: reject text, strict names, auth required, tarpit") {
    SessionConfig c = test_config();
    std::vector<std::string> errors;
    c.helo_patterns = HeloPatterns::parse("*.dialup.example !Use your provider's relay\n"
                                          "localhost* S\n"
                                          "needs-auth.* A\n"
                                          "slow.* TP\n",
                                          "etc/esmtphelopatterns", &errors);
    REQUIRE(errors.empty());
    GuardFixture t(c);
    CHECK(t("EHLO pc1.dialup.example\r\n") == "550 5.7.1 Use your provider's relay\r\n");
    CHECK(t.logged("policy rule=esmtphelopatterns etc/esmtphelopatterns:1 *.dialup.example"));
    CHECK(starts(t("MAIL FROM:<a@example.org>\r\n"), "503 "));   // no greeting took
    CHECK(t("HELO localhost\r\n") == "501 5.5.4 Invalid host name in HELO\r\n");
    CHECK(t("HELO localhost.example.net\r\n") == "250 mx.example.com\r\n");
    t("EHLO needs-auth.example\r\n");
    CHECK(t("MAIL FROM:<a@example.org>\r\n") == "530 5.7.0 Authentication required\r\n");
    std::string ehlo = t("EHLO slow.example\r\n");
    CHECK(ehlo.find("PIPELINING") == std::string::npos);
    t.pauses.clear();
    t("FOO\r\n");
    CHECK(t.pauses.size() == 1);   // delayed from the first error on
}

TEST_CASE("ETRN: relay clients only, RFC 1985 replies") {
    SessionConfig c = test_config();
    c.facts.relay_client = true;
    GuardFixture t(c);
    CHECK(starts(t("ETRN example.net\r\n"), "503 "));   // before EHLO
    CHECK(t("EHLO c\r\n").find("250 ETRN") != std::string::npos);
    CHECK(t("ETRN Example.NET\r\n") == "250 2.0.0 Queuing for node example.net started\r\n");
    CHECK(t("ETRN @example.net\r\n") == "250 2.0.0 Queuing for node @example.net started\r\n");
    CHECK(t.etrn == std::vector<std::string>{"example.net", "@example.net"});
    CHECK(starts(t("ETRN #queue\r\n"), "458 "));
    CHECK(starts(t("ETRN\r\n"), "501 "));
    CHECK(starts(t("ETRN bad..name\r\n"), "501 "));
    t.etrn_ok = false;
    CHECK(t("ETRN example.net\r\n") == "458 4.3.0 Unable to queue messages for node example.net\r\n");

    GuardFixture stranger(test_config());
    stranger("EHLO c\r\n");
    CHECK(stranger("ETRN example.net\r\n") ==
          "459 4.7.1 Node example.net not allowed: ETRN is for relay clients only\r\n");
    CHECK(stranger.etrn.empty());
    CHECK(stranger.logged("policy rule=ETRN not-relay-client"));

    GuardFixture embedded(test_config(), false);   // no queue behind it: not offered
    CHECK(embedded("EHLO c\r\n").find("ETRN") == std::string::npos);
    CHECK(starts(embedded("ETRN example.net\r\n"), "502 "));
}

TEST_CASE("an authenticated client passes BLOCK and may use ETRN") {
    SessionConfig c = test_config();
    c.facts.block = "Listed";
    c.auth_plain = {"PLAIN"};
    FakeAuth auth;
    GuardFixture t(c);
    t.s->set_auth_backend(&auth);
    t("EHLO c\r\n");
    CHECK(starts(t("ETRN example.net\r\n"), "459 "));
    CHECK(starts(t("AUTH PLAIN AGFsaWNlAHB3\r\n"), "235 "));   // "\0alice\0pw"
    t("MAIL FROM:<a@example.org>\r\n");
    CHECK(t("RCPT TO:<b@example.com>\r\n") == "250 2.1.5 Ok\r\n");
    t("RSET\r\n");
    CHECK(starts(t("ETRN example.net\r\n"), "250 "));
}
