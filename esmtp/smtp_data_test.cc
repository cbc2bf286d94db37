// Unit tests for DataReceiver: end of data, dot-unstuffing and the smuggling policy.
#include <doctest/doctest.h>
#include "esmtp/smtp_data.h"

namespace {
using V = DataReceiver::Verdict;

struct Fed {
    size_t used;
    bool done;
    V verdict;
    std::string message;
};

Fed feed_all(std::string_view bytes, uint64_t limit = 1000000) {
    DataReceiver d(limit);
    size_t used = d.feed(bytes);
    return {used, d.done(), d.verdict(), d.take_pending()};
}

Fed feed_bytewise(std::string_view bytes, uint64_t limit = 1000000) {
    DataReceiver d(limit);
    std::string message;
    size_t used = 0;
    while (used < bytes.size() && !d.done()) {
        used += d.feed(bytes.substr(used, 1));
        message += d.take_pending();
    }
    return {used, d.done(), d.verdict(), message};
}
}  // namespace

TEST_CASE("CRLF.CRLF ends the data; bytes after it are left for the next command") {
    Fed f = feed_all("Subject: x\r\n\r\nHello\r\n.\r\nQUIT\r\n");
    CHECK(f.done);
    CHECK(f.verdict == V::ok);
    CHECK(f.used == 24);
    CHECK(f.message == "Subject: x\r\n\r\nHello\r\n");
    Fed empty = feed_all(".\r\n");
    CHECK(empty.done);
    CHECK(empty.message.empty());
}

TEST_CASE("dot-unstuffing") {
    Fed f = feed_all("..\r\n..x\r\n.y\r\nz.\r\n.\r\n");
    CHECK(f.done);
    CHECK(f.message == ".\r\n.x\r\ny\r\nz.\r\n");
    Fed b = feed_bytewise("..\r\n..x\r\n.y\r\nz.\r\n.\r\n");
    CHECK(b.message == f.message);
    CHECK(b.used == f.used);
}

TEST_CASE("only <CRLF>.<CRLF> ends DATA: smuggling sequences are content, then refused") {
    for (std::string_view trap : {"a\n.\nMAIL FROM:<x@y>\r\n", "a\n.\r\nMAIL FROM:<x@y>\r\n",
                                  "a\r\n.\nRCPT TO:<x@y>\r\n", "a\r.\rMAIL FROM:<x@y>\r\n",
                                  "a\r\n.\r.\r\n", "a\r\n.\rX\r\n"}) {
        CAPTURE(trap);
        DataReceiver d(1000000);
        CHECK(d.feed(trap) == trap.size());
        CHECK_FALSE(d.done());
        d.feed("\r\n.\r\n");
        CHECK(d.done());
        CHECK(d.verdict() == V::bare_line_end);
        CHECK(d.pending_size() == 0);
    }
}

TEST_CASE("a message must start after the DATA line: a first line '.' ends it") {
    Fed f = feed_bytewise(".\r\nnext");
    CHECK(f.done);
    CHECK(f.used == 3);
}

TEST_CASE("NUL bytes and long lines are read to the end, then refused") {
    Fed nul = feed_all(std::string("a\0b\r\n.\r\n", 8));
    CHECK(nul.done);
    CHECK(nul.verdict == V::nul);

    std::string ok_line(998, 'x');
    CHECK(feed_all(ok_line + "\r\n.\r\n").verdict == V::ok);
    // The stuffing dot does not count (RFC 5321 4.5.3.1.6).
    CHECK(feed_all("." + ok_line + "\r\n.\r\n").verdict == V::ok);
    Fed longl = feed_all(ok_line + "x\r\n.\r\n");
    CHECK(longl.done);
    CHECK(longl.verdict == V::long_line);
    CHECK(longl.message.empty());
}

TEST_CASE("size limit counts unstuffed bytes and keeps reading") {
    CHECK(feed_all("123456\r\n.\r\n", 8).verdict == V::ok);
    Fed big = feed_all("1234567\r\n.\r\n", 8);
    CHECK(big.done);
    CHECK(big.verdict == V::too_big);
    CHECK(big.message.empty());
}

TEST_CASE("the worst problem decides the verdict") {
    std::string text = std::string(1200, 'x') + "\n" + std::string(1, '\0') + "\r\n.\r\n";
    CHECK(feed_all(text, 10).verdict == V::bare_line_end);
}

TEST_CASE("DataReceiver::raw: BDAT chunks keep dots and apply the same checks") {
    DataReceiver d = DataReceiver::raw(1000);
    CHECK(d.feed("Subject: x\r\n\r\n.\r\n..dots\r\n") == 25);
    CHECK_FALSE(d.done());
    d.end_chunks();
    CHECK(d.done());
    CHECK(d.verdict() == DataReceiver::Verdict::ok);
    CHECK(d.take_pending() == "Subject: x\r\n\r\n.\r\n..dots\r\n");

    DataReceiver bare = DataReceiver::raw(1000);
    bare.feed("a\nb\r\n");
    bare.end_chunks();
    CHECK(bare.verdict() == DataReceiver::Verdict::bare_line_end);

    DataReceiver last_cr = DataReceiver::raw(1000);
    last_cr.feed("a\r");
    last_cr.end_chunks();
    CHECK(last_cr.verdict() == DataReceiver::Verdict::bare_line_end);

    DataReceiver big = DataReceiver::raw(5);
    big.feed("123456");
    big.end_chunks();
    CHECK(big.verdict() == DataReceiver::Verdict::too_big);
}
