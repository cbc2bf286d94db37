#include <doctest/doctest.h>
#include "courierd/retry.h"

namespace {
std::vector<long> minutes(std::vector<long> v) {
    for (auto& x : v) x *= 60;
    return v;
}
}  // namespace

TEST_CASE("retry schedule with the defaults follows the manual's prose") {
    RetrySettings s;
    // retrybeta (3) attempts retryalpha (5m) apart, then retrygamma (15m), 30m, 60m,
    // and from then on retrygamma*2^retrymaxdelta = 120m.
    CHECK(retry_schedule(18, s) ==
          minutes({5, 5, 15, 5, 5, 30, 5, 5, 60, 5, 5, 120, 5, 5, 120, 5, 5, 120}));
    // The manual's example list starts "5, 5, 5, 15": it counts a wait before the first
    // attempt. Ours makes exactly retrybeta attempts before the first retrygamma.
    CHECK(retry_delay(3, s) == 15 * 60);
}

TEST_CASE("retry schedule with other settings") {
    RetrySettings s;
    s.alpha = 60;
    s.beta = 2;
    s.gamma = 600;
    s.maxdelta = 1;
    CHECK(retry_schedule(8, s) == std::vector<long>{60, 600, 60, 1200, 60, 1200, 60, 1200});
    s.beta = 1;   // every attempt ends a series: only the gamma waits remain
    s.maxdelta = 4;
    CHECK(retry_schedule(7, s) ==
          std::vector<long>{600, 1200, 2400, 4800, 9600, 9600, 9600});
    s.maxdelta = 0;   // no growth at all
    CHECK(retry_schedule(3, s) == std::vector<long>{600, 600, 600});
}

TEST_CASE("retrymaxdelta caps the exponential backoff, also for huge values") {
    RetrySettings s;
    s.maxdelta = 30;
    s.gamma = 7 * 86400;
    CHECK(retry_delay(3 * 40, s) == 0x7fffffffL);   // saturates instead of overflowing
    s.gamma = 900;
    s.maxdelta = 5;
    CHECK(retry_delay(3 * 6, s) == 900 * 32);
    CHECK(retry_delay(3 * 7, s) == 900 * 32);
    CHECK(retry_delay(3 * 100, s) == 900 * 32);
}

TEST_CASE("next_attempt walks the schedule from the arrival time") {
    RetrySettings s;
    std::time_t arrival = 1'000'000, now = arrival;
    std::vector<long> at;
    for (unsigned a = 1; a <= 7; ++a) {
        now = next_attempt(now, arrival, a, s);
        at.push_back((now - arrival) / 60);
    }
    // Attempt times in minutes after arrival (the first attempt is at 0).
    CHECK(at == std::vector<long>{5, 10, 25, 30, 35, 65, 70});
}

TEST_CASE("queuetime: the last attempt falls on the expiry time, then the message expires") {
    RetrySettings s;
    s.queuetime = 40 * 60;
    std::time_t arrival = 5000;
    CHECK(next_attempt(arrival + 35 * 60, arrival, 6, s) == arrival + 40 * 60);   // not +65m
    CHECK_FALSE(expired(arrival + 40 * 60 - 1, arrival, s));
    CHECK(expired(arrival + 40 * 60, arrival, s));
    // An attempt that ends after the expiry time (a slow delivery) retries nothing.
    CHECK(next_attempt(arrival + 50 * 60, arrival, 7, s) == arrival + 50 * 60);
    // With the defaults a message expires after a week.
    RetrySettings d;
    CHECK_FALSE(expired(arrival + 7 * 86400 - 1, arrival, d));
    CHECK(expired(arrival + 7 * 86400, arrival, d));
}

TEST_CASE("warntime: one warning, at the first attempt after warntime") {
    RetrySettings s;
    std::time_t arrival = 0;
    CHECK_FALSE(warning_due(4 * 3600 - 1, arrival, false, s));
    CHECK(warning_due(4 * 3600, arrival, false, s));
    CHECK_FALSE(warning_due(5 * 3600, arrival, true, s));
    s.warntime = s.queuetime + 10;   // expires first: the bounce replaces the warning
    CHECK_FALSE(warning_due(s.queuetime, arrival, false, s));
}
