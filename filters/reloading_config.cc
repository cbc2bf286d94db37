// SIGHUP for the bundled filters: see reloading_config.h.
#include "filters/reloading_config.h"

#include <signal.h>

std::atomic<bool> g_reload_requested{false};

namespace {
void on_sighup(int) { g_reload_requested.store(true); }
}  // namespace

void install_reload_signal() {
    struct sigaction sa{};
    sa.sa_handler = on_sighup;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGHUP, &sa, nullptr);
}
