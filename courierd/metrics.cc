// The scheduler's Prometheus metrics; see metrics.h and doc/metrics.md.
#include "courierd/metrics.h"
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <cerrno>
#include <cstdlib>
#include "lib/address.h"
#include "lib/fileio.h"
#include "lib/paths.h"
#include "lib/queue.h"
#include "lib/unique_fd.h"

namespace courierd {

namespace {

struct Family { const char* name; const char* type; const char* help; };
// The order of the file; every series belongs to one of these.
const Family kFamilies[] = {
    {"courier_messages_received_total", "counter",
     "Messages taken into the queue, by source; tls=yes when the client used TLS."},
    {"courier_deliveries_total", "counter",
     "Recipient delivery results by module: delivered, deferred (one failed attempt), bounced (failed or expired)."},
    {"courier_delivery_latency_seconds", "histogram",
     "Seconds from arrival to successful delivery, per delivered recipient."},
    {"courier_queue_messages", "gauge",
     "Queued messages: active (in memory, being attempted) and deferred (waiting for their retry time)."},
    {"courier_deliveries_in_progress", "gauge", "Deliveries handed to modules and not finished."},
    {"courier_smtp_sessions_active", "gauge", "Connections couriertcpd serves now, per listener."},
    {"courier_smtp_connections_total", "counter",
     "Connections couriertcpd accepted since it started, per listener."},
    {"courier_metrics_updated_timestamp_seconds", "gauge", "When courierd wrote this file."},
};

std::string_view field(std::string_view line, std::string_view key) {
    std::string k = " " + std::string(key) + "=";
    size_t at = line.find(k);
    if (at == line.npos) return {};
    std::string_view v = line.substr(at + k.size());
    return v.substr(0, v.find(' '));
}

bool is_restorable(std::string_view name) {
    return name.ends_with("_total") || name == "courier_delivery_latency_seconds_bucket" ||
           name == "courier_delivery_latency_seconds_sum" || name == "courier_delivery_latency_seconds_count";
}

}  // namespace

void Metrics::add(const std::string& series, uint64_t n) {
    counters_[series] += n;
    dirty_ = true;
}

uint64_t Metrics::value(const std::string& series) const {
    auto it = counters_.find(series);
    return it == counters_.end() ? 0 : it->second;
}

void Metrics::count_received(std::string_view source, bool tls) {
    add("courier_messages_received_total{source=\"" + label_value(source) + "\",tls=\"" +
        (tls ? "yes" : "no") + "\"}");
}

void Metrics::count_result(std::string_view module, std::string_view status, long seconds) {
    const char* result = status == "ok" ? "delivered" : status == "defer" ? "deferred" : "bounced";
    add("courier_deliveries_total{module=\"" + label_value(module) + "\",result=\"" + result + "\"}");
    if (status != "ok") return;
    if (seconds < 0) seconds = 0;
    for (long le : kLatencyBounds)
        if (seconds <= le) add("courier_delivery_latency_seconds_bucket{le=\"" + std::to_string(le) + "\"}");
    add("courier_delivery_latency_seconds_bucket{le=\"+Inf\"}");
    add("courier_delivery_latency_seconds_sum", static_cast<uint64_t>(seconds));
    add("courier_delivery_latency_seconds_count");
}

void Metrics::count_expired(std::string_view module) {
    add("courier_deliveries_total{module=\"" + label_value(module) + "\",result=\"bounced\"}");
}

bool Metrics::count_delivery_line(std::string_view line) {
    if (!line.starts_with("delivery ")) return false;
    // Every field before text= is a token without spaces; text comes last.
    line = line.substr(0, line.find(" text="));
    std::string_view module = field(line, "module"), status = field(line, "status");
    if (module.empty() || status.empty()) return false;
    long delay = std::strtol(std::string(field(line, "delay")).c_str(), nullptr, 10);
    count_result(module, status, delay);
    return true;
}

void Metrics::restore(std::string_view text) {
    while (!text.empty()) {
        size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == text.npos ? text.size() : nl + 1);
        if (line.empty() || line[0] == '#') continue;
        size_t sp = line.rfind(' ');
        if (sp == line.npos) continue;
        std::string_view series = line.substr(0, sp);
        std::string_view name = series.substr(0, series.find('{'));
        if (!name.starts_with("courier_") || !is_restorable(name)) continue;
        // couriertcpd's connection counter is its own; it restarts with couriertcpd.
        if (name == "courier_smtp_connections_total") continue;
        char* end = nullptr;
        std::string v(line.substr(sp + 1));
        unsigned long long n = std::strtoull(v.c_str(), &end, 10);
        if (end && *end == '\0' && !v.empty()) counters_[std::string(series)] = n;
    }
    dirty_ = true;
}

std::string Metrics::format(const QueueGauges& q, const std::vector<SessionStats>& sessions,
                            std::time_t now) const {
    std::map<std::string, uint64_t> all = counters_;
    all["courier_queue_messages{state=\"active\"}"] = q.active;
    all["courier_queue_messages{state=\"deferred\"}"] = q.deferred;
    all["courier_deliveries_in_progress"] = q.in_progress;
    for (const auto& s : sessions) {
        std::string l = "{listener=\"" + label_value(s.listener) + "\"}";
        all["courier_smtp_sessions_active" + l] += s.active;
        all["courier_smtp_connections_total" + l] += s.connections;
    }
    all["courier_metrics_updated_timestamp_seconds"] = static_cast<uint64_t>(now);
    std::string out;
    for (const Family& f : kFamilies) {
        out += std::string("# HELP ") + f.name + " " + f.help + "\n# TYPE " + f.name + " " + f.type + "\n";
        std::string fam = f.name;
        if (std::string_view(f.type) == "histogram") {
            // Buckets in increasing le, every one present, then _sum and _count.
            auto get = [&](const std::string& series) {
                auto it = all.find(series);
                return std::to_string(it == all.end() ? 0 : it->second);
            };
            for (long le : kLatencyBounds) {
                std::string b = fam + "_bucket{le=\"" + std::to_string(le) + "\"}";
                out += b + " " + get(b) + "\n";
            }
            std::string inf = fam + "_bucket{le=\"+Inf\"}";
            out += inf + " " + get(inf) + "\n";
            out += fam + "_sum " + get(fam + "_sum") + "\n";
            out += fam + "_count " + get(fam + "_count") + "\n";
            continue;
        }
        for (const auto& [series, value] : all)
            if (std::string_view(series).substr(0, series.find('{')) == fam)
                out += series + " " + std::to_string(value) + "\n";
    }
    return out;
}

bool received_with_tls(std::string_view head) {
    // submit's Received: is the first header of that name (Received-SPF and filters'
    // headers may come before it); folded lines start with white space.
    std::string header;
    bool in_received = false;
    size_t pos = 0;
    while (pos < head.size()) {
        size_t nl = head.find('\n', pos);
        std::string_view line = head.substr(pos, nl == head.npos ? head.npos : nl - pos);
        pos = nl == head.npos ? head.size() : nl + 1;
        bool folded = !line.empty() && (line[0] == ' ' || line[0] == '\t');
        if (in_received && !folded) break;
        if (in_received) header += " " + std::string(line);
        if (line.empty()) break;   // end of the header
        if (!folded && line.size() >= 9 && lowercase_ascii(line.substr(0, 9)) == "received:") {
            in_received = true;
            header = std::string(line.substr(9));
        }
    }
    size_t with = header.find(" with ");
    if (with == std::string::npos) return false;
    std::string_view rest = std::string_view(header).substr(with + 6);
    while (!rest.empty() && rest[0] == ' ') rest.remove_prefix(1);
    std::string_view word = rest.substr(0, rest.find_first_of(" ;\t"));
    return word == "ESMTPS" || word == "ESMTPSA" || word == "UTF8SMTPS" || word == "UTF8SMTPSA";
}

bool queue_file_used_tls(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return false;
    std::string head(64 * 1024, '\0');
    ssize_t n = ::pread(fd.get(), head.data(), head.size(), 0);
    if (n <= 0) return false;
    head.resize(static_cast<size_t>(n));
    size_t offset = 0;
    if (!parse_envelope(head, &offset) || offset > head.size()) return false;
    return received_with_tls(std::string_view(head).substr(offset));
}

std::string label_value(std::string_view v) {
    std::string out;
    for (char c : v) {
        if (c == '\\' || c == '"') { out += '\\'; out += c; }
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

std::string metrics_file_path(const ConfigDir& config) {
    auto line = config.first_line("metricsfile");
    if (line && !line->empty()) return *line;
    return paths().spool + "/metrics/courier.prom";
}

Status write_metrics_file(const std::string& path, const std::string& text) {
    std::string tmp = path + ".tmp";
    {
        // Outside the spool, mode 0644: node_exporter reads the file as its own user.
        // Inside it, nothing is readable by others (doc/architecture.md, privileges).
        bool in_spool = path.rfind(paths().spool + "/", 0) == 0;
        UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, in_spool ? 0640 : 0644));
        if (!fd) return sys_error("create " + tmp);
        if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
            ::unlink(tmp.c_str());
            return sys_error("write " + tmp);
        }
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        ::unlink(tmp.c_str());
        return sys_error("rename " + tmp);
    }
    return ok_status();
}

std::vector<SessionStats> collect_session_stats() {
    std::vector<SessionStats> out;
    std::string dir = session_stats_dir();
    DIR* d = ::opendir(dir.c_str());
    if (!d) return out;
    while (dirent* e = ::readdir(d)) {
        std::string_view n = e->d_name;
        if (!n.starts_with("couriertcpd.")) continue;
        long pid = std::strtol(std::string(n.substr(12)).c_str(), nullptr, 10);
        std::string path = dir + "/" + std::string(n);
        if (pid <= 0 || (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)) {
            ::unlink(path.c_str());   // couriertcpd was killed before it could remove it
            continue;
        }
        if (auto text = read_file(path, 4096))
            if (auto s = parse_session_stats(*text)) out.push_back(std::move(*s));
    }
    ::closedir(d);
    return out;
}

}  // namespace courierd
