#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cstdlib>
#include <fstream>
#include "courierd/config_check.h"

namespace {
// A throwaway configuration folder, removed at the end of the test.
struct TempConfig {
    std::string dir;
    TempConfig() {
        char tmpl[] = "/tmp/config-check-XXXXXX";
        dir = mkdtemp(tmpl);
    }
    ~TempConfig() { std::system(("rm -rf " + dir).c_str()); }
    void write(const std::string& name, const std::string& text) {
        std::ofstream(dir + "/" + name) << text;
    }
};

bool has(const ConfigFindings& f, const std::string& where, const std::string& text) {
    for (const auto& x : f)
        if (x.where == where && x.text.find(text) != std::string::npos) return true;
    return false;
}
}  // namespace

TEST_CASE("domain_entry_problem") {
    CHECK(!domain_entry_problem("example.com"));
    CHECK(!domain_entry_problem(".example.com"));
    CHECK(!domain_entry_problem("!mail.example.com"));
    CHECK(domain_entry_problem("user@example.com"));
    CHECK(domain_entry_problem("exa mple.com"));
    CHECK(domain_entry_problem("example..com"));
    CHECK(domain_entry_problem("!"));
}

TEST_CASE("interval_problem and count_problem") {
    CHECK(!interval_problem("5m", false));
    CHECK(!interval_problem("1h30m", false));
    CHECK(interval_problem("0", false));
    CHECK(!interval_problem("0", true));
    CHECK(interval_problem("5 minutes", true));
    CHECK(!count_problem("10", 1, 100));
    CHECK(count_problem("0", 1, 100));
    CHECK(count_problem("101", 1, 100));
    CHECK(count_problem("ten", 1, 100));
    CHECK(count_problem("", 0, 100));
}

TEST_CASE("relations between settings") {
    // courier(8): esmtpdelay should not be greater than retryalpha.
    CHECK(!esmtpdelay_problem(300, 300));
    CHECK(esmtpdelay_problem(600, 300));
    CHECK(!esmtpdelay_problem(0, 60));
    CHECK(!queue_limits_problem(200, 400));
    CHECK(queue_limits_problem(500, 400));
    CHECK(!warntime_problem(3600, 86400));
    CHECK(warntime_problem(86400, 86400));
}

TEST_CASE("domains_not_accepted") {
    std::vector<std::string> accept{"example.com", ".example.net"};
    CHECK(domains_not_accepted({"example.com", "a.example.net"}, accept).empty());
    CHECK(domains_not_accepted({"example.org", ".wild.org", "!x.org"}, accept) ==
          std::vector<std::string>{"example.org"});
}

TEST_CASE("readable_by") {
    struct stat st = {};
    st.st_uid = 100;
    st.st_gid = 200;
    st.st_mode = S_IFREG | 0600;
    CHECK(readable_by(st, 100, 1));
    CHECK(!readable_by(st, 101, 200));
    CHECK(readable_by(st, 0, 0));
    st.st_mode = S_IFREG | 0640;
    CHECK(readable_by(st, 101, 200));
    st.st_mode = S_IFREG | 0004;
    CHECK(!readable_by(st, 100, 1));   // the owner bits decide for the owner
    CHECK(readable_by(st, 5, 5));
}

TEST_CASE("dns_server_problem") {
    CHECK(!dns_server_problem("127.0.0.1"));
    CHECK(!dns_server_problem("::1@5353"));
    CHECK(dns_server_problem("ns.example.com"));
    CHECK(dns_server_problem("127.0.0.1@0"));
}

TEST_CASE("check_configuration reports file:line") {
    TempConfig t;
    t.write("locals", "# local domains\nexample.com\n\nbad domain\n");
    t.write("queuelo", "500\n");
    t.write("queuehi", "400\n");
    t.write("retryalpha", "5 minutes\n");
    t.write("esmtproutes", "example.org [10.0.0.1]\n");
    t.write("courierd", "DEFAULTDELIVERY=./Maildir\nnot a setting\n");
    ConfigFindings f = check_configuration(ConfigDir(t.dir));
    CHECK(has(f, t.dir + "/locals:4", "character ' '"));
    CHECK(has(f, t.dir + "/retryalpha:1", "not an interval"));
    CHECK(has(f, t.dir + "/queuehi", "queuelo (500) is above queuehi (400)"));
    CHECK(has(f, t.dir + "/esmtproutes:1", ""));
    CHECK(has(f, t.dir + "/courierd:2", "NAME=value"));
    CHECK(count_errors(f) == 4);
    CHECK(format_finding(f[0]).find(": error: ") != std::string::npos);
}

TEST_CASE("check_configuration: DKIM, DMARC and MTA-STS files") {
    TempConfig t;
    t.write("dkimsettings", "DKIM_VERIFY=1\nDKIM_VERIFY_MAX=500\n");
    t.write("dmarcpolicy", "discard\n");
    t.write("mtastsport", "70000\n");
    mkdir((t.dir + "/dkim").c_str(), 0755);
    mkdir((t.dir + "/dkim/example.com").c_str(), 0755);
    t.write("dkim/example.com/s1.private", "not a PEM key\n");
    t.write("dkim/example.com/notes.txt", "ignored: not a .private file\n");
    ConfigFindings f = check_configuration(ConfigDir(t.dir));
    CHECK(has(f, t.dir + "/dkimsettings:2", "DKIM_VERIFY_MAX"));
    CHECK(has(f, t.dir + "/dmarcpolicy:1", "not none, quarantine or reject"));
    CHECK(has(f, t.dir + "/mtastsport:1", "out of range"));
    CHECK(has(f, t.dir + "/dkim/example.com/s1.private", "not a usable DKIM key"));
    CHECK(count_errors(f) == 4);
}

TEST_CASE("numbered_lines of a folder") {
    TempConfig t;
    mkdir((t.dir + "/locals").c_str(), 0755);
    t.write("locals/b", "b.example\n");
    t.write("locals/a", "\n# c\na.example\n");
    t.write("locals/a~", "backup.example\n");
    auto lines = numbered_lines(ConfigDir(t.dir), "locals");
    REQUIRE(lines.size() == 2);
    CHECK(lines[0].where == t.dir + "/locals/a:3");
    CHECK(lines[0].text == "a.example");
    CHECK(lines[1].where == t.dir + "/locals/b:1");
}
