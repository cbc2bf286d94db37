// Unit tests for recipient routing: local accounts, locals, locallowercase, relaying.
#include <doctest/doctest.h>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include "submit/recipients.h"

using namespace submit;

namespace {
bool fake_accounts(const std::string& a) { return a == "alice" || a == "Bob"; }

struct ConfigFolder {
    std::string dir;
    ConfigFolder() {
        char tmpl[] = "/tmp/submit-rc-XXXXXX";
        dir = mkdtemp(tmpl);
        put("me", "mx.example.com\n");
        put("locals", "example.com\n!no.sub.example.com\n.sub.example.com\n");
    }
    ~ConfigFolder() { std::filesystem::remove_all(dir); }
    void put(const std::string& name, const std::string& text) const {
        std::ofstream(dir + "/" + name) << text;
    }
};
}  // namespace

TEST_CASE("routing: local domains, default domain and unknown users") {
    ConfigFolder f;
    f.put("defaultdomain", "Example.COM\n");
    ConfigDir cfg(f.dir);
    VhostConfig vc = VhostConfig::load(cfg, "");
    CHECK(vc.me == "mx.example.com");
    CHECK(vc.default_domain == "example.com");
    CHECK_FALSE(vc.lowercase_local);

    RouteDecision d = route_recipient("alice@EXAMPLE.com", vc, false, fake_accounts);
    REQUIRE(d.rcpt);
    CHECK(d.reply.code == 250);
    CHECK(d.reply.text == "2.1.5 Ok");
    CHECK(d.rcpt->module == "local");
    CHECK(d.rcpt->host == "alice");
    CHECK(d.rcpt->address == "alice@example.com");

    d = route_recipient("alice", vc, false, fake_accounts);
    REQUIRE(d.rcpt);
    CHECK(d.rcpt->address == "alice@example.com");

    d = route_recipient("alice@x.sub.example.com", vc, false, fake_accounts);
    REQUIRE(d.rcpt);
    CHECK(d.rcpt->module == "local");

    d = route_recipient("carol@example.com", vc, true, fake_accounts);
    CHECK_FALSE(d.rcpt);
    CHECK(d.reply.code == 550);
    CHECK(d.reply.text == "5.1.1 <carol@example.com>: unknown user");

    // Without locallowercase the case of the local part is the account's.
    CHECK_FALSE(route_recipient("ALICE@example.com", vc, false, fake_accounts).rcpt);
    CHECK(route_recipient("Bob@example.com", vc, false, fake_accounts).rcpt);
}

TEST_CASE("routing: locallowercase") {
    ConfigFolder f;
    f.put("locallowercase", "");
    VhostConfig vc = VhostConfig::load(ConfigDir(f.dir), "");
    CHECK(vc.lowercase_local);
    RouteDecision d = route_recipient("ALICE@example.com", vc, false, fake_accounts);
    REQUIRE(d.rcpt);
    CHECK(d.rcpt->host == "alice");
    CHECK(d.rcpt->address == "alice@example.com");
    CHECK_FALSE(route_recipient("Bob@example.com", vc, false, fake_accounts).rcpt);
}

TEST_CASE("routing: remote domains and relaying") {
    ConfigFolder f;
    VhostConfig vc = VhostConfig::load(ConfigDir(f.dir), "");
    RouteDecision d = route_recipient("Someone@Remote.ORG", vc, false, fake_accounts);
    CHECK_FALSE(d.rcpt);
    CHECK(d.reply.code == 550);
    CHECK(d.reply.text == "5.7.1 Relaying denied");
    d = route_recipient("Someone@Remote.ORG", vc, true, fake_accounts);
    REQUIRE(d.rcpt);
    CHECK(d.rcpt->module == "esmtp");
    CHECK(d.rcpt->host == "remote.org");
    CHECK(d.rcpt->address == "Someone@remote.org");   // the local part keeps its case
    // Excluded from the wildcard: remote.
    d = route_recipient("alice@no.sub.example.com", vc, true, fake_accounts);
    REQUIRE(d.rcpt);
    CHECK(d.rcpt->module == "esmtp");
}

TEST_CASE("routing: bad syntax") {
    ConfigFolder f;
    VhostConfig vc = VhostConfig::load(ConfigDir(f.dir), "");
    for (const char* bad : {"", "@example.com", "a@@b", "a@-bad-.com"}) {
        CAPTURE(bad);
        RouteDecision d = route_recipient(bad, vc, true, fake_accounts);
        CHECK_FALSE(d.rcpt);
        CHECK(d.reply.code == 501);
    }
}

TEST_CASE("routing: the per-vhost cache reads locals of the vhost") {
    ConfigFolder f;
    f.put("locals.192.0.2.1", "other.test\n");
    ConfigDir cfg(f.dir);
    VhostConfigCache cache(cfg);
    CHECK(route_recipient("alice@other.test", cache.get("192.0.2.1"), false, fake_accounts).rcpt);
    CHECK_FALSE(route_recipient("alice@other.test", cache.get(""), false, fake_accounts).rcpt);
    CHECK(&cache.get("") == &cache.get(""));
}

TEST_CASE("system accounts: root exists, path-like names never reach getpwnam") {
    CHECK(system_account_exists("root"));
    CHECK_FALSE(system_account_exists("no-such-user-xyzzy"));
    CHECK_FALSE(system_account_exists("../root"));
    CHECK_FALSE(system_account_exists(""));
}

namespace {
bool ext_accounts(const std::string& a) { return a == "alice" || a == "list-owner" || a == "bob"; }
}  // namespace

TEST_CASE("routing: address extensions go to the longest account prefix") {
    CHECK(account_for_local_part("alice", ext_accounts) == "alice");
    CHECK(account_for_local_part("alice-ext", ext_accounts) == "alice");
    CHECK(account_for_local_part("alice-foo-bar", ext_accounts) == "alice");
    CHECK(account_for_local_part("list-owner-x", ext_accounts) == "list-owner");
    CHECK(account_for_local_part("list-other", ext_accounts) == std::nullopt);
    CHECK(account_for_local_part("-alice", ext_accounts) == std::nullopt);
    CHECK(account_for_local_part("carol-x", ext_accounts) == std::nullopt);
    CHECK(account_for_local_part("", ext_accounts) == std::nullopt);

    ConfigFolder f;
    ConfigDir cfg(f.dir);
    VhostConfig vc = VhostConfig::load(cfg, "");
    RouteDecision d = route_recipient("alice-Foo-bar@example.com", vc, false, ext_accounts);
    REQUIRE(d.rcpt);
    CHECK(d.rcpt->module == "local");
    CHECK(d.rcpt->host == "alice");
    CHECK(d.rcpt->address == "alice-Foo-bar@example.com");
    d = route_recipient("carol-x@example.com", vc, false, ext_accounts);
    CHECK_FALSE(d.rcpt);
    CHECK(d.reply.text == "5.1.1 <carol-x@example.com>: unknown user");
    // Hosted domains have no extensions: their accounts are "user@domain".
    f.put("hosteddomains", "hosted.example\n");
    vc = VhostConfig::load(cfg, "");
    CHECK_FALSE(route_recipient("alice-x@hosted.example", vc, false, ext_accounts).rcpt);
}

TEST_CASE("sizelimit values: bytes, 0 for none, the default for junk") {
    CHECK(submit::parse_size_limit("3000") == 3000);
    CHECK(submit::parse_size_limit("0") == 0);
    CHECK(submit::parse_size_limit("") == 10485760);
    CHECK(submit::parse_size_limit("12k") == 10485760);
    CHECK(submit::parse_size_limit("9999999999999999999") == 10485760);
}
