// One outbound delivery worker's state: the connection kept for reuse, the route and
// TLS policy, and the SMTP transaction of one message to one domain with
// per-recipient results (RFC 5321 3.3, 4.2; STARTTLS RFC 3207; AUTH RFC 4954;
// PIPELINING RFC 2920; CHUNKING RFC 3030).
#pragma once
#include <ctime>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>
#include "config/config.h"
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
    std::optional<std::string> verify_certificate(const Target& t);
    std::optional<std::string> hello(const std::string& name);
    std::optional<std::string> starttls(const Target& t, const std::string& helo, bool must_tls,
                                        DeliveryOutcome* out, bool* tls_failed);
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
};

}  // namespace outbound
