// Unit tests for ratelimit(8): the config file, counter keys, the sliding window, and
// the shared store under concurrent writers (forked processes, as separate receivers).
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cstdlib>
#include <string>
#include "filters/ratelimit.h"
#include "filters/ratelimit_store.h"

using namespace ratelimit;

namespace {
struct TempDir {
    std::string path;
    TempDir() { char t[] = "/tmp/ratelimittest.XXXXXX"; path = ::mkdtemp(t); }
    ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
};

RateRule rule(Subject s, Counted c, uint64_t limit, long window) {
    RateRule r;
    r.subject = s;
    r.counted = c;
    r.limit = limit;
    r.window_seconds = window;
    r.origin = "ratelimit:1";
    return r;
}
}  // namespace

TEST_CASE("config: subjects, counts, limits, windows, comments") {
    auto rules = parse_rate_rules("# limits\nip messages 3 10s\n\n SENDER  Recipients 100 1h # per hour\n"
                                  "user messages 50 1d\n",
                                  "/etc/ratelimit");
    REQUIRE(rules.ok());
    REQUIRE(rules->size() == 3);
    CHECK((*rules)[0].subject == Subject::ip);
    CHECK((*rules)[0].limit == 3);
    CHECK((*rules)[0].window_seconds == 10);
    CHECK((*rules)[1].subject == Subject::sender);
    CHECK((*rules)[1].counted == Counted::recipients);
    CHECK((*rules)[1].window_seconds == 3600);
    CHECK((*rules)[1].origin == "/etc/ratelimit:4");
    CHECK((*rules)[2].window_seconds == 86400);
}

TEST_CASE("config: every bad line is refused with file:line") {
    for (const char* bad : {"host messages 3 10s", "ip mails 3 10s", "ip messages 0 10s", "ip messages x 10s",
                            "ip messages 3 soon", "ip messages 3", "ip messages 3 10s extra"}) {
        auto r = parse_rate_rules(std::string("ip messages 1 1m\n") + bad + "\n", "rl");
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().text.rfind("rl:2: ", 0) == 0);
    }
}

TEST_CASE("counter keys: which rules apply, case of senders, IPv6 per /64") {
    Usage u{"192.0.2.7", "Alice@Example.COM", "", 4};
    auto ip = rule(Subject::ip, Counted::messages, 1, 60);
    CHECK(counter_key(ip, u) == std::optional<std::string>("ip messages 60 192.0.2.7"));
    CHECK(counter_key(rule(Subject::sender, Counted::recipients, 1, 600), u) ==
          std::optional<std::string>("sender recipients 600 alice@example.com"));
    CHECK_FALSE(counter_key(rule(Subject::user, Counted::messages, 1, 60), u));   // not authenticated
    CHECK_FALSE(counter_key(rule(Subject::sender, Counted::messages, 1, 60), Usage{"1.2.3.4", "", "", 1}));
    CHECK_FALSE(counter_key(ip, Usage{"", "a@b", "", 1}));   // local mail has no client address
    CHECK(counter_key(ip, Usage{"2001:db8::1", "", "", 1}) == counter_key(ip, Usage{"2001:db8::ffff:2", "", "", 1}));
    CHECK(counter_key(rule(Subject::user, Counted::messages, 1, 60), Usage{"", "", "joe smith", 1}) ==
          std::optional<std::string>("user messages 60 joe+20smith"));
    CHECK(amount(ip, u) == 1);
    CHECK(amount(rule(Subject::ip, Counted::recipients, 1, 60), u) == 4);
    CHECK(window_of_key("ip messages 60 192.0.2.7") == std::optional<long>(60));
    CHECK_FALSE(window_of_key("garbage"));
}

TEST_CASE("the window: slots, expiry never early, format round trip") {
    WindowState w;
    const int64_t win = 10'000;   // 10 s: slots of 100 ms
    add_to_window(w, 1'000, win, 1);
    add_to_window(w, 1'050, win, 2);   // same slot
    add_to_window(w, 5'000, win, 1);
    REQUIRE(w.size() == 2);
    CHECK(w[0].end_ms == 1'100);
    CHECK(w[0].count == 3);
    CHECK(count_in_window(w, 5'000, win) == 4);
    CHECK(count_in_window(w, 11'000, win) == 4);    // 10 s after the first events: still inside
    CHECK(count_in_window(w, 11'100, win) == 1);    // one slot later they are gone
    CHECK(count_in_window(w, 15'100, win) == 0);
    auto back = parse_window(format_window(w));
    REQUIRE(back);
    CHECK(back->size() == 2);
    CHECK((*back)[1].end_ms == w[1].end_ms);
    add_to_window(w, 20'000, win, 1);   // prunes what left the window
    CHECK(w.size() == 1);
    CHECK_FALSE(parse_window("2 1:1"));
    CHECK_FALSE(parse_window("1 5:1 3:1"));
    CHECK_FALSE(parse_window("1 x"));
    CHECK(parse_window("1")->empty());
}

TEST_CASE("fits: within, over, and a message larger than the limit by itself") {
    CHECK(fits(2, 1, 3) == Fit::fits);
    CHECK(fits(3, 1, 3) == Fit::exceeded);
    CHECK(fits(0, 5, 3) == Fit::never);
    auto r = rule(Subject::ip, Counted::messages, 3, 60);
    CHECK(refusal_reply(r, Fit::exceeded).rfind("451 4.7.1 ", 0) == 0);
    CHECK(refusal_reply(r, Fit::never).rfind("550 5.7.1 ", 0) == 0);
}

TEST_CASE("the store: the N+1st message is refused, counted nowhere, accepted after the window") {
    TempDir d;
    RateStore store(d.path + "/ratelimit.dat");
    std::vector<RateRule> rules{rule(Subject::ip, Counted::messages, 2, 10),
                                rule(Subject::sender, Counted::recipients, 5, 10)};
    Usage u{"192.0.2.1", "a@example.com", "", 2};
    CHECK(store.check_and_record(rules, u, 1'000)->allowed);
    CHECK(store.check_and_record(rules, u, 2'000)->allowed);
    auto third = store.check_and_record(rules, u, 3'000);
    REQUIRE(third.ok());
    CHECK_FALSE(third->allowed);
    CHECK(third->rule_origin == "ratelimit:1");
    CHECK(third->key == "ip messages 10 192.0.2.1");
    // Another client with the same sender: 4 of 5 recipients used, so 2 more do not fit;
    // the refused message above was not counted, or this would say 6.
    auto other = store.check_and_record(rules, Usage{"192.0.2.2", "a@example.com", "", 2}, 3'000);
    CHECK_FALSE(other->allowed);
    CHECK(other->in_window == 4);
    CHECK(store.check_and_record(rules, Usage{"192.0.2.2", "a@example.com", "", 1}, 3'000)->allowed);
    CHECK(store.check_and_record(rules, u, 11'200)->allowed);   // the first left the window
    CHECK(*store.expire(30'000) == 3);
    CHECK(*store.expire(30'000) == 0);
}

TEST_CASE("the store: concurrent receivers never admit more than the limit") {
    TempDir d;
    std::string db = d.path + "/ratelimit.dat";
    std::vector<RateRule> rules{rule(Subject::ip, Counted::messages, 10, 3600)};
    const int kProcs = 4, kEach = 8;
    std::vector<pid_t> pids;
    for (int p = 0; p < kProcs; ++p) {
        pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            RateStore s(db);
            int admitted = 0;
            for (int i = 0; i < kEach; ++i) {
                auto r = s.check_and_record(rules, Usage{"192.0.2.9", "", "", 1}, 1'000 + i);
                if (!r) ::_exit(100);
                admitted += r->allowed;
            }
            ::_exit(admitted);
        }
        pids.push_back(pid);
    }
    int total = 0;
    for (pid_t pid : pids) {
        int status = 0;
        ::waitpid(pid, &status, 0);
        REQUIRE(WIFEXITED(status));
        REQUIRE(WEXITSTATUS(status) != 100);
        total += WEXITSTATUS(status);
    }
    CHECK(total == 10);
}
