// Unit tests for CRLF -> LF conversion and the bounded message buffer.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>
#include <cstdlib>
#include <filesystem>
#include <string>
#include "lib/fileio.h"
#include "submit/message_buffer.h"

using namespace submit;

namespace {
std::string convert_split(std::string_view in, size_t cut1, size_t cut2) {
    CrlfToLf c;
    std::string out;
    c.convert(in.substr(0, cut1), out);
    c.convert(in.substr(cut1, cut2 - cut1), out);
    c.convert(in.substr(cut2), out);
    c.finish(out);
    return out;
}
}  // namespace

TEST_CASE("CRLF to LF, split at every possible pair of points") {
    const std::string in = "a\r\nb\rc\r\r\n\r\n\n\rd\r";
    const std::string want = "a\nb\rc\r\n\n\n\rd\r";
    for (size_t i = 0; i <= in.size(); ++i)
        for (size_t j = i; j <= in.size(); ++j) {
            CAPTURE(i);
            CAPTURE(j);
            CHECK(convert_split(in, i, j) == want);
        }
}

TEST_CASE("CRLF to LF: empty chunks keep a pending CR") {
    CrlfToLf c;
    std::string out;
    c.convert("x\r", out);
    c.convert("", out);
    c.convert("\ny", out);
    c.finish(out);
    CHECK(out == "x\ny");
}

TEST_CASE("MessageBuffer spills to a file and copies back byte-exact") {
    char tmpl[] = "/tmp/submit-mb-XXXXXX";
    REQUIRE(mkdtemp(tmpl));
    std::string dir = tmpl;
    MessageBuffer mb(dir, 100, 0);
    std::string want;
    for (int i = 0; i < 5000; ++i) {
        std::string line = "line " + std::to_string(i) + "\r\n";
        REQUIRE(mb.append(line));
        want += "line " + std::to_string(i) + "\n";
    }
    REQUIRE(mb.finish());
    CHECK(mb.spilled());
    CHECK(mb.size() == want.size());
    std::string out_path = dir + "/out";
    {
        UniqueFd fd(::open(out_path.c_str(), O_RDWR | O_CREAT, 0600));
        REQUIRE(fd);
        REQUIRE(mb.write_to(fd.get()));
    }
    auto got = read_file(out_path, 1 << 20);
    REQUIRE(got);
    CHECK(*got == want);
    // The spill file has no name: only "out" is in the folder.
    CHECK(std::distance(std::filesystem::directory_iterator(dir),
                        std::filesystem::directory_iterator()) == 1);
    mb.reset();
    CHECK_FALSE(mb.spilled());
    CHECK(mb.size() == 0);
    std::filesystem::remove_all(dir);
}

TEST_CASE("MessageBuffer: the size limit counts converted bytes and keeps nothing beyond") {
    MessageBuffer mb("/tmp", 1024, 10);
    REQUIRE(mb.append("12345678\r\n"));   // 9 bytes after conversion
    CHECK_FALSE(mb.too_big());
    REQUIRE(mb.append("x\r\n"));
    REQUIRE(mb.finish());
    CHECK(mb.too_big());
    CHECK(mb.size() == 11);
    CHECK(mb.in_memory().empty());
}
