// Message authentication in submit (courier-dkim(5)): DKIM signatures for mail we send
// (local mail and authenticated SMTP), and for inbound SMTP mail DKIM verification,
// DMARC evaluation with the SPF result, and one Authentication-Results: header (RFC
// 8601) whose authserv-id is `me`; forged ones claiming that id are removed. DMARC
// enforcement (the `dmarcpolicy` file) may refuse (550 5.7.1) or hold the message.
// SECURITY: runs inside submit as the mail user; the private keys under
// <config>/dkim/ are read here and nowhere else. A DNS failure never refuses mail.
#pragma once
#include <ctime>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include "config/config.h"
#include "lib/dkim.h"
#include "lib/dmarc.h"
#include "lib/spf.h"
#include "lib/submit_client.h"

namespace submit {

// <config>/dkimsettings (a NAME=value file) and <config>/dmarcpolicy (one word).
struct MessageAuthSettings {
    dkim::Canon header_canon = dkim::Canon::relaxed, body_canon = dkim::Canon::relaxed;
    std::vector<std::string> sign_headers = dkim::default_signed_headers();   // DKIM_SIGN_HEADERS
    std::vector<std::string> oversign = {"from"};                            // DKIM_OVERSIGN
    bool verify = true;                           // DKIM_VERIFY
    size_t max_signatures = 5;                    // DKIM_VERIFY_MAX
    dmarc::Disposition enforce = dmarc::Disposition::none;   // dmarcpolicy
    std::string enforce_where = "default";        // "dmarcpolicy:1"
    std::vector<std::string> errors;              // "dkimsettings:3: ..."
};
// dkimsettings text (origin: its name for messages) and the first line of dmarcpolicy.
MessageAuthSettings parse_message_auth_settings(std::string_view settings_text, const std::string& origin,
                                                std::optional<std::string> dmarcpolicy);
MessageAuthSettings load_message_auth_settings(const ConfigDir& cfg);

// What submit knows about a message when it is complete.
struct MessageAuthContext {
    std::string source;              // esmtp, local, dsn, forward
    bool authenticated = false;      // session auth
    bool relay = false;              // session relay yes (RELAYCLIENT or AUTH)
    std::string authserv_id;         // `me` of the message's vhost
    std::string remote_ip, helo, sender;
    std::optional<spf::Result> spf_mailfrom, spf_helo;   // checks the bofh settings made
};

// Which job a message gets: signing (local mail, authenticated SMTP), verification
// (SMTP from clients that are neither authenticated nor relay clients), or none.
enum class AuthJob { none, sign, verify };
AuthJob auth_job(const MessageAuthContext& c);

// The lookups verification makes; the real ones go through lib/dns.h and libspf2.
struct MessageAuthLookups {
    dkim::TxtLookup txt;
    std::function<spf::Result(const spf::Request&)> spf;
    std::function<int()> random_percent;   // DMARC pct= sampling, [0, 100)
    static MessageAuthLookups real();
};

struct AuthOutcome {
    std::optional<SubmitReply> reply;          // DMARC reject: give the client this
    std::string results;                       // the Authentication-Results: field, or ""
    std::string signatures;                    // DKIM-Signature: fields to prepend, or ""
    std::optional<std::string> rewritten;      // the message without forged A-R fields
    bool hold = false;                         // DMARC quarantine: hold in the queue
    std::string hold_reason;
    std::string hold_record(std::time_t now) const;   // "" or the status log hold record
};

// ---- the rules, pure ----------------------------------------------------------------
// The authserv-id of an Authentication-Results: value (comments and version dropped).
std::string authserv_id_of(std::string_view value);
// The message without Authentication-Results: fields claiming `authserv_id`; nullopt
// when there is none (RFC 8601 5).
std::optional<std::string> remove_forged_results(std::string_view message, std::string_view authserv_id);
// The domain of the first From: address, lower case ("" when none).
std::string from_domain(std::string_view message);
// Domains a key may sign for: the From: domain, then its parents ("a.b.c" -> a.b.c, b.c).
std::vector<std::string> signing_domain_candidates(std::string_view domain);
// Selectors of a domain's key folder: "<selector>.private" names, sorted.
std::vector<std::string> selectors_in(const std::string& dir);

struct SpfForDmarc {
    spf::Result result = spf::Result::none;
    std::string property;   // "smtp.mailfrom=a@b" or "smtp.helo=host"
    std::string domain;     // the identity's domain, for alignment
};
std::string format_results(const std::string& authserv_id, const SpfForDmarc& spf,
                           const std::vector<dkim::VerifyResult>& dkim, const dmarc::Evaluation& dmarc,
                           const std::string& from_domain);
// What dmarcpolicy makes of a DMARC verdict: refuse, hold, or nothing (rule for logs).
struct Enforcement {
    enum class Action { none, hold, reject } action = Action::none;
    std::string rule;
};
Enforcement decide_enforcement(const dmarc::Evaluation& e, dmarc::Disposition enforce);

// ---- the whole step -----------------------------------------------------------------
AuthOutcome authenticate_message(const ConfigDir& cfg, const MessageAuthSettings& settings,
                                 const MessageAuthContext& c, std::string_view message,
                                 const MessageAuthLookups& lookups, std::time_t now);

}  // namespace submit
