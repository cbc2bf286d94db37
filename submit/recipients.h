// Recipient routing for submit: which delivery module gets an address and which host
// (account or domain) it goes to, and whether it is accepted at all (local accounts
// must exist; relaying needs "relay yes" from an esmtp caller). doc/architecture.md,
// "The submit protocol"; courier(8): locals, defaultdomain, locallowercase.
#pragma once
#include <map>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include "config/config.h"
#include "lib/queue.h"
#include "lib/submit_client.h"
#include "submit/accepted_domains.h"
#include "submit/relay_rules.h"

namespace submit {

// What submit needs from the configuration for one vhost, read once and kept for the
// life of the submit process (one SMTP session), so a recipient costs no file reads.
struct VhostConfig {
    std::string me;                    // ConfigDir::me(vhost), for Received:
    std::vector<std::string> locals;   // ConfigDir::locals(vhost)
    // locals, hosteddomains (user@domain there is the local mailbox "user@domain"),
    // esmtpacceptmailfor, each match with its file:line.
    AcceptedDomains domains;
    std::string default_domain;        // ConfigDir::default_domain(vhost)
    bool lowercase_local = false;      // the file locallowercase exists
    std::optional<uint64_t> size_limit;   // sizelimit(.<vhost>), when the file exists
    static VhostConfig load(const ConfigDir& cfg, std::string_view vhost);
};

// A sizelimit value (courier(8)): bytes, 0 for no limit; the 10 MiB default for an
// empty or malformed value.
uint64_t parse_size_limit(std::string_view text);

// Caches VhostConfig per vhost key.
class VhostConfigCache {
public:
    explicit VhostConfigCache(const ConfigDir& cfg) : cfg_(cfg) {}
    const VhostConfig& get(const std::string& vhost);
private:
    const ConfigDir& cfg_;
    std::map<std::string, VhostConfig, std::less<>> by_vhost_;
};

// True when `account` is a user of this system (getpwnam); replaceable in tests.
using AccountExists = bool (*)(const std::string& account);
bool system_account_exists(const std::string& account);

// The account of a local part with an address extension (dot-courier(5)): the local
// part itself when it is an account, else the longest prefix ending before a '-' that
// is one ("user-foo-bar": user-foo-bar, user-foo, user). nullopt when none is.
std::optional<std::string> account_for_local_part(const std::string& local,
                                                  AccountExists account_exists);

struct RouteDecision {
    std::optional<QueueRecipient> rcpt;   // accepted: address, module, host
    SubmitReply reply;                    // 250 2.1.5, or the refusal
    std::string rule;                     // what decided it, for the log ("locals:2", ...)
};

// True for a domain whose mail is delivered here by local part alone ("" included).
bool is_local_domain(std::string_view domain, const VhostConfig& cfg);
bool is_hosted_domain(std::string_view domain, const VhostConfig& cfg);
// The class of a domain and the rule (file:line) that gave it.
DomainClass classify_domain(std::string_view domain, const VhostConfig& cfg, std::string* rule);

// Routes one decoded recipient address (a bare mailbox, as in the rcpt command).
// relay_allowed: the source is not esmtp, or the esmtp session said "relay yes".
// Without it only local, hosted and esmtpacceptmailfor domains are accepted, and
// only with a local part that routes nowhere else (decide_relay).
// A local part with an address extension goes to its account (account_for_local_part),
// the address keeping the extension for courierlocal.
// postmaster (RFC 5321 4.5.1) is always accepted: without an account of that name it
// goes to the mail user's account (an alias for postmaster is the proper fix).
RouteDecision route_recipient(std::string_view address, const VhostConfig& cfg,
                              bool relay_allowed, AccountExists account_exists);

}  // namespace submit
