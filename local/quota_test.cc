// Unit tests of Maildir++ quotas: the quota line, maildirsize sums, the over-quota rule.
#include "local/quota.h"

#include <doctest/doctest.h>
#include <cerrno>
#include "local/test_support.h"

using namespace local;

TEST_CASE("quota specifications") {
    auto q = parse_quota("1000S,10C");
    REQUIRE(q);
    CHECK(q->bytes == 1000);
    CHECK(q->count == 10);
    CHECK(parse_quota("10C")->bytes == 0);
    CHECK_FALSE(parse_quota(""));
    CHECK_FALSE(parse_quota("10X"));
    CHECK_FALSE(parse_quota("S"));
    CHECK(format_quota(*q) == "1000S,10C");
}

TEST_CASE("maildirsize: the quota line, then the sum of the change lines") {
    MaildirUsage u;
    auto q = parse_maildirsize("500S\n100 1\n  200   2\n-50 -1\n999 9", &u);
    REQUIRE(q);
    CHECK(u.bytes == 250);
    CHECK(u.count == 2);   // the last line has no LF yet: not counted
    CHECK(over_quota(*q, u, 250, 1) == false);
    CHECK(over_quota(*q, u, 251, 1) == true);
    CHECK(over_quota(MaildirQuota{0, 3}, u, 1, 1) == false);
    CHECK(over_quota(MaildirQuota{0, 3}, u, 1, 2) == true);
}

TEST_CASE("the check counts afresh before refusing") {
    TestDir md;
    for (const char* d : {"/new", "/cur", "/tmp", "/.Trash", "/.Trash/cur", "/.F", "/.F/new"})
        std::filesystem::create_directory(md.path() + d);
    spew(md.path() + "/new/a", "12345");
    spew(md.path() + "/.F/new/b", "123");
    spew(md.path() + "/.Trash/cur/c", "1234567890");
    auto u = scan_usage(md.path());
    CHECK(u.bytes == 8);
    CHECK(u.count == 2);
    spew(md.path() + "/maildirsize", "10S\n100 5\n");   // stale: claims 100 bytes
    CHECK(check_quota(md.path(), 2));
    CHECK(slurp(md.path() + "/maildirsize") == "10S\n8 2\n");
    auto st = check_quota(md.path(), 3);
    REQUIRE_FALSE(st);
    CHECK(st.error().sys_errno == EDQUOT);
    record_delivery(md.path(), 2);
    CHECK(slurp(md.path() + "/maildirsize") == "10S\n8 2\n2 1\n");
}
