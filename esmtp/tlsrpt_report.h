// The daily TLS-RPT aggregate report (RFC 8460): grouping the spool's session events
// per policy domain and policy, the JSON report (section 4), the `_smtp._tls` TXT
// record (section 3) and the report message (section 5.3). Pure functions: the
// command around them is esmtp/tlsrptreport.cc, tlsrptreport(8).
#pragma once
#include <ctime>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>
#include "esmtp/tlsrpt.h"

namespace tlsrpt {

struct FailureKey {
    std::string result_type, sending_mta_ip, receiving_mx_hostname, receiving_ip, additional_information;
    auto tie() const {
        return std::tie(result_type, sending_mta_ip, receiving_mx_hostname, receiving_ip, additional_information);
    }
    bool operator<(const FailureKey& o) const { return tie() < o.tie(); }
};

// One "policies" entry: the sessions that met one policy of the domain.
struct PolicySummary {
    PolicyType type = PolicyType::no_policy_found;
    std::vector<std::string> policy_strings;
    std::vector<std::string> mx_host;
    long successes = 0;
    long failures = 0;
    std::map<FailureKey, long> failure_details;   // failed-session-count per kind
};

struct DomainReport {
    std::string policy_domain;
    std::vector<PolicySummary> policies;          // in order of first appearance
};

// Groups events by policy domain (sorted), then by (type, policy strings, mx patterns).
std::vector<DomainReport> aggregate(const std::vector<SessionEvent>& events);

struct ReportSettings {
    std::string organization;    // organization-name (config file tlsrptorg, else me)
    std::string contact;         // contact-info (config file tlsrptcontact, else postmaster@me)
    std::string submitter;       // the reporting domain (me)
};

// "<day>T00:00:00Z_<domain>@<submitter>": unique per day, domain and reporter.
std::string report_id(const DomainReport& r, std::time_t day_start, const ReportSettings& s);
// The RFC 8460 section 4 JSON for one domain and the UTC day starting at day_start.
std::string report_json(const DomainReport& r, std::time_t day_start, const ReportSettings& s);

// A `_smtp._tls.<domain>` TXT record: "v=TLSRPTv1; rua=mailto:a@b,https://...".
struct ReportingPolicy {
    std::vector<std::string> mailto;   // decoded addresses of mailto: URIs
    std::vector<std::string> other;    // other URIs (https:), not supported here
};
// nullopt when the text is not a TLSRPTv1 record or has no rua.
std::optional<ReportingPolicy> parse_reporting_policy(std::string_view txt);
// The one TLSRPTv1 record among a name's TXT records (RFC 8460 3: several or none is
// "no policy"), nullopt otherwise.
std::optional<ReportingPolicy> select_reporting_policy(const std::vector<std::string>& txts);

// RFC 8460 5.1: "<submitter>!<policy-domain>!<begin>!<end>.json".
std::string report_filename(const ReportSettings& s, const std::string& domain, std::time_t begin,
                            std::time_t end);
// The report message (RFC 8460 5.3): multipart/report; report-type="tlsrpt" with a
// text part and the JSON as application/tlsrpt+json, base64, LF line ends.
std::string build_report_message(const DomainReport& r, const std::string& json, std::time_t day_start,
                                 const ReportSettings& s, const std::string& from,
                                 const std::vector<std::string>& to, std::time_t now);

}  // namespace tlsrpt
