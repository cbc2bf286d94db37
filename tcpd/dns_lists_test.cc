// Unit tests for couriertcpd's DNS access lists (-block, -allow, -drop) and the
// forward-confirmed reverse lookup (TCPREMOTEHOST).
#include <doctest/doctest.h>

#include <map>
#include <string>

#include "tcpd/dns_lists.h"

using namespace tcpd;

namespace {

dns::Answer<std::string> answer(std::vector<std::string> recs) {
    dns::Answer<std::string> a;
    a.outcome = recs.empty() ? dns::Outcome::nxdomain : dns::Outcome::ok;
    a.records = std::move(recs);
    return a;
}

dns::Answer<std::string> tempfail() {
    dns::Answer<std::string> a;
    a.outcome = dns::Outcome::tempfail;
    a.error = "timeout";
    return a;
}

// A fake zone: name -> A records, name -> TXT; counts the queries made.
struct FakeDns {
    std::map<std::string, std::vector<std::string>> a, txt;
    std::vector<std::string> queries;
    bool fail = false;
    DnsListResolver resolver() {
        return DnsListResolver{
            [this](const std::string& n) {
                queries.push_back("A " + n);
                return fail ? tempfail() : answer(a[n]);
            },
            [this](const std::string& n) {
                queries.push_back("TXT " + n);
                return fail ? tempfail() : answer(txt[n]);
            }};
    }
};

DnsList list(const char* v, bool allow) {
    auto l = parse_dns_list(v, allow);
    REQUIRE_MESSAGE(l, v);
    return *l;
}

std::map<std::string, std::string> as_map(const EnvVars& v) { return {v.begin(), v.end()}; }

const auto no_warn = [](const std::string&) {};

}  // namespace

TEST_CASE("dns list options: every syntax form") {
    auto b = list("dnsbl.example.com", false);
    CHECK(b.zone == "dnsbl.example.com");
    CHECK(b.display_zone == "dnsbl.example.com");
    CHECK(b.var == "BLOCK");
    CHECK_FALSE(b.match_ip);
    CHECK_FALSE(b.message);
    CHECK(b.wants_a());
    CHECK(b.wants_txt());
    auto d = list("dnswl.example.com=Our Whitelist", true);
    CHECK(d.display_zone == "Our Whitelist");
    CHECK(d.wants_a());
    CHECK_FALSE(d.wants_txt());
    auto v = list("dnswl.example.com,BLOCK2", true);
    CHECK(v.var == "BLOCK2");
    auto ip = list("dnsbl.example.com/127.0.0.2", false);
    CHECK(ip.zone == "dnsbl.example.com");
    CHECK(ip.match_ip == "127.0.0.2");
    CHECK(ip.var == "BLOCK");
    auto vip = list("dnsbl.example.com,BLOCK/127.0.0.2,Go away", false);
    CHECK(vip.var == "BLOCK");
    CHECK(vip.match_ip == "127.0.0.2");
    CHECK(vip.message == "Go away");
    CHECK(vip.wants_a());
    CHECK_FALSE(vip.wants_txt());
    auto msg = list("dnsbl.example.com,BLOCK,Go away, now", false);
    CHECK(msg.message == "Go away, now");
    CHECK_FALSE(msg.wants_txt());
    auto star = list("dnsbl.example.com,BLOCK,*", false);
    CHECK_FALSE(star.wants_a());
    CHECK(star.wants_txt());
    auto allow_txt = list("dnswl.example.com,BLOCK,", true);
    CHECK(allow_txt.message == "");
    CHECK(allow_txt.wants_txt());
    auto empty_var = list("dnsbl.example.com,/127.0.0.3", false);
    CHECK(empty_var.var == "BLOCK");
    CHECK(empty_var.match_ip == "127.0.0.3");
    CHECK_FALSE(parse_dns_list("", false));
    CHECK_FALSE(parse_dns_list("bad zone", false));
    CHECK_FALSE(parse_dns_list("z.example,1VAR", false));
    CHECK_FALSE(parse_dns_list("z.example,BLOCK/999.1.1.1", false));
    CHECK_FALSE(parse_dns_list("z.example,BLOCK/127.0.0.2,*", false));
}

TEST_CASE("dns list query names: IPv4 reversed, IPv6 nibbles") {
    CHECK(dns_list_query("192.0.2.99", "bl.example") == "99.2.0.192.bl.example");
    CHECK(dns_list_query("2001:db8::1", "bl.example") ==
          "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.example");
    CHECK_FALSE(dns_list_query("nonsense", "bl.example"));
}

TEST_CASE("block: A hit gives TXT or the default message and the _IP/_TXT/_ZONE variables") {
    FakeDns dns;
    dns.a["2.0.0.127.bl.example"] = {"127.0.0.2"};
    dns.txt["2.0.0.127.bl.example"] = {"listed: see url"};
    dns.a["3.0.0.127.bl.example"] = {"127.0.0.4"};
    auto env = as_map(evaluate_dns_lists({list("bl.example", false)}, "127.0.0.2", {},
                                         dns.resolver(), no_warn));
    CHECK(env["BLOCK"] == "listed: see url");
    CHECK(env["BLOCK_IP"] == "127.0.0.2");
    CHECK(env["BLOCK_TXT"] == "listed: see url");
    CHECK(env["BLOCK_ZONE"] == "bl.example");
    auto env3 = as_map(evaluate_dns_lists({list("bl.example=Display", false)}, "127.0.0.3", {},
                                          dns.resolver(), no_warn));
    CHECK(env3["BLOCK"] == default_block_message("127.0.0.3", "Display"));
    CHECK(env3["BLOCK_ZONE"] == "Display");
    CHECK_FALSE(env3.count("BLOCK_TXT"));
    CHECK(evaluate_dns_lists({list("bl.example", false)}, "127.0.0.9", {}, dns.resolver(),
                             no_warn).empty());
}

TEST_CASE("block: /ip needs that A record; custom message; '*' is a TXT-only query") {
    FakeDns dns;
    dns.a["3.0.0.127.bl.example"] = {"127.0.0.4"};
    dns.txt["3.0.0.127.bl.example"] = {"text"};
    CHECK(evaluate_dns_lists({list("bl.example,BLOCK/127.0.0.2", false)}, "127.0.0.3", {},
                             dns.resolver(), no_warn).empty());
    auto m = as_map(evaluate_dns_lists({list("bl.example,BLOCK/127.0.0.4,Go away", false)},
                                       "127.0.0.3", {}, dns.resolver(), no_warn));
    CHECK(m["BLOCK"] == "Go away");
    CHECK(m["BLOCK_IP"] == "127.0.0.4");
    dns.queries.clear();
    auto s = as_map(evaluate_dns_lists({list("bl.example,MYVAR,*", false)}, "127.0.0.3", {},
                                       dns.resolver(), no_warn));
    CHECK(s["MYVAR"] == "text");
    CHECK(s["MYVAR_TXT"] == "text");
    CHECK(s["MYVAR_ZONE"] == "bl.example");
    CHECK(dns.queries == std::vector<std::string>{"TXT 3.0.0.127.bl.example"});
}

TEST_CASE("allow: empty value; TXT only when the message parameter is given") {
    FakeDns dns;
    dns.a["5.0.0.127.wl.example"] = {"127.0.0.2"};
    dns.txt["5.0.0.127.wl.example"] = {"good"};
    auto e = as_map(evaluate_dns_lists({list("wl.example", true)}, "127.0.0.5", {},
                                       dns.resolver(), no_warn));
    CHECK(e.at("BLOCK") == "");
    CHECK(e["BLOCK_IP"] == "127.0.0.2");
    CHECK_FALSE(e.count("BLOCK_TXT"));
    CHECK(dns.queries == std::vector<std::string>{"A 5.0.0.127.wl.example"});
    auto t = as_map(evaluate_dns_lists({list("wl.example,BLOCK,", true)}, "127.0.0.5", {},
                                       dns.resolver(), no_warn));
    CHECK(t["BLOCK_TXT"] == "good");
}

TEST_CASE("several lists: order and the skip-if-set rule") {
    FakeDns dns;
    dns.a["7.0.0.127.wl.example"] = {"127.0.0.2"};
    dns.a["7.0.0.127.bl.example"] = {"127.0.0.2"};
    dns.a["7.0.0.127.bl2.example"] = {"127.0.0.2"};
    std::vector<DnsList> lists = {list("wl.example", true), list("bl.example,BLOCK,no", false),
                                  list("bl2.example,OTHER,other", false)};
    auto e = as_map(evaluate_dns_lists(lists, "127.0.0.7", {}, dns.resolver(), no_warn));
    CHECK(e["BLOCK"] == "");                  // the whitelist came first
    CHECK(e["BLOCK_ZONE"] == "wl.example");
    CHECK(e["OTHER"] == "other");             // another variable is still processed
    CHECK(std::count(dns.queries.begin(), dns.queries.end(), "A 7.0.0.127.bl.example") == 0);
    // A variable already set (access file, environment) skips the lookup entirely.
    dns.queries.clear();
    auto pre = evaluate_dns_lists(lists, "127.0.0.7", {{"BLOCK", "x"}, {"OTHER", ""}},
                                  dns.resolver(), no_warn);
    CHECK(pre.empty());
    CHECK(dns.queries.empty());
    // Not listed in the first: the second list of the same variable decides.
    dns.a.erase("7.0.0.127.wl.example");
    auto b = as_map(evaluate_dns_lists(lists, "127.0.0.7", {}, dns.resolver(), no_warn));
    CHECK(b["BLOCK"] == "no");
    CHECK(b["BLOCK_ZONE"] == "bl.example");
}

TEST_CASE("dns lists: a temporary failure is logged and lists nothing") {
    FakeDns dns;
    dns.fail = true;
    std::vector<std::string> warnings;
    auto e = evaluate_dns_lists({list("bl.example", false)}, "127.0.0.7", {}, dns.resolver(),
                                [&](const std::string& w) { warnings.push_back(w); });
    CHECK(e.empty());
    CHECK(warnings.size() == 2);
}

TEST_CASE("-drop") {
    CHECK(parse_drop_list("") == std::vector<std::string>{"BLOCK"});
    CHECK(parse_drop_list("BLOCK,BLOCK2") == std::vector<std::string>{"BLOCK", "BLOCK2"});
    std::map<std::string, std::string> env{{"BLOCK", ""}, {"BLOCK2", "listed"}};
    CHECK(drop_variable({"BLOCK"}, env) == std::nullopt);
    CHECK(drop_variable({"BLOCK", "BLOCK2"}, env) == "BLOCK2");
    CHECK(drop_variable({"NONE"}, env) == std::nullopt);
}

TEST_CASE("reverse DNS: forward confirmation and softdnserr") {
    std::map<std::string, std::vector<std::string>> ptr{{"192.0.2.1", {"Host.Example."}},
                                                        {"192.0.2.2", {"liar.example"}},
                                                        {"2001:db8::1", {"six.example"}}};
    std::map<std::string, std::vector<std::string>> a{{"host.example", {"192.0.2.1"}},
                                                      {"liar.example", {"192.0.2.200"}}};
    std::map<std::string, std::vector<std::string>> aaaa{{"six.example", {"2001:db8:0::1"}}};
    bool fail = false;
    ReverseResolver r{
        [&](const std::string& n) { return fail ? tempfail() : answer(ptr[n]); },
        [&](const std::string& n) { return answer(a[n]); },
        [&](const std::string& n) { return answer(aaaa[n]); }};
    CHECK(confirmed_host_name("192.0.2.1", r) == "host.example");
    CHECK(confirmed_host_name("192.0.2.2", r) == "softdnserr");
    CHECK(confirmed_host_name("192.0.2.3", r) == std::nullopt);
    CHECK(confirmed_host_name("2001:db8::1", r) == "six.example");
    fail = true;
    CHECK(confirmed_host_name("192.0.2.1", r) == "softdnserr");
}
