// Connection-slot accounting for couriertcpd (couriertcpd(1): -maxprocs, -maxperip,
// -maxperc, -warn). Alerts are edge-triggered so a busy server logs one line when it
// crosses a threshold, not one per connection.
#include "tcpd/conn_limits.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdio>

namespace {

// First 64 bits of an IPv6 address as "2001:db8:0:1"; the text itself if unparsable.
std::string ipv6_block(std::string_view ip) {
    std::string s(ip);
    unsigned char b[16];
    if (inet_pton(AF_INET6, s.c_str(), b) != 1) return s;
    char buf[40];
    std::snprintf(buf, sizeof buf, "%x:%x:%x:%x", b[0] << 8 | b[1], b[2] << 8 | b[3],
                  b[4] << 8 | b[5], b[6] << 8 | b[7]);
    return buf;
}

}  // namespace

PeerKey peer_key(std::string_view ip_text) {
    PeerKey k;
    k.ip = std::string(ip_text);
    if (ip_text.find(':') != std::string_view::npos) {
        k.block = ipv6_block(ip_text);
    } else {
        auto dot = ip_text.rfind('.');
        k.block = std::string(ip_text.substr(0, dot));
    }
    return k;
}

unsigned ConnectionLimits::count_ip(std::string_view ip) const {
    auto it = per_ip_.find(ip);
    return it == per_ip_.end() ? 0 : it->second;
}

unsigned ConnectionLimits::count_block(std::string_view block) const {
    auto it = per_block_.find(block);
    return it == per_block_.end() ? 0 : it->second;
}

Admission ConnectionLimits::admit(const PeerKey& peer,
                                  std::optional<unsigned> max_per_ip_override) const {
    unsigned per_ip = max_per_ip_override.value_or(cfg_.max_per_ip);
    if (per_ip > 0 && count_ip(peer.ip) >= per_ip) return Admission::too_many_from_ip;
    if (cfg_.max_per_c > 0 && count_block(peer.block) >= cfg_.max_per_c)
        return Admission::too_many_from_block;
    return Admission::accept;
}

LoadEvent ConnectionLimits::add(pid_t pid, const PeerKey& peer) {
    if (!by_pid_.emplace(pid, peer).second) return LoadEvent::none;
    if (!peer.ip.empty()) {
        ++per_ip_[peer.ip];
        ++per_block_[peer.block];
    }
    if (by_pid_.size() >= cfg_.max_procs && !alerted_) {
        alerted_ = warned_ = true;
        return LoadEvent::alert;
    }
    if (by_pid_.size() > cfg_.warn && !warned_) {
        warned_ = true;
        return LoadEvent::warning;
    }
    return LoadEvent::none;
}

void ConnectionLimits::decrement(std::map<std::string, unsigned, std::less<>>& m,
                                 const std::string& k) {
    auto it = m.find(k);
    if (it == m.end()) return;
    if (--it->second == 0) m.erase(it);
}

Admission ConnectionLimits::assign(pid_t pid, const PeerKey& peer,
                                   std::optional<unsigned> max_per_ip_override) {
    auto it = by_pid_.find(pid);
    if (it == by_pid_.end() || !it->second.ip.empty()) return Admission::too_many_from_ip;
    Admission a = admit(peer, max_per_ip_override);
    if (a != Admission::accept) return a;
    it->second = peer;
    ++per_ip_[peer.ip];
    ++per_block_[peer.block];
    return a;
}

bool ConnectionLimits::remove(pid_t pid) {
    auto it = by_pid_.find(pid);
    if (it == by_pid_.end()) return false;
    if (!it->second.ip.empty()) {
        decrement(per_ip_, it->second.ip);
        decrement(per_block_, it->second.block);
    }
    by_pid_.erase(it);
    // Re-arm the alerts once the load has really dropped below each threshold.
    if (by_pid_.size() < cfg_.max_procs) alerted_ = false;
    if (by_pid_.size() <= cfg_.warn) warned_ = false;
    return true;
}
