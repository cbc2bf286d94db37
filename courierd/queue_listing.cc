// The mailq listing; see queue_listing.h.
#include "courierd/queue_listing.h"
#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include "lib/address.h"

namespace courierd {

namespace {

std::string local_time(std::time_t t) {
    struct tm tm;
    localtime_r(&t, &tm);
    char buf[32];
    strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

std::string printable(const std::string& s) {
    std::string out;
    for (char c : s) out += (static_cast<unsigned char>(c) < 32 || c == 127) ? '?' : c;
    return out;
}

}  // namespace

ListedMessage list_message(const QueueEnvelope& env, const std::vector<StatusRecord>& log) {
    ListedMessage m;
    m.id = env.id.text;
    m.size = env.data_size;
    m.arrival = env.arrival;
    m.sender = env.sender;
    m.source = env.source;
    for (const auto& r : env.rcpts) m.rcpts.push_back({r.address, "pending", ""});
    std::vector<bool> final_(env.rcpts.size(), false);
    for (const auto& r : log) {
        using K = StatusRecord::Kind;
        if (r.kind == K::hold || r.kind == K::release) {   // doc/filters.md, HOLD
            m.held = r.kind == K::hold;
            m.hold_reason = m.held ? r.text : "";
            continue;
        }
        if (r.kind == K::retry) {
            m.attempts = r.attempts;
            m.next_attempt = r.next;
            continue;
        }
        if (r.kind == K::notice || r.rcpt >= m.rcpts.size() || final_[r.rcpt]) continue;
        auto& lr = m.rcpts[r.rcpt];
        lr.text = r.text;
        if (r.kind == K::deferred) lr.state = "deferred";
        if (r.kind == K::delivered || r.kind == K::relayed) lr.state = "delivered";
        if (r.kind == K::failed) lr.state = "failed";
        if (r.kind != K::deferred) final_[r.rcpt] = true;
    }
    return m;
}

std::string format_listing_text(const std::vector<ListedMessage>& msgs) {
    std::string out;
    char line[512];
    for (const auto& m : msgs) {
        std::snprintf(line, sizeof line, "%-24s %10llu  %s  <%s>\n", m.id.c_str(),
                      static_cast<unsigned long long>(m.size), local_time(m.arrival).c_str(),
                      printable(m.sender).c_str());
        out += line;
        if (m.held) out += "    held" + (m.hold_reason.empty() ? "" : ": " + printable(m.hold_reason)) + "\n";
        for (const auto& r : m.rcpts) {
            out += "    <" + printable(r.address) + "> " + r.state;
            if (r.state == "deferred" || r.state == "pending")
                out += m.next_attempt ? ", next attempt " + local_time(m.next_attempt)
                                      : std::string(", next attempt now");
            if (!r.text.empty()) out += ": " + printable(r.text);
            out += "\n";
        }
    }
    out += std::to_string(msgs.size()) + (msgs.size() == 1 ? " message" : " messages") +
           " in the queue.\n";
    return out;
}

std::string json_string(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') { out += '\\'; out += c; }
        else if (u < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", u);
            out += buf;
        } else {
            out += c;   // UTF-8 passes through; other bytes are the sender's problem
        }
    }
    return out + "\"";
}

std::string format_listing_json(const std::vector<ListedMessage>& msgs) {
    std::string out = "[";
    for (size_t i = 0; i < msgs.size(); ++i) {
        const auto& m = msgs[i];
        out += i ? ",\n " : "\n ";
        out += "{\"id\": " + json_string(m.id) + ", \"size\": " + std::to_string(m.size) +
               ", \"arrival\": " + std::to_string(static_cast<long long>(m.arrival)) +
               ", \"sender\": " + json_string(m.sender) + ", \"source\": " + json_string(m.source) +
               ", \"attempts\": " + std::to_string(m.attempts) +
               ", \"next_attempt\": " + std::to_string(static_cast<long long>(m.next_attempt)) +
               ", \"held\": " + (m.held ? "true" : "false") +
               ", \"recipients\": [";
        for (size_t k = 0; k < m.rcpts.size(); ++k) {
            const auto& r = m.rcpts[k];
            out += (k ? ", " : "") + std::string("{\"address\": ") + json_string(r.address) +
                   ", \"state\": " + json_string(r.state) + ", \"text\": " + json_string(r.text) + "}";
        }
        out += "]}";
    }
    out += msgs.empty() ? "]\n" : "\n]\n";
    return out;
}

std::vector<DomainSummary> summarize_by_domain(const std::vector<ListedMessage>& msgs) {
    std::map<std::string, DomainSummary> by_domain;
    DomainSummary total;
    total.domain = "TOTAL";
    for (const auto& m : msgs) {
        std::set<std::string> seen;
        bool counted = false;
        for (const auto& r : m.rcpts) {
            bool pending = r.state == "pending", deferred = r.state == "deferred";
            if (!pending && !deferred) continue;
            size_t at = r.address.rfind('@');
            std::string domain = at == std::string::npos ? "(local)" : lowercase_ascii(r.address.substr(at + 1));
            DomainSummary& row = by_domain[domain];
            row.domain = domain;
            (pending ? row.pending : row.deferred)++;
            (pending ? total.pending : total.deferred)++;
            if (seen.insert(domain).second) row.messages++;
            if (!counted) total.messages++;
            counted = true;
        }
    }
    std::vector<DomainSummary> rows;
    for (auto& [d, row] : by_domain) rows.push_back(row);
    std::stable_sort(rows.begin(), rows.end(),
                     [](const DomainSummary& a, const DomainSummary& b) { return a.total() > b.total(); });
    rows.push_back(total);
    return rows;
}

std::string format_summary_text(const std::vector<DomainSummary>& rows) {
    std::string out;
    char line[512];
    std::snprintf(line, sizeof line, "%-40s %8s %8s %8s %8s\n", "domain", "messages", "rcpts", "pending",
                  "deferred");
    out += line;
    for (const auto& r : rows) {
        std::snprintf(line, sizeof line, "%-40s %8u %8u %8u %8u\n", printable(r.domain).c_str(), r.messages,
                      r.total(), r.pending, r.deferred);
        out += line;
    }
    return out;
}

}  // namespace courierd
