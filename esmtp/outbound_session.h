// One outbound delivery worker's state: the connection kept for reuse, the route and
// TLS policy, and the SMTP transaction of one message to one domain with
// per-recipient results (RFC 5321 3.3, 4.2; STARTTLS RFC 3207; AUTH RFC 4954;
// PIPELINING RFC 2920; CHUNKING RFC 3030). Per MX host it applies DANE (RFC 7672,
// esmtp/dane.h) and the domain's MTA-STS policy (RFC 8461, esmtp/mta_sts.h).
#pragma once
#include <ctime>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>
#include "config/config.h"
#include "esmtp/dane.h"
#include "esmtp/mta_sts.h"
#include "esmtp/outbound_route.h"
#include "esmtp/outbound_smtp.h"
#include "lib/module_protocol.h"

namespace outbound {

// TLS settings from the courierd settings file of the config dir, else the
// environment: TLS_TRUSTCERTS (CA file or folder), TLS_VERIFYPEER (NONE, PEER,
// REQUIREPEER), ESMTP_TLS_VERIFY_DOMAIN (1: the certificate must name the server).
struct TlsPolicy {
    std::string trustcerts;
    bool verify_peer = false;
    bool verify_domain = false;
};
TlsPolicy load_tls_policy(const ConfigDir& cfg);

// What MTA-STS asks of one MX host's connection (RFC 8461 4.2): under enforce, TLS with a
// certificate that chains to a trust anchor and names the MX host; under testing the
// same checks, only logged.
enum class StsCheck { none, testing, enforce };

// Everything one target's connection must satisfy besides esmtproutes' /SECURITY.
struct TargetPolicy {
    DaneDecision dane;
    StsCheck sts = StsCheck::none;
    // TLS may not be skipped (DANE, MTA-STS enforce, or the route's /SECURITY).
    bool must_tls(Security route) const {
        return route != Security::none || dane.kind == DaneDecision::Kind::authenticate ||
               dane.kind == DaneDecision::Kind::encrypt || sts == StsCheck::enforce;
    }
};
// DANE wins (RFC 8461 2): a host with a usable validated TLSA set, or one DANE
// defers, is not also held to the MTA-STS policy.
TargetPolicy combine_policies(DaneDecision dane, const mta_sts::Policy* sts);
// RFC 8461 4.1: under enforce only MX hosts matching the policy are used; the others
// are put in *refused (testing keeps them: refused names are for the log).
std::vector<Target> sts_filter_targets(const std::vector<Target>& targets, const mta_sts::Policy& p,
                                       std::vector<std::string>* refused);

// Peers whose STARTTLS failed: address → until when they are contacted without TLS.
using PenaltyBox = std::map<std::string, std::time_t>;

struct DeliveryOutcome {
    std::vector<DeliveryResult> results;
    bool unreachable = false;                   // no mail server could be contacted
    std::vector<std::pair<std::string, std::time_t>> new_penalties;
};

class Deliverer {
public:
    Deliverer(ConfigDir cfg, PenaltyBox penalties);
    DeliveryOutcome deliver(const DeliveryRequest& req);
    bool connected() const { return conn_.has_value(); }
    void ping();                                 // RSET on an idle connection
    void close();                                // QUIT and close
    const Timeouts& timeouts() const { return timeouts_; }

private:
    struct Plan;
    std::optional<std::string> open_session(const std::string& domain, const SourceSettings& src,
                                            DeliveryOutcome* out, bool* unreachable);
    std::optional<std::string> try_target(const Target& t, const RoutePlan& plan, const std::string& domain,
                                          const SourceSettings& src, bool allow_tls, DeliveryOutcome* out,
                                          bool* tls_failed);
    TargetPolicy target_policy(const Target& t, const RoutePlan& plan, const std::string& domain);
    std::optional<std::string> apply_sts(const std::string& domain, RoutePlan* plan);
    std::optional<std::string> check_secure_channel(const Target& t, const TargetPolicy& tp);
    TlsDane dane_params(const Target& t, const std::string& domain) const;
    std::optional<std::string> verify_certificate(const Target& t);
    std::optional<std::string> hello(const std::string& name);
    std::optional<std::string> starttls(const Target& t, const std::string& helo, bool must_tls,
                                        const TlsDane* dane, DeliveryOutcome* out, bool* tls_failed);
    std::optional<std::string> authenticate(const std::vector<std::string>& names);
    std::optional<std::string> check_extensions(const QueueEnvelope& env, std::string_view message, bool body8,
                                                std::string* converted);
    Reply send_body(std::string_view message);
    void transaction(const DeliveryRequest& req, const QueueEnvelope& env, std::string_view message,
                     DeliveryOutcome* out);
    const TlsContext* tls_context();
    void reset_or_drop();               // RSET after a failed transaction

    ConfigDir cfg_;
    PenaltyBox penalties_;
    Timeouts timeouts_;
    TlsPolicy tls_policy_;
    std::optional<TlsContext> tls_ctx_;
    bool tls_ctx_failed_ = false;
    std::mt19937 rng_;
    std::optional<Connection> conn_;
    std::string conn_key_;                       // domain + source settings of conn_
    Capabilities caps_;
    std::optional<mta_sts::Policy> sts_;         // the MTA-STS policy of the session's domain
    TargetPolicy target_;                        // what the current connection must satisfy
    Target conn_target_;                         // the MX host and address of conn_ (REQUIRETLS)
    bool conn_mx_authenticated_ = false;         // conn_target_ was found securely (RFC 8689 4.2.1)
    bool tls_optional_ = false;                  // the message says TLS-Required: No (RFC 8689 5)
};

}  // namespace outbound
