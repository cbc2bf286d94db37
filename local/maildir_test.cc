// Unit tests of the Maildir writer: unique names, delivery headers, and real
// deliveries into a temporary Maildir (content exact, nothing left behind on error).
#include "local/maildir.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <set>
#include "lib/unique_fd.h"
#include "local/test_support.h"

TEST_CASE("maildir host part escapes slash and colon") {
    CHECK(maildir_host_part("mx.example.com") == "mx.example.com");
    CHECK(maildir_host_part("a/b:c") == "a\\057b\\072c");
    CHECK(maildir_host_part("") == "localhost");
}

TEST_CASE("maildir unique name has the specified shape") {
    timeval tv{1700000000, 42};
    CHECK(maildir_unique_name(tv, 1234, 7, "host") == "1700000000.M42P1234Q7.host");
}

TEST_CASE("delivery headers") {
    CHECK(delivery_headers("a@example.com", "b@example.org") ==
          "Return-Path: <a@example.com>\nDelivered-To: b@example.org\n");
    CHECK(delivery_headers("", "b@x") == "Return-Path: <>\nDelivered-To: b@x\n");
    // An envelope value can never start a header line of its own.
    CHECK(delivery_headers("a\r\nX-Evil: 1", "b\n@x") ==
          "Return-Path: <a??X-Evil: 1>\nDelivered-To: b?@x\n");
}

namespace {
struct QueueLike {
    TestDir dir;
    std::string path;
    UniqueFd fd;
    explicit QueueLike(const std::string& data) {
        path = dir.path() + "/Q";
        spew(path, data);
        fd.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    }
};
}  // namespace

TEST_CASE("a delivery writes headers and the exact message into new/") {
    TestDir home;
    std::string body = "Subject: hi\n\nline one\n.\nlast line without LF";
    QueueLike q("ENVELOPE\n" + body + "TRAILING");
    MaildirWriter w(home.path() + "/Maildir", "test/host");
    REQUIRE(w.prepare());
    for (const char* sub : {"/tmp", "/new", "/cur"}) {
        struct stat st {};
        REQUIRE(::stat((w.folder() + sub).c_str(), &st) == 0);
        CHECK((st.st_mode & 0777) == 0700);
    }
    std::string headers = delivery_headers("s@x", "r@y");
    auto name = w.deliver(headers, MessageSource{q.fd.get(), 9, body.size()},
                          maildir_delivery_name(1700000000, "6B024C40.0000100D.0001", 2, w.host_part()));
    REQUIRE(name);
    CHECK(*name == "1700000000.Q6B024C40_0000100D_0001R2.test\\057host");
    CHECK(entries(w.folder() + "/tmp").empty());
    CHECK(entries(w.folder() + "/new") == std::vector<std::string>{*name});
    std::string file = w.folder() + "/new/" + *name;
    CHECK(slurp(file) == headers + body);
    struct stat st {};
    REQUIRE(::stat(file.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("distinct recipients get distinct names; a repeated attempt writes nothing") {
    TestDir home;
    QueueLike q("x\n");
    MaildirWriter w(home.path() + "/Maildir", "h");
    REQUIRE(w.prepare());
    std::set<std::string> names;
    for (size_t i = 0; i < 20; ++i) {
        auto name = w.deliver("", MessageSource{q.fd.get(), 0, 2},
                              maildir_delivery_name(1, "6B024C40.0000100D.0001", i, "h"));
        REQUIRE(name);
        names.insert(*name);
    }
    CHECK(names.size() == 20);
    CHECK(entries(w.folder() + "/new").size() == 20);
    // The attempt after a crash: same queue id and index, already in new/.
    auto again = w.deliver("", MessageSource{q.fd.get(), 0, 2},
                           maildir_delivery_name(1, "6B024C40.0000100D.0001", 3, "h"));
    REQUIRE(again);
    CHECK(entries(w.folder() + "/new").size() == 20);
    CHECK(entries(w.folder() + "/tmp").empty());
    // Also when a reader has moved it to cur/ already.
    std::string moved = maildir_delivery_name(1, "6B024C40.0000100D.0001", 4, "h");
    REQUIRE(::rename((w.folder() + "/new/" + moved).c_str(), (w.folder() + "/cur/" + moved + ":2,").c_str()) == 0);
    REQUIRE(w.deliver("", MessageSource{q.fd.get(), 0, 2}, moved));
    CHECK(entries(w.folder() + "/new").size() == 19);
}

TEST_CASE("a large message is streamed exactly") {
    TestDir home;
    std::string body;
    for (int i = 0; body.size() < 300000; ++i) body += "line " + std::to_string(i) + "\n";
    QueueLike q(body);
    MaildirWriter w(home.path() + "/Maildir", "h");
    REQUIRE(w.prepare());
    auto name = w.deliver("H: v\n", MessageSource{q.fd.get(), 0, body.size()}, "big");
    REQUIRE(name);
    CHECK(slurp(w.folder() + "/new/" + *name) == "H: v\n" + body);
}

TEST_CASE("a short queue file leaves nothing in tmp/ or new/") {
    TestDir home;
    QueueLike q("only this");
    MaildirWriter w(home.path() + "/Maildir", "h");
    REQUIRE(w.prepare());
    auto name = w.deliver("H: v\n", MessageSource{q.fd.get(), 0, 1000}, "short");
    REQUIRE_FALSE(name);
    CHECK(name.error().sys_errno == 0);
    CHECK(entries(w.folder() + "/tmp").empty());
    CHECK(entries(w.folder() + "/new").empty());
}

TEST_CASE("a missing parent folder is an error with its errno") {
    TestDir home;
    MaildirWriter w(home.path() + "/no/such/Maildir", "h");
    auto st = w.prepare();
    REQUIRE_FALSE(st);
    CHECK(st.error().sys_errno == ENOENT);
}
