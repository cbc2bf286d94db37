// Unit tests for MTA-STS parsing, pattern matching, HTTP response and cache format (mta_sts.h).
#include <doctest/doctest.h>
#include "esmtp/mta_sts.h"

using namespace mta_sts;

TEST_CASE("the _mta-sts TXT record (RFC 8461 3.1)") {
    CHECK(policy_id({"v=STSv1; id=20160831085700Z;"}) == "20160831085700Z");
    CHECK(policy_id({"v=STSv1;id=abc123"}) == "abc123");
    CHECK(policy_id({"v=spf1 -all", "v=STSv1; id=x1;"}) == "x1");
    CHECK_FALSE(policy_id({"v=STSv1; id=a;", "v=STSv1; id=b;"}));   // two records: none
    CHECK_FALSE(policy_id({"v=STSv1;"}));                            // no id
    CHECK_FALSE(policy_id({"v=STSv1; id=bad-id;"}));                 // id is alphanumeric
    CHECK_FALSE(policy_id({"v=STSv10; id=a;"}));
    CHECK_FALSE(policy_id({}));
}

TEST_CASE("policy parsing (RFC 8461 3.2)") {
    auto p = parse_policy("version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\n"
                          "max_age: 604800\r\nfuture: ignored\r\n");
    REQUIRE(p);
    CHECK(p->mode == Mode::enforce);
    CHECK(p->max_age == 604800);
    CHECK(p->mx == std::vector<std::string>{"mail.example.com", "*.example.net"});
    CHECK(parse_policy("version: STSv1\nmode: none\nmax_age: 86400\n"));   // LF only, no mx for none
    CHECK(parse_policy("version: STSv1\nmode:testing\nmx:   MX.Example.COM.  \nmax_age:1\n")->mx[0] == "mx.example.com");
    CHECK_FALSE(parse_policy("version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n"));
    CHECK_FALSE(parse_policy("version: STSv1\nmode: enforce\nmax_age: 1\n"));              // no mx
    CHECK_FALSE(parse_policy("version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1\n"));
    CHECK_FALSE(parse_policy("version: STSv1\nmode: enforce\nmx: a.example\n"));            // no max_age
    CHECK_FALSE(parse_policy("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557601\n"));
    CHECK_FALSE(parse_policy("mode: enforce\nmx: a.example\nmax_age: 1\n"));                // no version
    auto bad = parse_policy("version: STSv1\nnonsense\n");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().text == "line 2: missing ':'");
}

TEST_CASE("MX patterns (RFC 8461 4.1)") {
    CHECK(mx_pattern_matches("mail.example.com", "MAIL.example.com."));
    CHECK_FALSE(mx_pattern_matches("mail.example.com", "mail2.example.com"));
    CHECK(mx_pattern_matches("*.example.net", "mx1.example.net"));
    CHECK_FALSE(mx_pattern_matches("*.example.net", "example.net"));
    CHECK_FALSE(mx_pattern_matches("*.example.net", "a.b.example.net"));   // one label only
    CHECK_FALSE(mx_pattern_matches("*.example.net", "mx1.example.net.evil"));
    Policy p;
    p.mx = {"a.example", "*.b.example"};
    CHECK(mx_allowed(p, "x.b.example"));
    CHECK_FALSE(mx_allowed(p, "c.example"));
}

TEST_CASE("HTTP responses for the policy fetch") {
    auto r = parse_http_response("HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
                                 "Content-Length: 5\r\n\r\nhelloEXTRA", 100);
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->content_type == "text/plain");
    CHECK(r->body == "hello");
    CHECK(r->framed);
    CHECK_FALSE(parse_http_response("HTTP/1.0 200 OK\r\n\r\nbody", 100)->framed);   // ends at the close
    r = parse_http_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n", 100);
    REQUIRE(r);
    CHECK(r->body == "abcde");
    CHECK(parse_http_response("HTTP/1.0 301 Moved\r\nLocation: https://x/\r\n\r\n", 100)->status == 301);
    CHECK_FALSE(parse_http_response("HTTP/1.0 200 OK\r\n\r\n" + std::string(101, 'x'), 100));   // too large
    CHECK_FALSE(parse_http_response("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort", 100));
    CHECK_FALSE(parse_http_response("garbage", 100));
    CHECK_FALSE(parse_http_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 100));
}

TEST_CASE("cache file round trip and expiry") {
    std::string text = "version: STSv1\nmode: testing\nmx: mx.example\nmax_age: 3600\n";
    auto p = parse_policy(text);
    REQUIRE(p);
    p->id = "id42";
    p->fetched = 1000;
    auto back = parse_cache(format_cache(*p, text));
    REQUIRE(back);
    CHECK(back->id == "id42");
    CHECK(back->fetched == 1000);
    CHECK(back->mode == Mode::testing);
    CHECK_FALSE(back->expired(4599));
    CHECK(back->expired(4600));
    CHECK_FALSE(parse_cache("something else\n\nversion: STSv1\n"));
}
