#include <doctest/doctest.h>
#include "courierd/supervisor.h"

TEST_CASE("restart_pause doubles up to the cap") {
    CHECK(restart_pause(1, 60) == 1);
    CHECK(restart_pause(2, 60) == 2);
    CHECK(restart_pause(3, 60) == 4);
    CHECK(restart_pause(6, 60) == 32);
    CHECK(restart_pause(7, 60) == 60);
    CHECK(restart_pause(100, 60) == 60);
    CHECK(restart_pause(5, 3) == 3);
}
