// Unit tests: compiled databases are replaced atomically; the shared store updates.
#include <doctest/doctest.h>
#include <cstdlib>
#include <string>
#include <unistd.h>
#include "lib/bdb.h"

namespace {
struct TempDir {
    std::string path;
    TempDir() { char t[] = "/tmp/bdbtest.XXXXXX"; path = ::mkdtemp(t); }
    ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
};
}  // namespace

TEST_CASE("a built database is readable and replaced only on commit") {
    TempDir d;
    std::string db = d.path + "/smtpaccess.dat";
    {
        auto b = DbBuilder::create(db);
        REQUIRE(b);
        REQUIRE(b->put("127.0.0.1", "allow,RELAYCLIENT"));
        REQUIRE(b->put("10", "deny"));
        REQUIRE(b->commit());
    }
    auto r = DbReader::open(db);
    REQUIRE(r);
    CHECK(r->get("127.0.0.1") == std::optional<std::string>("allow,RELAYCLIENT"));
    CHECK_FALSE(r->get("127.0.0.2"));
    {
        auto b = DbBuilder::create(db);
        REQUIRE(b);
        REQUIRE(b->put("x", "y"));
        // destroyed without commit: the old database stays
    }
    CHECK_FALSE(r->changed());
    auto again = DbReader::open(db);
    REQUIRE(again);
    CHECK(again->get("10") == std::optional<std::string>("deny"));
    int n = 0;
    again->for_each([&](std::string_view, std::string_view) { ++n; return true; });
    CHECK(n == 2);
    {
        auto b = DbBuilder::create(db);
        REQUIRE(b);
        REQUIRE(b->commit());
    }
    CHECK(r->changed());
}

TEST_CASE("a shared store updates, erases and clears under its lock") {
    TempDir d;
    DbStore s(d.path + "/backscatter.dat");
    auto v = s.get("a@b");
    REQUIRE(v);
    CHECK_FALSE(*v);
    REQUIRE(s.put("a@b", "100"));
    REQUIRE(s.update("a@b", [](const std::optional<std::string>& old) {
        return std::optional<std::string>(std::to_string(std::stoi(*old) + 1));
    }));
    CHECK(s.get("a@b")->value() == "101");
    REQUIRE(s.put("c@d", "1"));
    int n = 0;
    REQUIRE(s.for_each([&](std::string_view, std::string_view) { ++n; return true; }));
    CHECK(n == 2);
    REQUIRE(s.erase("a@b"));
    CHECK_FALSE(*s.get("a@b"));
    REQUIRE(s.clear());
    CHECK_FALSE(*s.get("c@d"));
}
