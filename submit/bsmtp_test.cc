// Transcript tests of SMTP on standard input (sendmail -bs / -bS).
#include <doctest/doctest.h>
#include "submit/bsmtp.h"

using namespace submit;

namespace {
struct FakeQueue : SmtpQueue {
    std::string log, data;
    SubmitReply mail(std::string_view s, std::string_view p) override {
        log += "mail " + std::string(s) + " " + std::string(p) + "\n";
        return {250, "2.1.0 Ok"};
    }
    SubmitReply rcpt(std::string_view a, std::string_view p) override {
        log += "rcpt " + std::string(a) + " " + std::string(p) + "\n";
        if (a.starts_with("nobody")) return {550, "5.1.1 unknown user"};
        return {250, "2.1.5 Ok"};
    }
    Status send_data(std::string_view b) override {
        data += b;
        return ok_status();
    }
    SubmitReply finish() override { return {250, "2.0.0 Ok: queued as X"}; }
    void reset() override { log += "reset\n"; }
};
}  // namespace

TEST_CASE("-bs: a transaction with parameters, dot-unstuffing and QUIT") {
    FakeQueue q;
    LocalSmtp s(q, "mx.example.com", false);
    CHECK(s.greeting() == "220 mx.example.com ESMTP\r\n");
    CHECK(s.on_line("EHLO me\r").find("250 ENHANCEDSTATUSCODES") != std::string::npos);
    CHECK(s.on_line("MAIL FROM:<a@example.com> SIZE=10 RET=HDRS BODY=8BITMIME") == "250 2.1.0 Ok\r\n");
    CHECK(s.on_line("RCPT TO:<nobody@example.com>") == "550 5.1.1 unknown user\r\n");
    CHECK(s.on_line("DATA") == "554 5.5.1 No valid recipients\r\n");
    CHECK(s.on_line("RCPT TO:<b@example.com> NOTIFY=NEVER") == "250 2.1.5 Ok\r\n");
    CHECK(s.on_line("RCPT TO:<b@example.com> FOO=1") == "555 5.5.4 Unsupported parameter FOO=1\r\n");
    CHECK(s.on_line("DATA").rfind("354 ", 0) == 0);
    CHECK(s.on_line("Subject: x") == "");
    CHECK(s.on_line("") == "");
    CHECK(s.on_line("..leading dot") == "");
    CHECK(s.on_line(".") == "250 2.0.0 Ok: queued as X\r\n");
    CHECK(q.data == "Subject: x\n\n.leading dot\n");
    CHECK(q.log == "mail a@example.com RET=HDRS BODY=8BITMIME\nrcpt nobody@example.com \n"
                   "rcpt b@example.com NOTIFY=NEVER\n");
    CHECK(s.on_line("QUIT") == "221 2.0.0 Bye\r\n");
    CHECK(s.done());
    CHECK(s.queued() == 1);
    CHECK(s.failures() == 3);
}

TEST_CASE("-bS: a message cut off by end of input is abandoned") {
    FakeQueue q;
    LocalSmtp s(q, "mx", true);
    CHECK(s.greeting().empty());
    s.on_line("MAIL FROM:<>");
    s.on_line("RCPT TO:<b@example.com>");
    s.on_line("DATA");
    s.on_line("partial");
    s.on_eof();
    CHECK(q.log.ends_with("reset\n"));
    CHECK(s.queued() == 0);
    CHECK(s.failures() == 1);
}
