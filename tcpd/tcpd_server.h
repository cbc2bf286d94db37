// couriertcpd's event loop: poll() over every listener plus a self-pipe that turns
// SIGCHLD, SIGTERM/SIGINT and SIGHUP into events, so signals are handled between
// accepts and never inside one. SECURITY: runs as the -user after binding; it parses
// nothing from the network (the children do).
#pragma once
#include <sys/types.h>
#include <chrono>
#include <string>
#include "lib/unique_fd.h"
#include "tcpd/conn_limits.h"
#include "tcpd/connection.h"
#include "tcpd/listeners.h"
#include "tcpd/tcpd_options.h"

class TcpdServer {
public:
    TcpdServer(ListenerSet listeners, ConnectionLimitConfig limits, ChildSetup child,
               std::string pid_file);
    // Installs the signal handlers and serves until SIGTERM; returns the exit code.
    int run();

private:
    enum class Wake { none, child, stop, restart };
    Wake drain_signals();
    void reap_children();
    void accept_from(const Listener& l);
    void start_child(UniqueFd sock, const sockaddr_storage& remote);
    void back_off(const char* why);
    void shut_down();
    int poll_timeout_ms() const;

    ListenerSet listeners_;
    ConnectionLimits limits_;
    ChildSetup child_;
    std::string pid_file_;
    UniqueFd sig_read_, sig_write_;
    std::chrono::steady_clock::time_point paused_until_{};
    std::chrono::steady_clock::time_point last_error_log_{};
};
