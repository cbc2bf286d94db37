// The scheduler's metrics in the Prometheus text format (doc/metrics.md): messages
// received per source and TLS, recipient results per module, the delivery latency
// histogram, the queue by state and couriertcpd's sessions. courierd writes them to a
// textfile for node_exporter's textfile collector (rename into place, so a scrape
// never sees half a file) and reads its counters back from that file at start, so
// they continue across restarts. Pure except write_metrics_file().
#pragma once
#include <cstdint>
#include <ctime>
#include <map>
#include <string>
#include <string_view>
#include <vector>
#include "config/config.h"
#include "lib/result.h"
#include "tcpd/session_stats.h"

namespace courierd {

// Upper bounds (seconds from arrival to a successful delivery) of the latency buckets.
inline constexpr long kLatencyBounds[] = {1, 5, 15, 60, 300, 900, 3600, 14400, 86400};

struct QueueGauges {
    size_t active = 0;        // in memory: being attempted or waiting for a slot
    size_t deferred = 0;      // on disk, waiting for their retry time
    size_t in_progress = 0;   // deliveries handed to modules
};

class Metrics {
public:
    void count_received(std::string_view source, bool tls);
    // One recipient's result: status "ok", "defer" or "fail"; the latency counts for
    // "ok" only.
    void count_result(std::string_view module, std::string_view status, long seconds_since_arrival);
    // A recipient that ran out of queuetime: bounced without a module result.
    void count_expired(std::string_view module);
    // The scheduler's "delivery ..." log line (scheduler_state.h) carries every fact of a
    // result; counting from it keeps one place that describes an attempt. False when
    // the line is not a delivery line.
    bool count_delivery_line(std::string_view line);
    // Counters and histogram series from a file this class wrote earlier; gauges and
    // foreign lines are ignored.
    void restore(std::string_view prom_text);
    std::string format(const QueueGauges& q, const std::vector<SessionStats>& sessions,
                       std::time_t now) const;
    bool dirty() const { return dirty_; }
    void clear_dirty() { dirty_ = false; }
    uint64_t value(const std::string& series) const;   // for tests: 0 when absent

private:
    void add(const std::string& series, uint64_t n = 1);
    std::map<std::string, uint64_t> counters_;   // full series text -> value
    bool dirty_ = true;
};

// Whether the first Received: header of a message (the one submit wrote) names a TLS
// protocol (ESMTPS, ESMTPSA, UTF8SMTPS, UTF8SMTPSA; RFC 3848).
bool received_with_tls(std::string_view message_head);
// The same for a queue file on disk: reads its first 64 KiB (envelope and Received:);
// false when it cannot tell.
bool queue_file_used_tls(const std::string& path);
// A Prometheus label value with \, " and newline escaped.
std::string label_value(std::string_view v);
// Where courierd writes: the first line of the `metricsfile` config file, else
// spool/metrics/courier.prom.
std::string metrics_file_path(const ConfigDir& config);
// Writes `text` as `path` atomically (temporary file in the same folder, rename).
Status write_metrics_file(const std::string& path, const std::string& text);
// Every live couriertcpd's session file in session_stats_dir(); files of processes
// that are gone are removed.
std::vector<SessionStats> collect_session_stats();

}  // namespace courierd
