// Unit tests for how submit folds the filters' answers into one outcome
// (doc/filters.md: accept, 200, reject, tempfail, discard, hold, prepend, failures).
#include <doctest/doctest.h>
#include <unistd.h>
#include <cstdlib>
#include "lib/fileio.h"
#include "submit/filtering.h"

using namespace submit;
using courierfilter::Answer;
using courierfilter::FailureMode;

TEST_CASE("filtering: answers fold in order") {
    FilterOutcome out;
    CHECK(apply_answer(out, "a", Answer{250, "Ok", {"X-A: 1"}, false, false, "", ""}));
    CHECK(apply_answer(out, "b", Answer{250, "", {"X-B: 2"}, true, false, "", ""}));
    CHECK_FALSE(out.reply);
    CHECK(out.prepended() == "X-A: 1\nX-B: 2\n");
    CHECK(out.hold);
    CHECK(out.hold_reason == "held by filter b");
    CHECK(out.hold_record(1700000000) == "hold 1700000000 held+20by+20filter+20b\n");
    // 200 stops the chain but keeps what was decided so far.
    CHECK_FALSE(apply_answer(out, "c", Answer{200, "", {}, false, false, "", ""}));
    CHECK_FALSE(out.reply);
}

TEST_CASE("filtering: refusals and discards answer the client") {
    FilterOutcome out;
    CHECK_FALSE(apply_answer(out, "a", Answer{554, "No thanks", {"X-Ignored: y"}, false, false, "", ""}));
    REQUIRE(out.reply);
    CHECK(out.reply->line() == "554 5.7.1 No thanks");
    CHECK(out.prepend.empty());   // directives count only with a 2xx reply

    FilterOutcome t;
    CHECK_FALSE(apply_answer(t, "a", Answer{451, "4.7.0 Busy", {}, false, false, "", ""}));
    CHECK(t.reply->line() == "451 4.7.0 Busy");

    FilterOutcome d;
    CHECK_FALSE(apply_answer(d, "a", Answer{250, "Ok", {}, false, true, "", "spam"}));
    CHECK(d.reply->line() == "250 2.0.0 Ok");
    CHECK(d.hold_record(1).empty());
}

TEST_CASE("filtering: a failed filter by filterfailure") {
    FilterOutcome closed;
    CHECK_FALSE(apply_failure(closed, "10-x", FailureMode::tempfail));
    CHECK(closed.reply->line() == "451 4.7.0 Filter 10-x unavailable, try again later");
    FilterOutcome open;
    CHECK(apply_failure(open, "10-x", FailureMode::accept));
    CHECK_FALSE(open.reply);
}

TEST_CASE("filtering: settings from the configuration folder") {
    char tmpl[] = "/tmp/filtering.XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    std::string dir = tmpl;
    ConfigDir cfg(dir);
    CHECK(load_filter_settings(cfg).sources.sources.empty());   // no enablefiltering: off
    REQUIRE(write_file_durably(dir, "enablefiltering", "esmtp\n", 0644));
    REQUIRE(write_file_durably(dir, "filtertimeout", "2m\n", 0644));
    REQUIRE(write_file_durably(dir, "filterfailure", "accept\n", 0644));
    REQUIRE(ensure_dir(dir + "/filters", 0755));
    REQUIRE(ensure_dir(dir + "/filters/active", 0755));
    REQUIRE(write_file_durably(dir + "/filters/active", "20-b", "", 0755));
    REQUIRE(write_file_durably(dir + "/filters/active", "10-a", "", 0755));
    REQUIRE(write_file_durably(dir + "/filters/active", ".20-b", "", 0755));
    FilterSettings s = load_filter_settings(cfg);
    CHECK(s.sources.covers("esmtp"));
    CHECK(s.timeout_ms == 120000);
    CHECK(s.failure == FailureMode::accept);
    CHECK(s.active == std::vector<std::string>{"10-a", "20-b"});
    REQUIRE(write_file_durably(dir, "filtertimeout", "soon\n", 0644));
    CHECK(load_filter_settings(cfg).timeout_ms == 60000);   // a bad value keeps the default
    CHECK(std::system(("rm -rf " + dir).c_str()) == 0);
}
