// Unit tests of libsmtpembed's adapter: each callback's verdict, driven through a real
// SmtpSession, becomes the reply smtpd(n) documents (553 refused sender or recipient,
// 554 failed delivery, a callback's own code), and deliver sees the envelope and data.
#include <doctest/doctest.h>
#include <stdexcept>
#include "esmtp/embedded_callbacks.h"

using smtpembed::CallbackGate;
using smtpembed::CallbackSink;
using smtpembed::Message;
using smtpembed::Stage;
using smtpembed::Verdict;

namespace {
struct Conversation {
    smtpembed::Callbacks callbacks;
    CallbackGate gate{true};
    std::vector<Message> delivered;
    std::string transcript;

    // Runs the lines through a session with this sink; returns every reply written.
    std::string run(const std::vector<std::string>& lines) {
        smtpembed::SinkSettings settings;
        settings.me = "sink.example";
        settings.next_id = [] { return "ID1"; };
        settings.now = [] { return std::time_t(1700000000); };
        CallbackSink sink(callbacks, gate, settings);
        SessionConfig cfg;
        cfg.me = "sink.example";
        cfg.greeting = "sink.example ESMTP";
        cfg.error_delay_ms = 0;
        cfg.facts.remote_ip = "192.0.2.9";
        cfg.facts.remote_port = "4000";
        SmtpSession s(cfg, sink);
        s.log = nullptr;
        s.start();
        for (const std::string& l : lines) {
            if (s.mode() == SmtpSession::Mode::data) s.on_data(l + "\r\n");
            else s.on_command(l);
        }
        transcript = s.take_output();
        return transcript;
    }
};

const std::vector<std::string> kOneMessage = {"EHLO client.example", "MAIL FROM:<a@x.example>",
                                              "RCPT TO:<b@y.example>", "DATA", "Subject: t", "", "body", "."};
}  // namespace

TEST_CASE("embedded: accepted message reaches deliver with envelope and trace headers") {
    Conversation c;
    c.callbacks.deliver = [&](const Message& m) {
        c.delivered.push_back(m);
        return Verdict::accept();
    };
    std::string out = c.run(kOneMessage);
    CHECK(out.find("250 2.1.0 Sender ok") != std::string::npos);
    CHECK(out.find("250 2.1.5 Recipient ok") != std::string::npos);
    CHECK(out.find("250 2.0.0 ID1 Message accepted for delivery") != std::string::npos);
    REQUIRE(c.delivered.size() == 1);
    const Message& m = c.delivered[0];
    CHECK(m.sender == "a@x.example");
    CHECK(m.recipients == std::vector<std::string>{"b@y.example"});
    CHECK(m.helo == "client.example");
    CHECK(m.client_ip == "192.0.2.9");
    CHECK(m.id == "ID1");
    CHECK(m.data.rfind("Return-Path: <a@x.example>\r\nReceived: from client.example (unknown [192.0.2.9])", 0) == 0);
    CHECK(m.data.find("by sink.example with ESMTP id ID1") != std::string::npos);
    CHECK(m.data.find("\r\nSubject: t\r\n\r\nbody\r\n") != std::string::npos);
    CHECK(m.data.find("\n\n") == std::string::npos);   // every line end is CRLF
}

TEST_CASE("embedded: refused sender gets 553 and the reason stays out of the reply") {
    Conversation c;
    c.callbacks.validate_sender = [](const std::string& s) {
        return s == "a@x.example" ? Verdict::refuse("secret reason") : Verdict::accept();
    };
    std::string out = c.run({"EHLO c", "MAIL FROM:<a@x.example>", "RCPT TO:<b@y.example>", "MAIL FROM:<>"});
    CHECK(out.find("553 5.7.1 Requested action not taken: mailbox name not allowed") != std::string::npos);
    CHECK(out.find("secret") == std::string::npos);
    CHECK(out.find("503 5.5.1 Need MAIL command first") != std::string::npos);
    // The null sender is passed as "" and accepted here.
    CHECK(out.find("250 2.1.0 Sender ok") != std::string::npos);
}

TEST_CASE("embedded: refused recipient gets 553, postmaster is never asked") {
    Conversation c;
    std::vector<std::string> asked;
    c.callbacks.validate_recipient = [&](const std::string& r) {
        asked.push_back(r);
        return Verdict::refuse();
    };
    c.callbacks.deliver = [&](const Message& m) {
        c.delivered.push_back(m);
        return Verdict::accept();
    };
    std::string out = c.run({"EHLO c", "MAIL FROM:<a@x.example>", "RCPT TO:<b@y.example>", "RCPT TO:<Postmaster>",
                             "DATA", "x", "."});
    CHECK(out.find("553 5.7.1 Requested action not taken") != std::string::npos);
    CHECK(asked == std::vector<std::string>{"b@y.example"});
    REQUIRE(c.delivered.size() == 1);
    CHECK(c.delivered[0].recipients == std::vector<std::string>{"postmaster@sink.example"});
}

TEST_CASE("embedded: only refused recipients means DATA is refused") {
    Conversation c;
    c.callbacks.validate_recipient = [](const std::string&) { return Verdict::refuse(); };
    std::string out = c.run({"EHLO c", "MAIL FROM:<a@x.example>", "RCPT TO:<b@y.example>", "DATA"});
    CHECK(out.find("503 5.5.1 Need RCPT command first") != std::string::npos);
}

TEST_CASE("embedded: failing deliver gets 554 Transaction failed with its reason") {
    Conversation c;
    c.callbacks.deliver = [](const Message&) { return Verdict::refuse("disk on fire"); };
    CHECK(c.run(kOneMessage).find("554 5.0.0 Transaction failed: disk on fire\r\n") != std::string::npos);
}

TEST_CASE("embedded: a throwing callback is a refusal, never an exception on the wire") {
    Conversation c;
    c.callbacks.deliver = [](const Message&) -> Verdict { throw std::runtime_error("boom"); };
    CHECK(c.run(kOneMessage).find("554 5.0.0 Transaction failed: boom") != std::string::npos);
    Conversation d;
    d.callbacks.validate_sender = [](const std::string&) -> Verdict { throw 42; };
    CHECK(d.run({"EHLO c", "MAIL FROM:<a@x.example>"}).find("553 5.7.1") != std::string::npos);
}

TEST_CASE("embedded: a callback's own code and text") {
    Conversation c;
    c.callbacks.validate_recipient = [](const std::string& r) {
        if (r == "grey@y.example") return Verdict::reply(450, "4.7.1 Greylisted, try later");
        if (r == "gone@y.example") return Verdict::reply(550, "User gone");
        return Verdict::accept();
    };
    c.callbacks.deliver = [](const Message&) { return Verdict::reply(452, "Mailbox full"); };
    std::string out = c.run({"EHLO c", "MAIL FROM:<a@x.example>", "RCPT TO:<grey@y.example>",
                             "RCPT TO:<gone@y.example>", "RCPT TO:<ok@y.example>", "DATA", "x", "."});
    CHECK(out.find("450 4.7.1 Greylisted, try later\r\n") != std::string::npos);
    CHECK(out.find("550 5.0.0 User gone\r\n") != std::string::npos);
    CHECK(out.find("452 4.0.0 Mailbox full\r\n") != std::string::npos);
}

TEST_CASE("embedded: refusal_reply keeps codes in 400-599 and texts on one line") {
    CHECK(refusal_reply(Stage::sender, Verdict::reply(250, "fine")).line() ==
          "553 5.7.1 Requested action not taken: mailbox name not allowed");
    CHECK(refusal_reply(Stage::deliver, Verdict::reply(354, "go")).line() == "554 5.0.0 Transaction failed: go");
    CHECK(refusal_reply(Stage::deliver, Verdict::reply(451, "line1\r\nline2")).line() == "451 4.0.0 line1  line2");
    CHECK(refusal_reply(Stage::deliver, Verdict::reply(451, "")).line() == "451 4.0.0 Try again later");
    // An enhanced code of the wrong class is not taken as one.
    CHECK(refusal_reply(Stage::recipient, Verdict::reply(550, "4.1.1 x")).line() == "550 5.0.0 4.1.1 x");
    CHECK(refusal_reply(Stage::deliver, Verdict::refuse()).line() == "554 5.0.0 Transaction failed");
}

TEST_CASE("embedded: refused host greeting and the QUIT-only conversation") {
    CHECK(smtpembed::host_refusal_line(Verdict::refuse("I hate you.")) == "550 Access denied: I hate you.");
    CHECK(smtpembed::host_refusal_line(Verdict::refuse()) == "550 Access denied");
    CHECK(smtpembed::host_refusal_line(Verdict::reply(421, "busy")) == "421 busy");
    auto a = smtpembed::answer_denied_host("EHLO c", "me.example");
    CHECK(a.reply == "503 5.5.1 Bad sequence of commands: access denied");
    CHECK_FALSE(a.close);
    a = smtpembed::answer_denied_host("quit\r", "me.example");
    CHECK(a.reply == "221 2.0.0 me.example closing connection");
    CHECK(a.close);
}

TEST_CASE("embedded: postmaster and line end helpers") {
    CHECK(smtpembed::is_postmaster("postmaster@a.example"));
    CHECK(smtpembed::is_postmaster("PostMaster@a.example"));
    CHECK(smtpembed::is_postmaster("postmaster"));
    CHECK_FALSE(smtpembed::is_postmaster("postmasters@a.example"));
    CHECK_FALSE(smtpembed::is_postmaster("x@postmaster"));
    CHECK(smtpembed::to_crlf("a\nb\r\nc\n") == "a\r\nb\r\nc\r\n");
}

TEST_CASE("embedded: serialized gate runs one callback at a time and catches") {
    CallbackGate gate(true);
    std::function<Verdict(int)> fn = [](int n) { return n > 0 ? Verdict::accept() : Verdict::refuse("neg"); };
    CHECK(gate.call(fn, 1).accepted());
    CHECK(gate.call(fn, -1).text() == "neg");
}
