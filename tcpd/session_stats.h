// The session gauge couriertcpd publishes for the metrics (doc/metrics.md): only
// couriertcpd knows how many connections it serves, so it keeps a small file
// spool/metrics/couriertcpd.<pid> up to date, and courierd folds every live one into
// its Prometheus textfile. Written atomically (temporary name, rename); removed at exit.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

struct SessionStats {
    std::string listener;        // the port list couriertcpd serves, e.g. "0.25"
    uint64_t active = 0;         // connections being served now
    uint64_t connections = 0;    // connections handed to a child since couriertcpd started
};

// "listener <xtext>\nactive <n>\nconnections <n>\n"
std::string format_session_stats(const SessionStats& s);
std::optional<SessionStats> parse_session_stats(std::string_view text);
std::string session_stats_dir();   // paths().spool + "/metrics"

// couriertcpd's side: rewrites the file when the numbers change. Does nothing when the
// folder does not exist (couriertcpd serving something other than this MTA's spool)
// or cannot be written.
class SessionStatsFile {
public:
    explicit SessionStatsFile(std::string listener);
    ~SessionStatsFile();
    SessionStatsFile(const SessionStatsFile&) = delete;
    SessionStatsFile& operator=(const SessionStatsFile&) = delete;
    void update(uint64_t active, uint64_t connections);
    // The file of the process that writes it: after -pid's fork, the pid changes.
    void remove();

private:
    SessionStats last_;
    bool written_ = false;
    long pid_ = 0;
};
