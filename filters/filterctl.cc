// filterctl: enables and disables one global mail filter (filterctl(8)), as Courier
// does: `filterctl start <name>` links <config>/filters/active/<name> to the filter
// program, `filterctl stop <name>` removes the link; a running courierfilter is told
// with SIGHUP and starts or stops that filter. Without arguments: the list.
// SECURITY: run by root; changes nothing but the filters/active folder.
#include <signal.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include "filters/filter_protocol.h"
#include "lib/fileio.h"
#include "lib/paths.h"
#include "lib/process.h"

namespace {

std::string active_dir() { return paths().config + "/filters/active"; }
std::string pid_file() { return paths().run + "/courierfilter.pid"; }

void tell_courierfilter() {
    if (pid_t pid = read_live_pid(pid_file()); pid > 0) ::kill(pid, SIGHUP);
    else std::printf("courierfilter is not running: run courierfilter start\n");
}

int enable(const std::string& name, std::string program) {
    if (program.empty()) program = paths().libexec + "/filters/" + name;
    if (program[0] != '/') {
        std::fprintf(stderr, "filterctl: %s: not an absolute path\n", program.c_str());
        return EX_USAGE;
    }
    if (::access(program.c_str(), X_OK) != 0) {
        std::fprintf(stderr, "filterctl: %s: %s\n", program.c_str(), std::strerror(errno));
        return EX_UNAVAILABLE;
    }
    if (Status s = ensure_dir(paths().config + "/filters", 0755); !s) {
        std::fprintf(stderr, "filterctl: %s\n", s.error().text.c_str());
        return EX_CANTCREAT;
    }
    if (Status s = ensure_dir(active_dir(), 0755); !s) {
        std::fprintf(stderr, "filterctl: %s\n", s.error().text.c_str());
        return EX_CANTCREAT;
    }
    // A new link under a temporary name, renamed over the old one: never half-made.
    std::string link = active_dir() + "/" + name, tmp = active_dir() + "/." + name;
    ::unlink(tmp.c_str());
    if (::symlink(program.c_str(), tmp.c_str()) != 0 || ::rename(tmp.c_str(), link.c_str()) != 0) {
        std::fprintf(stderr, "filterctl: %s: %s\n", link.c_str(), std::strerror(errno));
        return EX_CANTCREAT;
    }
    std::printf("filter %s enabled\n", name.c_str());
    tell_courierfilter();
    return EX_OK;
}

int disable(const std::string& name) {
    std::string link = active_dir() + "/" + name;
    if (::unlink(link.c_str()) != 0) {
        std::fprintf(stderr, "filterctl: %s: %s\n", name.c_str(),
                     errno == ENOENT ? "not enabled" : std::strerror(errno));
        return errno == ENOENT ? EX_DATAERR : EX_NOPERM;
    }
    std::printf("filter %s disabled\n", name.c_str());
    tell_courierfilter();
    return EX_OK;
}

int list() {
    for (const auto& name : courierfilter::list_active_filters(active_dir())) {
        struct stat st;
        bool listening = ::stat((paths().spool + "/filters/" + name).c_str(), &st) == 0 &&
                         S_ISSOCK(st.st_mode);
        std::printf("%s %s\n", name.c_str(), listening ? "running" : "not running");
    }
    return EX_OK;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 1) return list();
    std::string cmd = argv[1];
    if ((cmd == "start" && (argc == 3 || argc == 4)) || (cmd == "stop" && argc == 3)) {
        std::string name = argv[2];
        if (!courierfilter::valid_filter_name(name)) {
            std::fprintf(stderr, "filterctl: bad filter name: %s\n", name.c_str());
            return EX_USAGE;
        }
        return cmd == "start" ? enable(name, argc == 4 ? argv[3] : "") : disable(name);
    }
    std::fputs("usage: filterctl [start <name> [program] | stop <name>]\n", stderr);
    return EX_USAGE;
}
