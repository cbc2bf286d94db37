// Handing administrative commands to systemd; see systemd_handover.h.
#include "lib/systemd_handover.h"
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>
#include <cstdio>
#include <cstdlib>
#include "lib/log.h"
#include "lib/process.h"

namespace {

// systemd's system unit search path (systemd.unit(5)), as far as packages and
// `make install` put units there; /lib for Debian systems without merged /usr.
const std::vector<std::string> kUnitDirs = {
    "/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system", "/lib/systemd/system"};

bool is_dir(const char* path) {
    struct stat st;
    return ::lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

std::string systemctl_path() {
    for (const char* p : {"/usr/bin/systemctl", "/bin/systemctl"})
        if (::access(p, X_OK) == 0) return p;
    return {};
}

}  // namespace

bool should_hand_to_systemd(const HandoverFacts& f) {
    return f.systemd_booted && !f.courier_root && !f.classic_requested && f.unit_installed;
}

std::optional<std::string> find_unit_file(const std::vector<std::string>& dirs,
                                          const std::string& unit) {
    for (const auto& dir : dirs) {
        std::string path = dir + "/" + unit;
        if (::access(path.c_str(), F_OK) == 0) return path;
    }
    return std::nullopt;
}

HandoverFacts gather_handover_facts(const std::string& unit) {
    HandoverFacts f;
    f.systemd_booted = is_dir("/run/systemd/system");
    f.courier_root = ::secure_getenv("COURIER_ROOT") != nullptr;
    f.classic_requested = ::secure_getenv("COURIER_CLASSIC_START") != nullptr;
    f.unit_installed = find_unit_file(kUnitDirs, unit).has_value();
    return f;
}

std::optional<int> hand_to_systemd(const std::string& verb, const std::string& unit) {
    if (!should_hand_to_systemd(gather_handover_facts(unit))) return std::nullopt;
    std::string systemctl = systemctl_path();
    if (systemctl.empty()) return std::nullopt;   // systemd without its client: classic
    log_info("handing to systemd: systemctl " + verb + " " + unit);
    SpawnOptions o;
    o.argv = {systemctl, verb, unit};
    auto child = ChildProcess::spawn(o);
    if (!child) {
        std::fprintf(stderr, "cannot run %s: %s\n", systemctl.c_str(), child.error().text.c_str());
        return EX_OSERR;
    }
    int status = child->wait();
    if (status >= 0 && WIFEXITED(status)) return WEXITSTATUS(status);
    return EX_SOFTWARE;
}
