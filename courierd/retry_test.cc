#include <doctest/doctest.h>
#include "courierd/retry.h"

TEST_CASE("next_attempt: fixed retryalpha interval") {
    RetrySettings s;
    CHECK(next_attempt(1000, 1, s) == 1300);
    CHECK(next_attempt(1000, 7, s) == 1300);
    s.alpha = 60;
    CHECK(next_attempt(5000, 2, s) == 5060);
}
