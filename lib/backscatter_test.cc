#include <doctest/doctest.h>
#include <cstdlib>
#include <unistd.h>
#include "lib/backscatter.h"

namespace {
struct BackscatterDir {
    std::string path;
    BackscatterDir() { char t[] = "/tmp/bscattest.XXXXXX"; path = ::mkdtemp(t); }
    ~BackscatterDir() { std::system(("rm -rf '" + path + "'").c_str()); }
};
}  // namespace

TEST_CASE("backscatter: BOFHSUPPRESSBACKSCATTER sources") {
    CHECK(parse_backscatter_sources({}) == std::vector<std::string>{"smtp"});
    CHECK(parse_backscatter_sources({"badfrom x@y", "opt BOFHSUPPRESSBACKSCATTER=smtp,authsmtp"}) ==
          std::vector<std::string>{"smtp", "authsmtp"});
    CHECK(parse_backscatter_sources({"opt BOFHSUPPRESSBACKSCATTER=none"}).empty());
    CHECK(suppress_backscatter_from("smtp", {"smtp"}));
    CHECK_FALSE(suppress_backscatter_from("authsmtp", {"smtp"}));
    CHECK_FALSE(suppress_backscatter_from("local", {}));
}

TEST_CASE("backscatter: two hours, clear, survives reopening") {
    BackscatterDir d;
    std::string db = d.path + "/backscatter.dat";
    CHECK(backscatter_key("User@Example.COM") == "User@example.com");
    {
        BackscatterList l(db);
        CHECK(l.blocked("a@x.org", 1000).value() == false);   // no database yet
        REQUIRE(l.add("a@X.org", 1000).ok());
        REQUIRE(l.add("b@x.org", 2000).ok());
    }
    BackscatterList l(db);
    CHECK(l.blocked("a@x.org", 1000 + 7199).value());
    CHECK_FALSE(l.blocked("a@x.org", 1000 + 7200).value());
    CHECK_FALSE(l.blocked("A@x.org", 1500).value());   // the local part is case-sensitive
    auto all = l.list(8300).value();
    REQUIRE(all.size() == 1);
    CHECK(all[0].first == "b@x.org");
    REQUIRE(l.expire(8300).ok());
    CHECK(l.list(0).value().size() == 1);
    REQUIRE(l.remove("b@x.org").ok());
    CHECK_FALSE(l.blocked("b@x.org", 2001).value());
    REQUIRE(l.add("c@x.org", 5).ok());
    REQUIRE(l.clear().ok());
    CHECK(l.list(5).value().empty());
}
