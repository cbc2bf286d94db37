// Unit tests for RFC 5322 header fields and address lists.
#include <doctest/doctest.h>
#include "lib/rfc5322.h"

TEST_CASE("header block: fields, unfolding, case-insensitive names") {
    auto f = parse_header_block("To: a@example.com,\n  b@example.com\nSubject: hi\r\nX-Empty:\n");
    REQUIRE(f.size() == 3);
    CHECK(f[0].name == "To");
    CHECK(f[0].value == "a@example.com, b@example.com");
    CHECK(f[0].raw == "To: a@example.com,\n  b@example.com\n");
    CHECK(f[1].value == "hi");
    CHECK(header_name_is(f[1], "subject"));
    CHECK(f[2].value.empty());
    auto junk = parse_header_block("not a header line\n");
    REQUIRE(junk.size() == 1);
    CHECK(junk[0].name.empty());
}

TEST_CASE("address lists: display names, comments, quotes, groups") {
    using V = std::vector<std::string>;
    CHECK(parse_address_list("a@example.com") == V{"a@example.com"});
    CHECK(parse_address_list("Alice <alice@example.com>, bob@example.org (Bob)") ==
          V{"alice@example.com", "bob@example.org"});
    CHECK(parse_address_list("\"Doe, John\" <john@example.com>") == V{"john@example.com"});
    CHECK(parse_address_list("friends: a@x.example, b@y.example;, c@z.example") ==
          V{"a@x.example", "b@y.example", "c@z.example"});
    CHECK(parse_address_list("undisclosed-recipients:;") == V{});
    CHECK(parse_address_list("root") == V{"root"});
    CHECK(parse_address_list("<@route.example:u@example.com>") == V{"u@example.com"});
    CHECK(parse_address_list("a@b.example (comment (nested) x), ,") == V{"a@b.example"});
}
