// Where systemd runs the machine, `courier start|stop|restart` and `esmtpd ...` hand
// the job to systemctl, so the units (packaging/systemd/) own the daemons: restart on
// failure, hardening, one place to look (systemctl status). The units themselves run
// the classic commands with COURIER_CLASSIC_START=1, which is also the administrator's
// way to bypass systemd. Sandboxes and tests (COURIER_ROOT) never go to systemd.
#pragma once
#include <optional>
#include <string>
#include <vector>

struct HandoverFacts {
    bool systemd_booted = false;     // /run/systemd/system is a folder (sd_booted(3))
    bool courier_root = false;       // COURIER_ROOT is set: a sandbox or test instance
    bool classic_requested = false;  // COURIER_CLASSIC_START is set (the units set it)
    bool unit_installed = false;     // the unit file is in one of systemd's unit folders
};

// The rule: true when the command goes to systemctl instead of starting daemons itself.
bool should_hand_to_systemd(const HandoverFacts& facts);
// The first of dirs that holds a file named unit, or nullopt.
std::optional<std::string> find_unit_file(const std::vector<std::string>& dirs,
                                          const std::string& unit);
// The facts for this process and the unit ("courier.service").
HandoverFacts gather_handover_facts(const std::string& unit);
// When the facts say so, runs `systemctl <verb> <unit>` and returns its exit code;
// nullopt when the caller must do the classic work itself.
std::optional<int> hand_to_systemd(const std::string& verb, const std::string& unit);
