// Tests of run_smtp_session over a pipe and a real LineReader: pipelined replies,
// byte-exact DATA end, over-long command lines and the idle timeout.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>
#include <vector>
#include "esmtp/smtp_server.h"
#include "lib/fileio.h"

namespace {
struct RecordingSink : MessageSink {
    std::string data;
    int finished = 0, resets = 0;
    void set_session(std::string, std::string) override {}
    SubmitReply mail(std::string_view, std::string_view) override { return {250, "2.1.0 Ok"}; }
    SubmitReply rcpt(std::string_view, std::string_view) override { return {250, "2.1.5 Ok"}; }
    Status send_data(std::string_view b) override {
        data += b;
        return ok_status();
    }
    SubmitReply finish() override {
        ++finished;
        return {250, "2.0.0 Ok: queued as X"};
    }
    void reset() override { ++resets; }
    void quit() override {}
};

struct Run {
    std::vector<std::string> writes;
    std::string all() const {
        std::string s;
        for (const auto& w : writes) s += w;
        return s;
    }
};

// Sends `input` through a pipe (closed after it unless keep_open) and runs a session.
Run run(std::string_view input, RecordingSink& sink, bool keep_open = false, int timeout_ms = 2000) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    UniqueFd rd(fds[0]), wr(fds[1]);
    REQUIRE(input.size() < 60000);   // fits the pipe: no writer thread needed
    REQUIRE(write_all(wr.get(), input));
    if (!keep_open) wr.reset();
    SessionConfig cfg;
    cfg.me = "mx.test";
    cfg.greeting = "mx.test ESMTP";
    SmtpSession session(cfg, sink);
    session.log = nullptr;
    LineReader in(rd.get(), kMaxCommandLine - 1);
    Run r;
    run_smtp_session(session, in, [&r](std::string_view b) {
        r.writes.emplace_back(b);
        return true;
    }, timeout_ms);
    return r;
}
}  // namespace

TEST_CASE("pipelined commands get their replies in one write") {
    RecordingSink sink;
    Run r = run("EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nRCPT TO:<e@d.example>\r\n"
                "DATA\r\nhello\r\n.\r\nQUIT\r\n",
                sink);
    REQUIRE(r.writes.size() == 5);
    CHECK(r.writes[0] == "220 mx.test ESMTP\r\n");
    CHECK(r.writes[1].rfind("250-mx.test\r\n", 0) == 0);
    CHECK(r.writes[2] == "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n");
    CHECK(r.writes[3] == "250 2.0.0 Ok: queued as X\r\n");
    CHECK(r.writes[4] == "221 2.0.0 mx.test closing connection\r\n");
    CHECK(sink.data == "hello\r\n");
}

TEST_CASE("a smuggled end of data is message content, and the message is refused") {
    RecordingSink sink;
    Run r = run("EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n"
                "hello\n.\r\nMAIL FROM:<evil@x.example>\r\nRCPT TO:<victim@d.example>\r\nDATA\r\n"
                "spoofed\r\n.\r\nQUIT\r\n",
                sink);
    std::string out = r.all();
    CHECK(out.find("550 5.5.2 ") != std::string::npos);
    CHECK(out.find("250 2.0.0") == std::string::npos);
    CHECK(out.find("221 2.0.0") != std::string::npos);
    CHECK(sink.finished == 0);
}

TEST_CASE("a last line without LF never ends DATA") {
    RecordingSink sink;
    Run r = run("EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\nhi\r\n.\r", sink);
    CHECK(sink.finished == 0);
    CHECK(sink.resets == 1);
}

TEST_CASE("an over-long command line is refused and the reader stays in sync") {
    RecordingSink sink;
    Run r = run("NOOP " + std::string(600, 'a') + "\r\nNOOP\r\nQUIT\r\n", sink);
    CHECK(r.all() == "220 mx.test ESMTP\r\n500 5.5.2 Line too long\r\n250 2.0.0 Ok\r\n"
                     "221 2.0.0 mx.test closing connection\r\n");
    RecordingSink sink2;
    // 510 bytes + CRLF = 512: the largest command line allowed.
    Run ok = run("NOOP " + std::string(505, 'a') + "\r\nQUIT\r\n", sink2);
    CHECK(ok.all().find("250 2.0.0 Ok\r\n") != std::string::npos);
}

TEST_CASE("idle timeout in command mode and in DATA") {
    RecordingSink sink;
    Run r = run("EHLO c\r\n", sink, true, 100);
    CHECK(r.all().find("421 4.4.2 mx.test ") != std::string::npos);
    RecordingSink sink2;
    Run d = run("EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\npart\r\n", sink2, true, 100);
    CHECK(d.all().find("421 4.4.2 mx.test ") != std::string::npos);
    CHECK(sink2.finished == 0);
    CHECK(sink2.resets == 1);
}

TEST_CASE("write_to_client writes to a pipe") {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    UniqueFd rd(fds[0]), wr(fds[1]);
    CHECK(write_to_client(wr.get(), "250 ok\r\n", 1000));
    char buf[16] = {};
    CHECK(::read(rd.get(), buf, sizeof buf) == 8);
}
