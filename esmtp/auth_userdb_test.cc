// Unit tests for esmtp/auth_userdb.h: the text format, makeuserdb's build and lookups.
#include <doctest/doctest.h>
#include <cstdlib>
#include <unistd.h>
#include "esmtp/auth_userdb.h"
#include "lib/fileio.h"

using namespace esmtp;

TEST_CASE("userdb lines: name<TAB>field=value|...") {
    auto e = parse_userdb_line("alice\tuid=1000|systempw=$6$x$y|home=/home/alice");
    REQUIRE(e);
    REQUIRE(*e);
    CHECK((*e)->name == "alice");
    auto f = userdb_fields((*e)->fields);
    CHECK(f["uid"] == "1000");
    CHECK(f["systempw"] == "$6$x$y");
    CHECK(f["home"] == "/home/alice");
    CHECK(f.count("x") == 0);
    auto blank = parse_userdb_line("   ");
    REQUIRE(blank);
    CHECK_FALSE(*blank);
    auto comment = parse_userdb_line("# a comment");
    REQUIRE(comment);
    CHECK_FALSE(*comment);
    CHECK_FALSE(parse_userdb_line("alice uid=1"));
    CHECK_FALSE(parse_userdb_line("\tuid=1"));
    CHECK_FALSE(parse_userdb_line("alice\tuid"));
    CHECK_FALSE(parse_userdb_line("alice\tuid=1|=2"));
    CHECK_FALSE(parse_userdb_line("al ice\tuid=1"));
}

TEST_CASE("hash_password makes SHA-512 crypt hashes that check_crypt accepts") {
    auto h = hash_password("s3cret");
    REQUIRE(h);
    CHECK(h->rfind("$6$", 0) == 0);
    CHECK(check_crypt("s3cret", *h));
    CHECK_FALSE(check_crypt("s3cret ", *h));
    CHECK_FALSE(check_crypt("s3cret", ""));
    CHECK_FALSE(check_crypt("s3cret", "!locked"));
    CHECK(*hash_password("s3cret") != *h);   // a new salt each time
}

TEST_CASE("build_userdb and UserDbBackend") {
    char tmpl[] = "/tmp/userdb_test.XXXXXX";
    std::string dir = ::mkdtemp(tmpl);
    auto h = hash_password("pw1");
    REQUIRE(h);
    std::string text = "# accounts\nalice\tsystempw=" + *h + "|crammd5pw=" + base64_encode("cramsecret") +
                       "\nbob\tuid=5\n";
    REQUIRE(write_file_durably(dir, "userdb", text, 0600));
    unsigned count = 0;
    REQUIRE(build_userdb(dir + "/userdb", dir + "/userdb.dat", &count));
    CHECK(count == 2);
    UserDbBackend db(dir + "/userdb.dat");
    using V = AuthBackend::Verdict;
    CHECK(db.check_password("alice", "pw1") == V::ok);
    CHECK(db.check_password("alice", "pw2") == V::bad);
    CHECK(db.check_password("bob", "") == V::bad);
    CHECK(db.check_password("nobody", "pw1") == V::bad);
    CHECK(db.cram_secret("alice") == std::optional<std::string>("cramsecret"));
    CHECK_FALSE(db.cram_secret("bob"));
    UserDbBackend missing(dir + "/none.dat");
    CHECK(missing.check_password("alice", "pw1") == V::temporary_failure);

    REQUIRE(write_file_durably(dir, "userdb", "bad line\n", 0600));
    auto bad = build_userdb(dir + "/userdb", dir + "/userdb.dat", &count);
    CHECK_FALSE(bad);
    CHECK(bad.error().text.find(":1:") != std::string::npos);
    CHECK(db.check_password("alice", "pw1") == V::ok);   // the old database stays
    ::unlink((dir + "/userdb").c_str());
    ::unlink((dir + "/userdb.dat").c_str());
    ::rmdir(dir.c_str());
}
