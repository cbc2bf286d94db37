// Unit tests: control files, vhost overrides, locals matching, intervals, settings.
#include <doctest/doctest.h>
#include <cstdlib>
#include <fstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include "config/config.h"

namespace {
struct TempDir {
    std::string path;
    TempDir() {
        char t[] = "/tmp/cfgtest.XXXXXX";
        path = ::mkdtemp(t);
    }
    ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
    void write(const std::string& name, const std::string& text) const {
        std::ofstream(path + "/" + name) << text;
    }
};
}  // namespace

TEST_CASE("me, defaultdomain and their vhost overrides") {
    TempDir d;
    ConfigDir c(d.path);
    CHECK(c.me() == system_hostname());
    d.write("me", "Mail.Example.COM\nignored\n");
    CHECK(c.me() == "mail.example.com");
    CHECK(c.default_domain() == "mail.example.com");
    d.write("me.192.168.0.1", "relay.example.com\n");
    CHECK(c.me("192.168.0.1") == "relay.example.com");
    CHECK(c.me("192.168.1.1") == "mail.example.com");
    CHECK(c.file_for("ipout", "192.168.0.1") == "ipout");
    d.write("defaultdomain", "example.com\n");
    CHECK(c.default_domain() == "example.com");
    CHECK(c.file_for("me", "../x") == "me");
}

TEST_CASE("locals: default to me, wildcards, exclusions, folders") {
    TempDir d;
    ConfigDir c(d.path);
    d.write("me", "host.example.com\n");
    CHECK(c.is_local_domain("HOST.example.com"));
    CHECK_FALSE(c.is_local_domain("other.example.com"));
    d.write("locals", "# comment\n!host.domain.com\n.domain.com\nexample.org\n");
    CHECK(c.is_local_domain("a.domain.com"));
    CHECK_FALSE(c.is_local_domain("host.domain.com"));
    CHECK_FALSE(c.is_local_domain("domain.com"));
    CHECK(c.is_local_domain("example.org."));
    CHECK_FALSE(c.is_local_domain("host.example.com"));
}

TEST_CASE("list files may be folders of files, concatenated in name order") {
    TempDir d;
    ::mkdir((d.path + "/locals").c_str(), 0755);
    d.write("locals/b", "b.example\n");
    d.write("locals/a", "a.example\n\n");
    d.write("locals/c~", "backup.example\n");
    ConfigDir c(d.path);
    auto l = c.list("locals");
    REQUIRE(l.size() == 2);
    CHECK(l[0] == "a.example");
    CHECK(l[1] == "b.example");
}

TEST_CASE("time intervals in the manual's units") {
    CHECK(parse_interval("300") == 300);
    CHECK(parse_interval("5m") == 300);
    CHECK(parse_interval("1h30m") == 5400);
    CHECK(parse_interval("1w") == 604800);
    CHECK(parse_interval("2d") == 172800);
    CHECK(parse_interval(" 15 m ") == 900);
    CHECK_FALSE(parse_interval(""));
    CHECK_FALSE(parse_interval("5x"));
    CHECK_FALSE(parse_interval("m5"));
    CHECK_FALSE(parse_interval("99999999999999999999"));
}

TEST_CASE("settings files: quoting, comments and errors with file:line") {
    std::vector<std::string> errors;
    Settings s = Settings::parse("# c\nA=1\nB=\"two words\"\nC='x y' # note\nexport D=4\nbad line\nE=a b\n",
                                 &errors, "esmtpd");
    CHECK(s.get_or("A", "") == "1");
    CHECK(s.get_or("B", "") == "two words");
    CHECK(s.get_or("C", "") == "x y");
    CHECK(s.get_long("D", 0) == 4);
    CHECK(s.get_long("A", 0) == 1);
    CHECK(s.get_long("B", 7) == 7);
    REQUIRE(errors.size() == 2);
    CHECK(errors[0] == "esmtpd:6: not a NAME=value line");
    CHECK(errors[1] == "esmtpd:7: not a NAME=value line");
}

TEST_CASE("domain_in_list: wildcards need a label boundary; '!' exclusions; first line decides") {
    std::vector<std::string> l{"!host.domain.com", ".domain.com", "example.org", "!.bad.example.net", ".example.net"};
    CHECK(domain_in_list("a.domain.com", l));
    CHECK_FALSE(domain_in_list("host.domain.com", l));
    CHECK_FALSE(domain_in_list("domain.com", l));      // ".domain.com" is subdomains only
    CHECK_FALSE(domain_in_list("xdomain.com", l));     // no label boundary
    CHECK(domain_in_list("Example.ORG.", l));          // case and trailing dot
    CHECK_FALSE(domain_in_list("x.bad.example.net", l));
    CHECK(domain_in_list("good.example.net", l));
    CHECK(domain_list_match("a.domain.com", l) == 1);
    CHECK(domain_list_match("nowhere.test", l) == -1);
}

TEST_CASE("normalize_domain: one form for case, trailing dot and IDN spellings") {
    CHECK(normalize_domain("Example.COM.") == "example.com");
    CHECK(normalize_domain("[192.0.2.1]") == "[192.0.2.1]");
    // "пример.испытание" as UTF-8, as an A-label and with upper-case Cyrillic.
    std::string u = "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80.\xd0\xb8\xd1\x81\xd0\xbf\xd1\x8b\xd1\x82\xd0\xb0\xd0\xbd\xd0\xb8\xd0\xb5";
    CHECK(normalize_domain(u) == u);
    CHECK(normalize_domain("xn--e1afmkfd.xn--80akhbyknj4f") == u);
    CHECK(normalize_domain("XN--E1AFMKFD.xn--80akhbyknj4f") == u);
    CHECK(normalize_domain("\xd0\x9f\xd0\xa0\xd0\x98\xd0\x9c\xd0\x95\xd0\xa0.\xd0\xb8\xd1\x81\xd0\xbf\xd1\x8b\xd1\x82\xd0\xb0\xd0\xbd\xd0\xb8\xd0\xb5") == u);
    CHECK(domain_in_list("xn--e1afmkfd.xn--80akhbyknj4f", {u}));
}

TEST_CASE("expand_hostname_entry: '*' and '*.example.com' from the system host name") {
    CHECK(expand_hostname_entry("*", "mx1.corp.example") == "mx1.corp.example");
    CHECK(expand_hostname_entry("*.example.com", "mx1.corp.example") == "mx1.example.com");
    CHECK(expand_hostname_entry("!*.example.com", "mx1") == "!mx1.example.com");
    CHECK(expand_hostname_entry(".*.example.com", "mx1.a") == ".mx1.example.com");
    CHECK(expand_hostname_entry("example.com", "mx1") == "example.com");
}

TEST_CASE("read_config_lines: file:line for files and folders") {
    TempDir d;
    d.write("locals", "# c\n\na.example\n  b.example  \n");
    auto l = read_config_lines(d.path + "/locals");
    REQUIRE(l.size() == 2);
    CHECK(l[0].text == "a.example");
    CHECK(l[0].where == "locals:3");
    CHECK(l[1].where == "locals:4");
    ::mkdir((d.path + "/dir").c_str(), 0755);
    d.write("dir/2", "x\n");
    d.write("dir/1", "\ny\n");
    auto f = ConfigDir(d.path).lines("dir");
    REQUIRE(f.size() == 2);
    CHECK(f[0].where == "dir/1:2");
    CHECK(f[1].where == "dir/2:1");
}

TEST_CASE("split_words: any white space separates, none is kept") {
    CHECK(split_words("  a\tbb \n c ") == std::vector<std::string>{"a", "bb", "c"});
    CHECK(split_words("").empty());
    CHECK(split_words(" \t ").empty());
}
