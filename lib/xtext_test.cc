// Unit tests: xtext round trips and rejection of malformed input.
#include <doctest/doctest.h>
#include "lib/xtext.h"

TEST_CASE("xtext encodes space, plus, equals and controls") {
    CHECK(xtext_encode("a b") == "a+20b");
    CHECK(xtext_encode("x+y=z") == "x+2By+3Dz");
    CHECK(xtext_encode("\r\n") == "+0D+0A");
    CHECK(xtext_encode("") == "");
    CHECK(xtext_encode("user@example.com") == "user@example.com");
}

TEST_CASE("xtext decode inverts encode for every byte") {
    std::string all;
    for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
    auto d = xtext_decode(xtext_encode(all));
    REQUIRE(d);
    CHECK(*d == all);
}

TEST_CASE("xtext decode rejects malformed input") {
    CHECK_FALSE(xtext_decode("a+2"));
    CHECK_FALSE(xtext_decode("a+"));
    CHECK_FALSE(xtext_decode("a+zz"));
    CHECK_FALSE(xtext_decode("a b"));
    CHECK_FALSE(xtext_decode("a=b"));
    CHECK(xtext_decode("a+2b") == std::optional<std::string>("a+"));
}
