// Unit tests of mbox delivery: From_ quoting, the separator, locks, truncation.
#include "local/mbox.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>
#include "lib/fileio.h"
#include "lib/unique_fd.h"
#include "local/test_support.h"

using namespace local;

TEST_CASE("From_ lines and quoted ones get one more '>'") {
    CHECK(mbox_needs_quote("From me\n"));
    CHECK(mbox_needs_quote(">From me\n"));
    CHECK(mbox_needs_quote(">>From me\n"));
    CHECK_FALSE(mbox_needs_quote("From: me\n"));
    CHECK_FALSE(mbox_needs_quote(" From me\n"));
    CHECK_FALSE(mbox_needs_quote("from me\n"));
}

TEST_CASE("two messages appended to one mbox, quoted and separated") {
    TestDir dir;
    std::string src_path = dir.path() + "/src";
    std::string msg = "Subject: x\n\nFrom the start\n>From quoted\nlast line without LF";
    spew(src_path, msg);
    UniqueFd src(::open(src_path.c_str(), O_RDONLY));
    MessageSource ms{src.get(), 0, msg.size()};
    std::string box = dir.path() + "/box";
    REQUIRE(deliver_mbox(box, "From a@x Thu Jan  1 00:00:00 1970", "Return-Path: <a@x>\n", ms));
    REQUIRE(deliver_mbox(box, "From b@x Thu Jan  1 00:00:00 1970", "", ms));
    std::string one = "Subject: x\n\n>From the start\n>>From quoted\nlast line without LF\n\n";
    CHECK(slurp(box) == "From a@x Thu Jan  1 00:00:00 1970\nReturn-Path: <a@x>\n" + one +
                            "From b@x Thu Jan  1 00:00:00 1970\n" + one);
    CHECK_FALSE(path_exists(box + ".lock"));
}

TEST_CASE("a failed copy leaves the mbox as it was") {
    TestDir dir;
    std::string src_path = dir.path() + "/src";
    spew(src_path, "short\n");
    UniqueFd src(::open(src_path.c_str(), O_RDONLY));
    std::string box = dir.path() + "/box";
    spew(box, "From x\nold\n\n");
    MessageSource ms{src.get(), 0, 1000};   // more than the file holds
    CHECK_FALSE(deliver_mbox(box, "From y", "", ms));
    CHECK(slurp(box) == "From x\nold\n\n");
}
