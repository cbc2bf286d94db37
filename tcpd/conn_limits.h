// Connection-slot accounting for couriertcpd: -maxprocs (total), -maxperip (one
// address, overridable per connection by MAXCPERIP from the access file), -maxperc
// (one IPv4 C block, /24; for IPv6 the /64 a single site gets), and the -warn /
// maximum alerts. Pure bookkeeping keyed by child pid, so it is unit-tested.
#pragma once
#include <sys/types.h>
#include <map>
#include <optional>
#include <string>
#include <string_view>

// The accounting keys of one remote address, from its text form (as in TCPREMOTEIP).
struct PeerKey {
    std::string ip;       // the address itself
    std::string block;    // "1.2.3" for IPv4; the first four groups for IPv6
};
PeerKey peer_key(std::string_view ip_text);

struct ConnectionLimitConfig {
    unsigned max_procs = 64;
    unsigned max_per_ip = 0;    // 0: no limit
    unsigned max_per_c = 0;     // 0: no limit
    unsigned warn = 57;         // warn when the count exceeds this
};

// What the server should log after a slot was taken, once per crossing.
enum class LoadEvent { none, warning, alert };

enum class Admission { accept, too_many_from_ip, too_many_from_block };

class ConnectionLimits {
public:
    explicit ConnectionLimits(ConnectionLimitConfig c) : cfg_(c) {}

    // No free slot: the server stops accepting until a child exits.
    bool full() const { return by_pid_.size() >= cfg_.max_procs; }
    size_t active() const { return by_pid_.size(); }
    // Whether a connection from `peer` fits the per-address and per-block limits.
    // max_per_ip_override: MAXCPERIP from the access file, when it sets one.
    Admission admit(const PeerKey& peer,
                    std::optional<unsigned> max_per_ip_override = std::nullopt) const;
    // Records the child serving `peer`; returns the alert to log, if any. A peer with
    // an empty ip is pending (a -haproxy child still reading the PROXY header): it
    // takes a slot but counts for no address until assign() names it.
    LoadEvent add(pid_t pid, const PeerKey& peer);
    // Names the address a pending child serves, if the per-address limits allow it;
    // otherwise the child stays pending (the caller ends it).
    Admission assign(pid_t pid, const PeerKey& peer,
                     std::optional<unsigned> max_per_ip_override = std::nullopt);
    // Frees the child's slot; false when the pid was not ours.
    bool remove(pid_t pid);
    unsigned count_ip(std::string_view ip) const;
    unsigned count_block(std::string_view block) const;
    template <typename F> void for_each_pid(F f) const {
        for (const auto& [pid, peer] : by_pid_) f(pid);
    }

private:
    static void decrement(std::map<std::string, unsigned, std::less<>>& m, const std::string& k);
    ConnectionLimitConfig cfg_;
    std::map<pid_t, PeerKey> by_pid_;
    std::map<std::string, unsigned, std::less<>> per_ip_, per_block_;
    bool warned_ = false, alerted_ = false;
};
