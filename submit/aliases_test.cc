// Unit tests for alias compilation: multiple recipients, nesting, loops, :include:.
#include <doctest/doctest.h>
#include <map>
#include "submit/aliases.h"

using namespace submit;

namespace {
bool local(std::string_view d) { return d == "example.com"; }

CompiledAliases compile(const std::string& text, std::map<std::string, std::string> includes = {}) {
    auto inc = [includes](const std::string& p, std::string* why) -> std::optional<std::string> {
        auto it = includes.find(p);
        if (it == includes.end()) {
            *why = "No such file or directory";
            return std::nullopt;
        }
        return it->second;
    };
    return compile_aliases({AliasFile{"aliases", text}}, inc, local);
}
using V = std::vector<std::string>;
}  // namespace

TEST_CASE("aliases: several recipients, continuation lines, comments, case") {
    auto c = compile("# comment\nStaff: alice, bob@example.com,\n  carol@other.example\n\nstaff: dave\n");
    CHECK(c.errors.empty());
    CHECK(c.table["staff"] == V{"alice", "bob@example.com", "carol@other.example", "dave"});
}

TEST_CASE("aliases: nested aliases expand completely, duplicates once, local domain dropped") {
    auto c = compile("all: team@example.com, ops\nteam: alice, bob\nops: bob, carol\n");
    CHECK(c.errors.empty());
    CHECK(c.table["all"] == V{"alice", "bob", "carol"});
    CHECK(c.table["team"] == V{"alice", "bob"});
}

TEST_CASE("aliases: a name in its own list is the mailbox; a loop is an error at file:line") {
    auto self = compile("root: root, alice\n");
    CHECK(self.errors.empty());
    CHECK(self.table["root"] == V{"root", "alice"});
    auto loop = compile("a: b\nb: c\nc: a, alice\n");
    REQUIRE(loop.errors.size() == 1);
    CHECK(loop.errors[0].find("alias loop: ") != std::string::npos);
    CHECK(loop.errors[0].rfind("aliases:", 0) == 0);
}

TEST_CASE("aliases: :include: lists, and the errors reported with file:line") {
    auto c = compile("list: :include:/etc/list, alice\n", {{"/etc/list", "# members\nbob, carol\n\ndave@x.example\n"}});
    CHECK(c.errors.empty());
    CHECK(c.table["list"] == V{"bob", "carol", "dave@x.example", "alice"});
    auto bad = compile("a: :include:/missing\nb: |/bin/prog\nc d: x\nno colon here\nd: :include:rel\n");
    REQUIRE(bad.errors.size() == 5);
    CHECK(bad.errors[0].rfind("aliases:1: /missing: ", 0) == 0);
    CHECK(bad.errors[1].rfind("aliases:2: ", 0) == 0);
    CHECK(bad.errors[2] == "aliases:3: bad alias name \"c d\"");
    CHECK(bad.errors[3].rfind("aliases:4: ", 0) == 0);
    CHECK(bad.errors[4] == "aliases:5: :include: needs an absolute path");
}

TEST_CASE("alias keys and values") {
    CHECK(alias_key("Info@Example.COM", local) == "info");
    CHECK(alias_key("info@hosted.example", local) == "info@hosted.example");
    CHECK(alias_key("", local).empty());
    CHECK(decode_alias_value(encode_alias_value({"a", "b@c"})) == V{"a", "b@c"});
}
