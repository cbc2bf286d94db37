// Unit tests: LineReader keeps sync after an over-long line and across reads.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>
#include "lib/fileio.h"
#include "lib/lineio.h"

TEST_CASE("lines, an over-long line and a last line without LF") {
    int p[2];
    REQUIRE(::pipe(p) == 0);
    std::string input = "one\r\n" + std::string(100, 'x') + "\ntwo\nlast";
    REQUIRE(write_all(p[1], input));
    ::close(p[1]);
    LineReader r(p[0], 20);
    std::string line;
    CHECK(r.read_line(line) == LineReader::Status::line);
    CHECK(line == "one\r");
    CHECK(r.read_line(line) == LineReader::Status::too_long);
    CHECK(r.read_line(line) == LineReader::Status::line);
    CHECK(line == "two");
    CHECK(r.read_line(line) == LineReader::Status::line);
    CHECK(line == "last");
    CHECK(r.read_line(line) == LineReader::Status::eof);
    ::close(p[0]);
}

TEST_CASE("read_exact after a line and the buffered flag") {
    int p[2];
    REQUIRE(::pipe(p) == 0);
    REQUIRE(write_all(p[1], "chunk 5\nhelloNEXT\n"));
    LineReader r(p[0], 100);
    std::string line, data;
    CHECK(r.read_line(line) == LineReader::Status::line);
    CHECK(r.has_buffered());
    CHECK(r.read_exact(data, 5));
    CHECK(data == "hello");
    CHECK(r.read_line(line) == LineReader::Status::line);
    CHECK(line == "NEXT");
    CHECK_FALSE(r.has_buffered());
    CHECK(r.read_line(line, 50) == LineReader::Status::timeout);
    ::close(p[1]);
    ::close(p[0]);
}

TEST_CASE("read_some hands over buffered bytes first, then reads") {
    int p[2];
    REQUIRE(::pipe(p) == 0);
    REQUIRE(write_all(p[1], "EHLO x\r\nDATA BYTES"));
    LineReader r(p[0], 100);
    std::string line;
    CHECK(r.read_line(line) == LineReader::Status::line);
    char buf[64];
    long n = r.read_some(buf, sizeof buf);
    CHECK(std::string(buf, static_cast<size_t>(n)) == "DATA BYTES");
    CHECK(r.read_some(buf, sizeof buf, 20) == -1);   // nothing yet: timeout
    REQUIRE(write_all(p[1], "more"));
    ::close(p[1]);
    n = r.read_some(buf, 2);
    CHECK(std::string(buf, static_cast<size_t>(n)) == "mo");
    n = r.read_some(buf, sizeof buf);
    CHECK(std::string(buf, static_cast<size_t>(n)) == "re");
    CHECK(r.read_some(buf, sizeof buf) == 0);
    ::close(p[0]);
}
