// SPF policy of submit (courier(8), bofh "opt BOFHSPF*" and "Sender Policy Framework
// Keywords"): which of the three identities (HELO, MAIL FROM, From:) are checked,
// which results are accepted, 5xx or 4xx and the reply text, allowok, mailfromok,
// BOFHSPFTRUSTME, BOFHSPFNOVERBOSE; the Received-SPF: headers of a message and the
// renaming of incoming ones to Old-Received-SPF:. The decisions are pure functions;
// SpfChecker only strings them together for one message. The result of one check
// comes from lib/spf.h.
#pragma once
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include "lib/spf.h"
#include "lib/submit_client.h"

namespace submit {

enum class SpfIdentity { helo, mailfrom, from };
std::string_view spf_setting_name(SpfIdentity id);    // BOFHSPFHELO, BOFHSPFMAILFROM, BOFHSPFFROM
std::string_view spf_identity_word(SpfIdentity id);   // helo, mailfrom, from (Received-SPF identity=)

// One of BOFHSPFHELO / BOFHSPFMAILFROM / BOFHSPFFROM.
struct SpfPolicy {
    bool enabled = false;             // false: "off" (the default)
    unsigned accepted = 0;            // bit (1 << int(spf::Result)) per accepted result
    bool allowok = false;             // whitelisted clients (-allow) pass whatever the result
    bool mailfromok = false;          // BOFHSPFFROM only: skip From: when MAIL FROM passed
    std::string text = "off";         // the setting as written, for logs
    std::string where = "default";    // "bofh:12"
    bool accepts(spf::Result r) const { return accepted & (1u << int(r)); }
};

struct SpfSettings {
    SpfPolicy helo, mailfrom, from;
    unsigned hard_errors = (1u << int(spf::Result::fail)) | (1u << int(spf::Result::softfail));
    std::string hard_text = "fail,softfail", hard_where = "default";
    bool trust_relay_clients = false;   // BOFHSPFTRUSTME=1
    bool no_verbose = false;            // BOFHSPFNOVERBOSE=1
    std::vector<std::string> errors;    // "bofh:3: BOFHSPFHELO: unknown keyword "x""

    const SpfPolicy& policy(SpfIdentity id) const;
    bool any_enabled() const { return helo.enabled || mailfrom.enabled || from.enabled; }
};

// A keyword list ("pass,none,allowok"). `mailfromok_allowed` only for BOFHSPFFROM.
// Unknown keywords are reported in *errors (with `where`) and ignored. "off" anywhere,
// or an empty list, turns the check off.
SpfPolicy parse_spf_policy(std::string_view name, std::string_view value, std::string where,
                           bool mailfromok_allowed, std::vector<std::string>* errors);
// All SPF settings from the "opt NAME=value" lines of the bofh file (BofhConfig::opts
// and opt_where, submit/bofh.h).
using OptMap = std::map<std::string, std::string, std::less<>>;
SpfSettings parse_spf_settings(const OptMap& opts, const OptMap& where);

// What the session knows when a check is made.
struct SpfSession {
    std::string source;         // submit source: only esmtp mail is checked
    std::string remote_ip, helo;
    bool relay = false;         // RELAYCLIENT or authenticated ("session relay yes")
    std::string dnswl_zone;     // "session dnswl": the -allow list that whitelisted the client
};

// The reasons a check is not made at all, as the log word, or nullopt when it is made.
// Checks need an esmtp message with a client address; BOFHSPFTRUSTME=1 skips relay
// clients; HELO is not checked when it is an address (courier(8)); MAIL FROM is not
// checked for the null sender; From: is not checked when mailfromok and MAIL FROM
// passed, or without a From: address.
std::optional<std::string> spf_skip_reason(SpfIdentity id, const SpfSettings& s,
                                           const SpfSession& session, std::string_view subject,
                                           std::optional<spf::Result> mailfrom_result);
// "[192.0.2.1]", "192.0.2.1", "[IPv6:2001:db8::1]", or the client's own address.
bool helo_is_address(std::string_view helo, std::string_view remote_ip);

struct SpfDecision {
    bool accepted = true;
    SubmitReply reply;   // when refused: 550/451 with 5.7.23 / 5.7.24 (RFC 7372)
    std::string rule;    // what made the decision, for the log
};
// The policy for one result: accepted when listed, or when allowok and the client is
// whitelisted; otherwise 5xx when the result is in BOFHSPFHARDERROR, else 4xx, with
// "SPF <keyword> <subject>: <explanation>" (BOFHSPFNOVERBOSE: a fixed text).
SpfDecision decide_spf(SpfIdentity id, const SpfSettings& s, spf::Result result, bool whitelisted,
                       std::string_view subject, std::string_view explanation);

// Message bytes as they arrive (CRLF or LF): in the header block, every
// "Received-SPF:" field becomes "Old-Received-SPF:" (courier(8): all Received-SPF
// headers a mailbox sees are our own), and the first From: field is kept for the
// From: check. Bytes after the header block pass unchanged.
class SpfHeaderFilter {
public:
    explicit SpfHeaderFilter(bool rename = true) : rename_(rename) {}
    void append(std::string_view in, std::string& out);
    void finish(std::string& out);            // the end of the message
    const std::string& from_field() const { return from_; }   // unfolded value, "" if none
    void reset(bool rename);

private:
    void decide_line(std::string& out);
    bool rename_;
    bool in_body_ = false;
    bool at_line_start_ = true;   // buffering the first bytes of a line in prefix_
    std::string prefix_;
    enum class Field { other, from } field_ = Field::other;
    bool from_done_ = false;      // a From: field was seen (only the first counts)
    std::string from_;
};
// The first address of a From: value ("Name <a@b>, c@d" -> "a@b"), "" if none.
std::string first_from_address(std::string_view from_value);

// The SPF checks of one message in submit, in order: check_mail at MAIL (HELO, then
// MAIL FROM), the message through filter(), check_from at the end of data; then
// headers() for the queue file. Every decision is logged with the setting that made it.
class SpfChecker {
public:
    SpfChecker(SpfSettings settings, spf::Lookups dns);
    const SpfSettings& settings() const { return settings_; }

    // A new message: its session facts, MAIL FROM ("" for <>), and our name (`me` of
    // its vhost) for the checks and headers. Received-SPF: fields of mail from
    // outside (sources esmtp and local) are renamed; notices and forwards carry ours.
    void reset(const SpfSession& session, std::string sender, std::string receiver);
    std::optional<SubmitReply> check_mail();
    void filter(std::string_view in, std::string& out) { filter_.append(in, out); }
    void finish_filter(std::string& out) { filter_.finish(out); }
    std::optional<SubmitReply> check_from();
    // The Received-SPF: fields of the checks made, HELO, MAIL FROM, From: (LF ends).
    std::string headers() const;
    std::optional<spf::Result> result(SpfIdentity id) const;

private:
    std::optional<SubmitReply> run(SpfIdentity id, const std::string& subject);

    SpfSettings settings_;
    spf::Lookups dns_;
    std::string receiver_;
    SpfSession session_;
    std::string sender_;
    SpfHeaderFilter filter_;
    struct Done {
        SpfIdentity id;
        spf::Verdict verdict;
    };
    std::vector<Done> done_;
};

}  // namespace submit
