// couriertcpd's event loop: poll() over every listener plus a self-pipe that turns
// SIGCHLD, SIGTERM/SIGINT and SIGHUP into events, so signals are handled between
// accepts and never inside one. SECURITY: runs as the -user after binding; it parses
// nothing from the network (the children do).
#pragma once
#include <sys/types.h>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include "lib/unique_fd.h"
#include "tcpd/conn_limits.h"
#include "tcpd/connection.h"
#include "tcpd/access_table.h"
#include "tcpd/listeners.h"
#include "tcpd/session_stats.h"
#include "tcpd/tcpd_options.h"

// -stderrlogger: one logger process reading the standard error of every child through
// one pipe; restarted if it dies.
struct StderrLogger {
    std::vector<std::string> argv;   // program, then its one argument
    UniqueFd read_end, write_end;
    pid_t pid = -1;
};

// Files the server reopens on -restart (SIGHUP).
struct Reopenable {
    std::string stderr_file;   // -stderr=logfile
    int stderr_fd = -1;        // the descriptor children get: replaced in place
};

class TcpdServer {
public:
    TcpdServer(ListenerSet listeners, ConnectionLimitConfig limits, ChildSetup child,
               std::string pid_file);
    // Optional parts, set before run().
    void set_access(std::unique_ptr<tcpd::AccessTable> access);
    void set_stderr_logger(std::unique_ptr<StderrLogger> logger);
    void set_reopenable(Reopenable r) { reopen_ = std::move(r); }
    // Publishes the session gauge for courierd's metrics (tcpd/session_stats.h).
    void set_session_stats(std::string listener) {
        stats_ = std::make_unique<SessionStatsFile>(std::move(listener));
    }
    // Installs the signal handlers and serves until SIGTERM; returns the exit code.
    int run();

private:
    enum class Wake { none, child, stop, restart };
    Wake drain_signals();
    void reap_children();
    void accept_from(const Listener& l);
    void start_child(UniqueFd sock, const sockaddr_storage& remote);
    void start_proxied_child(UniqueFd sock, const ConnectionInfo& info);
    void answer_admission(int fd);
    void restart_logger();
    void reload();
    void note_load(LoadEvent ev);
    void back_off(const char* why);
    void shut_down();
    int poll_timeout_ms() const;

    ListenerSet listeners_;
    ConnectionLimits limits_;
    ChildSetup child_;
    std::unique_ptr<tcpd::AccessTable> access_;
    std::unique_ptr<StderrLogger> logger_;
    Reopenable reopen_;
    std::map<int, std::pair<pid_t, UniqueFd>> admissions_;   // fd -> waiting -haproxy child
    std::chrono::steady_clock::time_point logger_started_{}, logger_due_{};
    bool logger_waiting_ = false;
    std::string pid_file_;
    std::unique_ptr<SessionStatsFile> stats_;
    uint64_t connections_ = 0;   // children started, for the metrics
    UniqueFd sig_read_, sig_write_;
    std::chrono::steady_clock::time_point paused_until_{};
    std::chrono::steady_clock::time_point last_error_log_{};
};
