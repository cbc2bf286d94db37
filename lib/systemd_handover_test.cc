// The rule that decides when `courier start` and `esmtpd start` go to systemctl.
#include <doctest/doctest.h>
#include <cstdlib>
#include <fstream>
#include <string>
#include "lib/systemd_handover.h"

TEST_CASE("systemd handover: only a booted systemd with the unit installed, not sandboxes") {
    HandoverFacts f{true, false, false, true};
    CHECK(should_hand_to_systemd(f));
    CHECK_FALSE(should_hand_to_systemd({false, false, false, true}));   // no systemd (containers)
    CHECK_FALSE(should_hand_to_systemd({true, true, false, true}));     // COURIER_ROOT instance
    CHECK_FALSE(should_hand_to_systemd({true, false, true, true}));     // the unit itself runs us
    CHECK_FALSE(should_hand_to_systemd({true, false, false, false}));   // unit not installed
}

TEST_CASE("systemd handover: finds the unit file in the first folder that has it") {
    char tmpl[] = "/tmp/handover_test.XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    std::string dir = tmpl;
    std::ofstream(dir + "/esmtpd.service") << "[Service]\n";
    CHECK(find_unit_file({"/nonexistent", dir}, "esmtpd.service") == dir + "/esmtpd.service");
    CHECK_FALSE(find_unit_file({"/nonexistent", dir}, "esmtpd-msa.service").has_value());
    CHECK_FALSE(find_unit_file({}, "esmtpd.service").has_value());
    std::remove((dir + "/esmtpd.service").c_str());
    std::remove(dir.c_str());
}
