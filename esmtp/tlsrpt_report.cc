// The TLS-RPT aggregate report: see tlsrpt_report.h.
#include "esmtp/tlsrpt_report.h"

#include <algorithm>
#include <cctype>
#include "courierd/dsn.h"
#include "courierd/queue_listing.h"
#include "esmtp/outbound_smtp.h"

namespace tlsrpt {

namespace {
using courierd::json_string;

std::string iso_utc(std::time_t t) {
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string json_list(const std::vector<std::string>& v) {
    std::string out = "[";
    for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + json_string(v[i]);
    return out + "]";
}

std::string trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return std::string(s);
}

// %XX escapes of a mailto: URI (RFC 6068); nullopt when malformed.
std::optional<std::string> percent_decode(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '%') {
            out += s[i];
            continue;
        }
        if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
            !std::isxdigit(static_cast<unsigned char>(s[i + 2])))
            return std::nullopt;
        out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
        i += 2;
    }
    return out;
}

std::string wrap76(const std::string& b64) {
    std::string out;
    for (size_t i = 0; i < b64.size(); i += 76) out += b64.substr(i, 76) + "\n";
    return out;
}

std::string detail_json(const FailureKey& k, long count) {
    std::string out = "{\"result-type\": " + json_string(k.result_type);
    if (!k.sending_mta_ip.empty()) out += ", \"sending-mta-ip\": " + json_string(k.sending_mta_ip);
    if (!k.receiving_mx_hostname.empty()) out += ", \"receiving-mx-hostname\": " + json_string(k.receiving_mx_hostname);
    if (!k.receiving_ip.empty()) out += ", \"receiving-ip\": " + json_string(k.receiving_ip);
    out += ", \"failed-session-count\": " + std::to_string(count);
    if (!k.additional_information.empty())
        out += ", \"failure-reason-code\": " + json_string(k.additional_information);
    return out + "}";
}
}  // namespace

std::vector<DomainReport> aggregate(const std::vector<SessionEvent>& events) {
    std::map<std::string, DomainReport> by_domain;
    for (const auto& e : events) {
        DomainReport& d = by_domain[e.policy_domain];
        d.policy_domain = e.policy_domain;
        auto it = std::find_if(d.policies.begin(), d.policies.end(), [&](const PolicySummary& p) {
            return p.type == e.policy_type && p.policy_strings == e.policy_strings && p.mx_host == e.mx_host;
        });
        if (it == d.policies.end()) {
            d.policies.push_back(PolicySummary{e.policy_type, e.policy_strings, e.mx_host, 0, 0, {}});
            it = d.policies.end() - 1;
        }
        if (e.success) {
            ++it->successes;
            continue;
        }
        ++it->failures;
        ++it->failure_details[FailureKey{e.result_type, e.sending_mta_ip, e.receiving_mx_hostname, e.receiving_ip,
                                         e.additional_information}];
    }
    std::vector<DomainReport> out;
    for (auto& [_, d] : by_domain) out.push_back(std::move(d));
    return out;
}

std::string report_id(const DomainReport& r, std::time_t day_start, const ReportSettings& s) {
    return iso_utc(day_start) + "_" + r.policy_domain + "@" + s.submitter;
}

std::string report_json(const DomainReport& r, std::time_t day_start, const ReportSettings& s) {
    std::string out = "{\n";
    out += "  \"organization-name\": " + json_string(s.organization) + ",\n";
    out += "  \"date-range\": {\"start-datetime\": " + json_string(iso_utc(day_start)) +
           ", \"end-datetime\": " + json_string(iso_utc(day_start + 86400 - 1)) + "},\n";
    out += "  \"contact-info\": " + json_string(s.contact) + ",\n";
    out += "  \"report-id\": " + json_string(report_id(r, day_start, s)) + ",\n";
    out += "  \"policies\": [";
    for (size_t i = 0; i < r.policies.size(); ++i) {
        const PolicySummary& p = r.policies[i];
        out += i ? ",\n    {" : "\n    {";
        out += "\"policy\": {\"policy-type\": " + json_string(std::string(policy_type_name(p.type)));
        if (!p.policy_strings.empty()) out += ", \"policy-string\": " + json_list(p.policy_strings);
        out += ", \"policy-domain\": " + json_string(r.policy_domain);
        if (!p.mx_host.empty()) out += ", \"mx-host\": " + json_list(p.mx_host);
        out += "},\n     \"summary\": {\"total-successful-session-count\": " + std::to_string(p.successes) +
               ", \"total-failure-session-count\": " + std::to_string(p.failures) + "}";
        if (!p.failure_details.empty()) {
            out += ",\n     \"failure-details\": [";
            size_t k = 0;
            for (const auto& [key, count] : p.failure_details)
                out += (k++ ? ",\n       " : "\n       ") + detail_json(key, count);
            out += "]";
        }
        out += "}";
    }
    out += "\n  ]\n}\n";
    return out;
}

std::optional<ReportingPolicy> parse_reporting_policy(std::string_view txt) {
    // RFC 8460 3: tlsrpt-record = tlsrpt-version 1*(field-delim tlsrpt-field) [field-delim]
    std::vector<std::string> fields;
    size_t p = 0;
    while (p <= txt.size()) {
        size_t e = txt.find(';', p);
        if (e == std::string_view::npos) e = txt.size();
        std::string f = trim(txt.substr(p, e - p));
        if (!f.empty()) fields.push_back(f);
        p = e + 1;
    }
    if (fields.empty() || fields[0] != "v=TLSRPTv1") return std::nullopt;
    std::optional<ReportingPolicy> out;
    for (size_t i = 1; i < fields.size(); ++i) {
        if (fields[i].rfind("rua=", 0) != 0) continue;   // unknown fields are ignored
        ReportingPolicy pol;
        std::string_view list = std::string_view(fields[i]).substr(4);
        size_t q = 0;
        while (q <= list.size()) {
            size_t e = list.find(',', q);
            if (e == std::string_view::npos) e = list.size();
            std::string uri = trim(list.substr(q, e - q));
            q = e + 1;
            if (uri.empty()) continue;
            std::string scheme = uri.substr(0, uri.find(':') + 1);
            std::transform(scheme.begin(), scheme.end(), scheme.begin(), ::tolower);
            if (scheme == "mailto:") {
                std::string addr = uri.substr(7);
                addr = addr.substr(0, addr.find('?'));   // no headers from DNS
                auto decoded = percent_decode(addr);
                if (decoded && decoded->find('@') != std::string::npos &&
                    decoded->find_first_of(" <>\r\n") == std::string::npos)
                    pol.mailto.push_back(*decoded);
            } else {
                pol.other.push_back(uri);
            }
        }
        if (pol.mailto.empty() && pol.other.empty()) return std::nullopt;
        out = std::move(pol);
        break;
    }
    return out;
}

std::optional<ReportingPolicy> select_reporting_policy(const std::vector<std::string>& txts) {
    std::optional<ReportingPolicy> found;
    int records = 0;
    for (const auto& t : txts) {
        if (trim(t).rfind("v=TLSRPTv1", 0) != 0) continue;   // other TXT records at that name
        ++records;
        found = parse_reporting_policy(t);
    }
    if (records != 1) return std::nullopt;
    return found;
}

std::string report_filename(const ReportSettings& s, const std::string& domain, std::time_t begin,
                            std::time_t end) {
    return s.submitter + "!" + domain + "!" + std::to_string(static_cast<long long>(begin)) + "!" +
           std::to_string(static_cast<long long>(end)) + ".json";
}

std::string build_report_message(const DomainReport& r, const std::string& json, std::time_t day_start,
                                 const ReportSettings& s, const std::string& from,
                                 const std::vector<std::string>& to, std::time_t now) {
    std::string id = report_id(r, day_start, s);
    std::string boundary = "=_courier-tlsrpt-" + std::to_string(static_cast<long long>(now)) + "-" +
                           std::to_string(json.size());
    std::string m;
    m += "From: " + from + "\n";
    for (size_t i = 0; i < to.size(); ++i) m += (i ? ",\n    <" : "To: <") + to[i] + ">";
    m += "\n";
    // RFC 8460 5.3: the subject names domain, submitter and report id.
    m += "Subject: Report Domain: " + r.policy_domain + " Submitter: " + s.submitter + " Report-ID: <" + id + ">\n";
    m += "Date: " + courierd::rfc5322_date(now) + "\n";
    m += "Message-ID: <tlsrpt." + std::to_string(static_cast<long long>(day_start)) + "." + r.policy_domain + "@" +
         s.submitter + ">\n";
    m += "TLS-Report-Domain: " + r.policy_domain + "\n";
    m += "TLS-Report-Submitter: " + s.submitter + "\n";
    m += "Auto-Submitted: auto-generated\n";
    m += "MIME-Version: 1.0\n";
    m += "Content-Type: multipart/report; report-type=\"tlsrpt\";\n    boundary=\"" + boundary + "\"\n\n";
    m += "This is a MIME-formatted message.\n\n";
    m += "--" + boundary + "\nContent-Type: text/plain; charset=us-ascii\n\n";
    m += "This is an aggregate TLS report (RFC 8460) from " + s.organization + " (" + s.submitter + ")\n";
    m += "for the domain " + r.policy_domain + ", " + utc_day(day_start) + " (UTC).\n";
    m += "\n--" + boundary + "\n";
    m += "Content-Type: application/tlsrpt+json\n";
    m += "Content-Transfer-Encoding: base64\n";
    m += "Content-Disposition: attachment;\n    filename=\"" +
         report_filename(s, r.policy_domain, day_start, day_start + 86400 - 1) + "\"\n\n";
    m += wrap76(outbound::base64_encode(json));
    m += "\n--" + boundary + "--\n";
    return m;
}

}  // namespace tlsrpt
