// Unit tests: hosteddomains and esmtpacceptmailfor compiling and lookups, IDN and
// hostname-dependent entries.
#include <doctest/doctest.h>
#include "submit/accepted_domains.h"

using namespace submit;

namespace {
std::vector<ConfigLine> lines(std::initializer_list<const char*> texts, const char* file) {
    std::vector<ConfigLine> out;
    int n = 0;
    for (const char* t : texts) out.push_back({t, std::string(file) + ":" + std::to_string(++n)});
    return out;
}
}  // namespace

TEST_CASE("compile_hosteddomains: domains, aliases, hostname entries, bad lines") {
    auto c = compile_hosteddomains(lines({"Hosted.Example", "alias.example\thosted.example", "*.corp.example",
                                          "bad..domain", "dangling.example other.example", "a b c"},
                                         "hosteddomains"),
                                   "mx7.somewhere");
    CHECK(c.table.at("hosted.example") == "\thosteddomains:1");
    CHECK(c.table.at("alias.example") == "hosted.example\thosteddomains:2");
    CHECK(c.table.count("mx7.corp.example"));
    REQUIRE(c.errors.size() == 3);
    CHECK(c.errors[0].rfind("hosteddomains:4: ", 0) == 0);
    CHECK(c.errors[1].rfind("hosteddomains:6: ", 0) == 0);
    CHECK(c.errors[2].rfind("hosteddomains:5: ", 0) == 0);   // alias of nothing hosted
    auto get = [&](std::string_view k) -> std::optional<std::string> {
        auto it = c.table.find(std::string(k));
        if (it == c.table.end()) return std::nullopt;
        return it->second;
    };
    CHECK(hosted_lookup("alias.example", get)->domain == "hosted.example");
    CHECK(hosted_lookup("hosted.example", get)->where == "hosteddomains:1");
    CHECK_FALSE(hosted_lookup("sub.hosted.example", get));
}

TEST_CASE("compile_acceptmailfor and acceptmailfor_lookup: exact, wildcard, exclusion") {
    auto c = compile_acceptmailfor(lines({"backup.example", ".wild.example", "!no.wild.example", "x y"}, "d/f"), "h");
    REQUIRE(c.errors.size() == 1);
    CHECK(c.errors[0].rfind("d/f:4: ", 0) == 0);
    auto get = [&](std::string_view k) -> std::optional<std::string> {
        auto it = c.table.find(std::string(k));
        if (it == c.table.end()) return std::nullopt;
        return it->second;
    };
    CHECK(acceptmailfor_lookup("backup.example", get)->first);
    CHECK(acceptmailfor_lookup("a.wild.example", get)->second == "d/f:2");
    CHECK_FALSE(acceptmailfor_lookup("no.wild.example", get)->first);
    CHECK_FALSE(acceptmailfor_lookup("wild.example", get));
    CHECK_FALSE(acceptmailfor_lookup("other.example", get));
}

TEST_CASE("AcceptedDomains: locals, hosted, esmtpacceptmailfor, IDN in either spelling") {
    // "пример.испытание"
    std::string idn = "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80.\xd0\xb8\xd1\x81\xd0\xbf\xd1\x8b\xd1\x82\xd0\xb0\xd0\xbd\xd0\xb8\xd0\xb5";
    auto a = AcceptedDomains::from_lines(lines({"!mx.example.com", ".example.com", "*"}, "locals"),
                                         {{idn, "hosteddomains:1"}},
                                         lines({"relay.example", "!x.relay2.example", ".relay2.example"}, "esmtpacceptmailfor"),
                                         "thishost.example.org");
    CHECK(a.local("www.example.com") == "locals:2");
    CHECK_FALSE(a.local("mx.example.com"));
    CHECK(a.local("ThisHost.Example.ORG") == "locals:3");
    CHECK(a.hosted("xn--e1afmkfd.xn--80akhbyknj4f")->where == "hosteddomains:1");
    CHECK(a.hosted(idn));
    CHECK(a.accepted("RELAY.example.") == "esmtpacceptmailfor:1");
    CHECK(a.accepted("y.relay2.example") == "esmtpacceptmailfor:3");
    CHECK_FALSE(a.accepted("x.relay2.example"));
    CHECK_FALSE(a.accepted("[192.0.2.1]"));
}
