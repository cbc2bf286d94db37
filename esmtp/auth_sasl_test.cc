// Unit tests for esmtp/auth_sasl.h: base64, PLAIN, CRAM-MD5 (RFC 2195 example).
#include <doctest/doctest.h>
#include "esmtp/auth_sasl.h"

using namespace esmtp;

TEST_CASE("base64 round trip and strict decoding") {
    CHECK(base64_encode("") == "");
    CHECK(base64_encode("a") == "YQ==");
    CHECK(base64_encode(std::string("\0u\0p", 4)) == "AHUAcA==");
    CHECK(base64_decode("YQ==") == std::optional<std::string>("a"));
    CHECK(base64_decode("YWI=") == std::optional<std::string>("ab"));
    CHECK(base64_decode("YWJj") == std::optional<std::string>("abc"));
    CHECK(base64_decode("") == std::optional<std::string>(""));
    CHECK_FALSE(base64_decode("YQ"));
    CHECK_FALSE(base64_decode("Y=Q="));
    CHECK_FALSE(base64_decode("YQ=*"));
    CHECK_FALSE(base64_decode("YW Jj"));
}

TEST_CASE("PLAIN: authzid must be empty or the user") {
    auto c = parse_plain(std::string("\0tim\0tanstaaftanstaaf", 21));
    REQUIRE(c);
    CHECK(c->user == "tim");
    CHECK(c->password == "tanstaaftanstaaf");
    CHECK(parse_plain(std::string("tim\0tim\0pw", 10)));
    CHECK_FALSE(parse_plain(std::string("admin\0tim\0pw", 12)));
    CHECK_FALSE(parse_plain(std::string("\0tim\0", 5)));
    CHECK_FALSE(parse_plain(std::string("\0\0pw", 4)));
    CHECK_FALSE(parse_plain("no nuls"));
    CHECK_FALSE(parse_plain(std::string("\0a\0b\0c", 6)));
}

TEST_CASE("CRAM-MD5: RFC 2195 example") {
    const std::string challenge = "<1896.697170952@postoffice.reston.mci.net>";
    CHECK(hmac_md5_hex("tanstaaftanstaaf", challenge) == "b913a602c7eda7a495b4e6e7334d3890");
    auto r = parse_cram_response("tim b913a602c7eda7a495b4e6e7334d3890");
    REQUIRE(r);
    CHECK(r->user == "tim");
    CHECK(r->digest == "b913a602c7eda7a495b4e6e7334d3890");
    CHECK(parse_cram_response("tim B913A602C7EDA7A495B4E6E7334D3890")->digest == r->digest);
    CHECK_FALSE(parse_cram_response("tim b913"));
    CHECK_FALSE(parse_cram_response("b913a602c7eda7a495b4e6e7334d3890"));
    CHECK_FALSE(parse_cram_response("tim x913a602c7eda7a495b4e6e7334d3890"));
    std::string c = cram_challenge("mx.test");
    CHECK(c.front() == '<');
    CHECK(c.find("@mx.test>") != std::string::npos);
    CHECK(c != cram_challenge("mx.test"));
}

TEST_CASE("constant_time_equal") {
    CHECK(constant_time_equal("abc", "abc"));
    CHECK_FALSE(constant_time_equal("abc", "abd"));
    CHECK_FALSE(constant_time_equal("abc", "ab"));
}
