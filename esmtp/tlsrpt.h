// TLS-RPT (RFC 8460) recording: courieresmtp notes the TLS outcome of every outbound
// session as one line in spool/tlsrpt/YYYY-MM-DD (UTC day), which tlsrptreport(8)
// aggregates into the daily JSON report. Lines are short, written with one write() on
// an O_APPEND descriptor under flock, so concurrent workers never interleave them; a
// torn last line (crash) is skipped by the reader. SECURITY: runs in courieresmtp (mail
// user); the spool folder is the mail user's, mode 0750.
#pragma once
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tlsrpt {

// RFC 8460 4.3: the policy in force for the session.
enum class PolicyType { tlsa, sts, no_policy_found };
std::string_view policy_type_name(PolicyType t);
std::optional<PolicyType> parse_policy_type(std::string_view s);

// One outbound session (or one failed TLS attempt) as recorded.
struct SessionEvent {
    std::time_t time = 0;
    std::string policy_domain;               // the recipient domain (lower case)
    PolicyType policy_type = PolicyType::no_policy_found;
    std::vector<std::string> policy_strings; // TLSA records / MTA-STS policy lines
    std::vector<std::string> mx_host;        // MTA-STS "mx" patterns (sts only)
    bool success = false;
    std::string result_type;                 // failure: RFC 8460 4.3 result-type
    std::string sending_mta_ip;
    std::string receiving_mx_hostname;
    std::string receiving_ip;
    std::string additional_information;      // failure: free text (the TLS error)
};

// The spool line (with its LF): "tlsrpt1 <time> <domain> <policy-type>
// <success|failure> <result-type|-> <sending-ip|-> <mx|-> <receiving-ip|-> <info|->
// <policy-strings|-> <mx-patterns|->", every field xtext; lists joined by LF before
// encoding. Truncates the free text so the line stays below PIPE_BUF.
std::string format_event(const SessionEvent& e);
// nullopt for a malformed line (or another version).
std::optional<SessionEvent> parse_event(std::string_view line);
// Every complete line of a day file ("\n"-terminated); malformed ones are skipped.
std::vector<SessionEvent> parse_day_file(std::string_view text);

// "YYYY-MM-DD" of a UTC time, and back (nullopt when malformed).
std::string utc_day(std::time_t t);
std::optional<std::time_t> parse_utc_day(std::string_view day);

// The RFC 8460 result-type for a failed TLS negotiation, from the TLS library's error
// text (OpenSSL verify messages): certificate-expired, certificate-host-mismatch,
// certificate-not-trusted, starttls-not-supported (STARTTLS refused) or
// validation-failure (anything else).
std::string classify_tls_failure(std::string_view error_text);

// Appends the event to <spool>/tlsrpt/<utc day of e.time>; the folder is created
// (0750) when missing. Failures are logged, never fatal: reporting must not stop mail.
void record(const std::string& spool_dir, const SessionEvent& e);

// The RFC 8460 result-type of an outbound connection error reply (as
// esmtp/outbound_session.cc words them: STARTTLS/handshake failures, certificate
// checks, DANE and MTA-STS verdicts, TLS required but not offered); nullopt for
// failures that are not about TLS (connect, greeting, AUTH). *type is set to the policy
// the reply names (DANE: tlsa, MTA-STS: sts), else left alone.
std::optional<std::string> failure_type_of_reply(std::string_view reply, PolicyType* type);

// The outbound session's hook after one connection attempt to mx_host: error is the
// attempt's error reply (recorded when it is about TLS), or nullopt when the session
// is ready: a success with TLS, a starttls-not-supported failure when the peer did not
// offer STARTTLS, nothing when TLS was skipped on purpose (penalty box, retry in clear).
void record_attempt(const std::string& domain, PolicyType type, const std::string& mx_host,
                    const std::string& mx_ip, const std::string& local_ip,
                    const std::optional<std::string>& error, bool tls_active, bool starttls_offered);

// The hook for the outbound session (esmtp/outbound_session.cc, and the DANE/MTA-STS
// code): records one session of `domain` at mx_host/mx_ip from local_ip, now, in the
// spool of paths(). An empty result_type records a success.
void record_session(const std::string& domain, PolicyType type, const std::string& mx_host,
                    const std::string& mx_ip, const std::string& local_ip,
                    const std::string& result_type = "", const std::string& detail = "",
                    const std::vector<std::string>& policy_strings = {},
                    const std::vector<std::string>& mx_patterns = {});

}  // namespace tlsrpt
