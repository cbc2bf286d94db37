// courierlocal: the local delivery module. courierd starts it once and writes module
// requests on its stdin; it answers on stdout (architecture.md, "courierd and the
// modules") and delivers each recipient to ~/Maildir in a child process.
// SECURITY: started as root by courierd; each child becomes its recipient before it
// opens anything in the home directory, and uid 0 is refused. Not started as root, it
// changes no ids and delivers only to the invoking user's account.
#include <signal.h>
#include <sysexits.h>
#include <unistd.h>
#include <algorithm>
#include <exception>
#include <string>
#include "config/config.h"
#include "lib/log.h"
#include "lib/paths.h"
#include "local/dispatcher.h"

namespace {

// More children than this would only exhaust descriptors and process slots.
constexpr long kMaxChildrenCap = 256;
constexpr long kDefaultMaxDels = 10;

// MAXDELS of module.local: courierd sends no more deliveries than that at once, and
// the module refuses (defers) any beyond it.
size_t configured_max_deliveries() {
    auto settings = Settings::load(ConfigDir(paths().config).path("module.local"));
    long n = settings ? settings->get_long("MAXDELS", kDefaultMaxDels) : kDefaultMaxDels;
    return static_cast<size_t>(std::clamp(n, 1L, kMaxChildrenCap));
}

std::string local_hostname() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
    return buf;
}

}  // namespace

int main(int argc, char**) {
    log_open("courierlocal");
    if (argc != 1) {
        log_error("courierlocal: takes no arguments; courierd starts it");
        return EX_USAGE;
    }
    // A write to a courierd that went away must be an error value, not a signal.
    ::signal(SIGPIPE, SIG_IGN);
    try {
        DispatcherOptions opts;
        opts.max_children = configured_max_deliveries();
        opts.hostname = local_hostname();
        opts.config = LocalConfig::load(ConfigDir(paths().config));
        // A delivery may run programs for up to localtimeout; the child's own limit
        // must leave them that time.
        opts.child_timeout_s = static_cast<unsigned>(
            std::max<long>(3600, opts.config.timeout_s + 600));
        DeliveryDispatcher dispatcher(opts);
        return dispatcher.run();
    } catch (const std::exception& e) {
        log_error(std::string("courierlocal: ") + e.what());
        return EX_SOFTWARE;
    }
}
