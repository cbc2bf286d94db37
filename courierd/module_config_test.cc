#include <doctest/doctest.h>
#include "courierd/module_config.h"

TEST_CASE("module_from_settings: relative PROG, limits, NAME default") {
    std::vector<std::string> errors;
    auto s = Settings::parse("PROG=courierlocal\nMAXDELS=10\nMAXHOST=4\nMAXRCPT=1\n", &errors);
    auto m = module_from_settings(s, "local", "/usr/lib/courier");
    REQUIRE(m.ok());
    CHECK(m->name == "local");
    CHECK(m->prog == "/usr/lib/courier/courierlocal");
    CHECK(m->maxdels == 10);
    CHECK(m->maxhost == 4);
    CHECK(m->maxrcpt == 1);
}

TEST_CASE("module_from_settings: absolute PROG, errors") {
    std::vector<std::string> errors;
    auto s = Settings::parse("NAME=esmtp\nPROG=/opt/x\nMAXDELS=2\nMAXHOST=9\n", &errors);
    auto m = module_from_settings(s, "esmtp", "/lib");
    REQUIRE(m.ok());
    CHECK(m->prog == "/opt/x");
    CHECK(m->maxhost == 2);   // never more per host than in all
    CHECK(!module_from_settings(Settings::parse("NAME=x\n", &errors), "x", "/l").ok());
    CHECK(!module_from_settings(Settings::parse("PROG=p\nMAXDELS=0\n", &errors), "x", "/l").ok());
    CHECK(!module_from_settings(Settings::parse("PROG=p\nMAXRCPT=ten\n", &errors), "x", "/l").ok());
}

TEST_CASE("compute_queue_limits: courier(8) defaults and overrides") {
    std::vector<ModuleConfig> mods(2);
    mods[0].maxdels = 10;
    mods[1].maxdels = 40;
    auto q = compute_queue_limits(mods, std::nullopt, std::nullopt, std::nullopt);
    CHECK(q.lo == 200);
    CHECK(q.hi == 400);
    CHECK(q.fill == 300);
    mods[1].maxdels = 1500;
    q = compute_queue_limits(mods, std::nullopt, std::nullopt, std::nullopt);
    CHECK(q.lo == 1510);
    CHECK(q.hi == 2510);
    q = compute_queue_limits(mods, std::string("10"), std::string("15"), std::string("0"));
    CHECK(q.lo == 10);
    CHECK(q.hi == 15);
    CHECK(q.fill == 0);
    q = compute_queue_limits(mods, std::string("10"), std::string("5"), std::string("1m"));
    CHECK(q.hi == 10);
    CHECK(q.fill == 60);
}
