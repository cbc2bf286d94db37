// Signal self-pipe; see signal_pipe.h.
#include "courierd/signal_pipe.h"
#include <fcntl.h>
#include <unistd.h>
#include <cerrno>
#include <csignal>

namespace {

int g_read = -1;
int g_write = -1;

extern "C" void on_signal(int sig) {
    int saved = errno;
    unsigned char b = static_cast<unsigned char>(sig);
    // A full pipe already holds a wake-up; dropping this byte loses nothing that poll
    // would not report.
    if (::write(g_write, &b, 1) < 0) {}
    errno = saved;
}

}  // namespace

Status install_signal_pipe(std::initializer_list<int> signals) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return sys_error("pipe");
    g_read = fds[0];
    g_write = fds[1];
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (int sig : signals)
        if (::sigaction(sig, &sa, nullptr) != 0) return sys_error("sigaction");
    return ok_status();
}

int signal_pipe_fd() { return g_read; }

std::vector<int> drain_signals() {
    std::vector<int> out;
    unsigned char buf[64];
    ssize_t n;
    while ((n = ::read(g_read, buf, sizeof buf)) > 0)
        for (ssize_t i = 0; i < n; ++i) out.push_back(buf[i]);
    return out;
}

void reset_signal_pipe(std::initializer_list<int> signals) {
    for (int sig : signals) ::signal(sig, SIG_DFL);
    // Only descriptors are closed here: this process is the sole user of the globals.
    if (g_read >= 0) ::close(g_read);
    if (g_write >= 0) ::close(g_write);
    g_read = g_write = -1;
}
