// Unit tests for TLS-RPT recording and the aggregate report (tlsrpt.h, tlsrpt_report.h):
// the spool line round trip, torn lines, day names, failure classification, grouping
// and the RFC 8460 JSON, the _smtp._tls record and the report message.
#include <doctest/doctest.h>
#include "esmtp/tlsrpt.h"
#include "esmtp/tlsrpt_report.h"

using namespace tlsrpt;

namespace {
SessionEvent event(bool ok, std::string domain = "example.com", std::string type = "") {
    SessionEvent e;
    e.time = 1700000000;
    e.policy_domain = std::move(domain);
    e.success = ok;
    e.result_type = std::move(type);
    e.sending_mta_ip = "192.0.2.1";
    e.receiving_mx_hostname = "mx.example.com";
    e.receiving_ip = "198.51.100.7";
    return e;
}
}  // namespace

TEST_CASE("tlsrpt line: round trip with spaces, lists and empty fields") {
    SessionEvent e = event(false, "example.com", "certificate-not-trusted");
    e.policy_type = PolicyType::sts;
    e.additional_information = "certificate verify failed: self signed";
    e.policy_strings = {"version: STSv1", "mode: enforce"};
    e.mx_host = {"*.example.com"};
    std::string line = format_event(e);
    CHECK(line.back() == '\n');
    CHECK(line.rfind("tlsrpt1 1700000000 example.com sts failure certificate-not-trusted ", 0) == 0);
    CHECK(line.find(' ', 0) != std::string::npos);
    auto p = parse_event(line);
    REQUIRE(p);
    CHECK(p->policy_type == PolicyType::sts);
    CHECK(p->additional_information == e.additional_information);
    CHECK(p->policy_strings == e.policy_strings);
    CHECK(p->mx_host == e.mx_host);
    CHECK(p->receiving_ip == "198.51.100.7");

    SessionEvent s = event(true);
    s.sending_mta_ip.clear();
    auto q = parse_event(format_event(s));
    REQUIRE(q);
    CHECK(q->success);
    CHECK(q->sending_mta_ip.empty());
    CHECK(q->result_type.empty());
}

TEST_CASE("tlsrpt line: malformed lines are refused") {
    CHECK_FALSE(parse_event(""));
    CHECK_FALSE(parse_event("tlsrpt2 1 a.test tlsa success - - - - - - -"));
    CHECK_FALSE(parse_event("tlsrpt1 x a.test tlsa success - - - - - - -"));
    CHECK_FALSE(parse_event("tlsrpt1 1 a.test dane success - - - - - - -"));
    CHECK_FALSE(parse_event("tlsrpt1 1 a.test tlsa failure - - - - - - -"));   // failure needs a type
    CHECK_FALSE(parse_event("tlsrpt1 1 a/b tlsa success - - - - - - -"));
    CHECK(parse_event("tlsrpt1 1 a.test tlsa success - - - - - - -"));
}

TEST_CASE("tlsrpt line: a long error text keeps the line below PIPE_BUF") {
    SessionEvent e = event(false, "example.com", "validation-failure");
    e.additional_information = std::string(10000, 'x');
    e.policy_strings = {std::string(5000, 'y')};
    CHECK(format_event(e).size() < 4096);
}

TEST_CASE("tlsrpt day file: a torn last line is ignored") {
    std::string text = format_event(event(true)) + "garbage line\n" +
                       format_event(event(false, "b.test", "starttls-not-supported"));
    text.pop_back();   // crash in the middle of the last append
    auto events = parse_day_file(text);
    REQUIRE(events.size() == 1);
    CHECK(events[0].policy_domain == "example.com");
}

TEST_CASE("tlsrpt: UTC day names") {
    CHECK(utc_day(0) == "1970-01-01");
    CHECK(utc_day(1700000000) == "2023-11-14");
    auto t = parse_utc_day("2023-11-14");
    REQUIRE(t);
    CHECK(*t == 1699920000);
    CHECK_FALSE(parse_utc_day("2023-02-30"));
    CHECK_FALSE(parse_utc_day("2023-1-14"));
    CHECK_FALSE(parse_utc_day("..-..-...."));
}

TEST_CASE("tlsrpt: failure classification (RFC 8460 4.3 result types)") {
    CHECK(classify_tls_failure("certificate verify failed: certificate has expired") == "certificate-expired");
    CHECK(classify_tls_failure("Hostname mismatch") == "certificate-host-mismatch");
    CHECK(classify_tls_failure("451 4.7.5 certificate of 1.2.3.4 does not name mx.a") == "certificate-host-mismatch");
    CHECK(classify_tls_failure("self-signed certificate") == "certificate-not-trusted");
    CHECK(classify_tls_failure("unable to get local issuer certificate") == "certificate-not-trusted");
    CHECK(classify_tls_failure("454 4.7.0 TLS not available after all") == "starttls-not-supported");
    CHECK(classify_tls_failure("connection lost") == "starttls-not-supported");
    CHECK(classify_tls_failure("wrong version number") == "validation-failure");
}

TEST_CASE("tlsrpt report: aggregation per domain and policy") {
    std::vector<SessionEvent> ev = {event(true), event(true), event(false, "example.com", "certificate-expired"),
                                    event(false, "example.com", "certificate-expired"),
                                    event(false, "example.com", "starttls-not-supported"), event(true, "a.test")};
    SessionEvent dane = event(true);
    dane.policy_type = PolicyType::tlsa;
    dane.policy_strings = {"3 1 1 abcd"};
    ev.push_back(dane);
    auto reps = aggregate(ev);
    REQUIRE(reps.size() == 2);
    CHECK(reps[0].policy_domain == "a.test");
    const DomainReport& r = reps[1];
    REQUIRE(r.policies.size() == 2);
    CHECK(r.policies[0].type == PolicyType::no_policy_found);
    CHECK(r.policies[0].successes == 2);
    CHECK(r.policies[0].failures == 3);
    REQUIRE(r.policies[0].failure_details.size() == 2);
    CHECK(r.policies[0].failure_details.begin()->first.result_type == "certificate-expired");
    CHECK(r.policies[0].failure_details.begin()->second == 2);
    CHECK(r.policies[1].type == PolicyType::tlsa);
    CHECK(r.policies[1].successes == 1);
}

TEST_CASE("tlsrpt report: the RFC 8460 JSON fields") {
    std::vector<SessionEvent> ev = {event(true), event(false, "example.com", "certificate-expired")};
    ev[1].additional_information = "a \"quoted\" reason";
    auto reps = aggregate(ev);
    ReportSettings s{"Example Org", "mailto:tls@example.net", "mx.example.net"};
    std::string j = report_json(reps[0], 1699920000, s);
    CHECK(j.find("\"organization-name\": \"Example Org\"") != std::string::npos);
    CHECK(j.find("\"start-datetime\": \"2023-11-14T00:00:00Z\"") != std::string::npos);
    CHECK(j.find("\"end-datetime\": \"2023-11-14T23:59:59Z\"") != std::string::npos);
    CHECK(j.find("\"contact-info\": \"mailto:tls@example.net\"") != std::string::npos);
    CHECK(j.find("\"report-id\": \"2023-11-14T00:00:00Z_example.com@mx.example.net\"") != std::string::npos);
    CHECK(j.find("\"policy-type\": \"no-policy-found\"") != std::string::npos);
    CHECK(j.find("\"policy-domain\": \"example.com\"") != std::string::npos);
    CHECK(j.find("\"total-successful-session-count\": 1, \"total-failure-session-count\": 1") != std::string::npos);
    CHECK(j.find("\"result-type\": \"certificate-expired\"") != std::string::npos);
    CHECK(j.find("\"failed-session-count\": 1") != std::string::npos);
    CHECK(j.find("a \\\"quoted\\\" reason") != std::string::npos);
    CHECK(j.find("\"receiving-mx-hostname\": \"mx.example.com\"") != std::string::npos);
}

TEST_CASE("tlsrpt record: rua parsing (RFC 8460 3)") {
    auto p = parse_reporting_policy("v=TLSRPTv1; rua=mailto:reports@example.com,https://r.example.com/x");
    REQUIRE(p);
    CHECK(p->mailto == std::vector<std::string>{"reports@example.com"});
    CHECK(p->other == std::vector<std::string>{"https://r.example.com/x"});
    auto q = parse_reporting_policy("v=TLSRPTv1;rua=mailto:a%40b@example.com?subject=x;");
    REQUIRE(q);
    CHECK(q->mailto == std::vector<std::string>{"a@b@example.com"});
    CHECK_FALSE(parse_reporting_policy("v=STSv1; id=1"));
    CHECK_FALSE(parse_reporting_policy("v=TLSRPTv1"));
    CHECK_FALSE(parse_reporting_policy("v=TLSRPTv1; rua=mailto:no-at-sign"));
    // Exactly one TLSRPTv1 record among the TXT records of the name.
    CHECK(select_reporting_policy({"other text", "v=TLSRPTv1; rua=mailto:r@x.test"}));
    CHECK_FALSE(select_reporting_policy({"v=TLSRPTv1; rua=mailto:r@x.test", "v=TLSRPTv1; rua=mailto:s@x.test"}));
    CHECK_FALSE(select_reporting_policy({}));
}

TEST_CASE("tlsrpt report message: headers and the attachment (RFC 8460 5.3)") {
    auto reps = aggregate({event(true)});
    ReportSettings s{"Example Org", "postmaster@mx.example.net", "mx.example.net"};
    std::string json = report_json(reps[0], 1699920000, s);
    std::string m = build_report_message(reps[0], json, 1699920000, s, "<postmaster@mx.example.net>",
                                         {"r@example.com"}, 1700000000);
    CHECK(m.find("\nTLS-Report-Domain: example.com\n") != std::string::npos);
    CHECK(m.find("\nTLS-Report-Submitter: mx.example.net\n") != std::string::npos);
    CHECK(m.find("Subject: Report Domain: example.com Submitter: mx.example.net Report-ID: <") != std::string::npos);
    CHECK(m.find("multipart/report; report-type=\"tlsrpt\"") != std::string::npos);
    CHECK(m.find("Content-Type: application/tlsrpt+json") != std::string::npos);
    CHECK(m.find("filename=\"mx.example.net!example.com!1699920000!1700006399.json\"") != std::string::npos);
    for (size_t p = 0, e; (e = m.find('\n', p)) != std::string::npos; p = e + 1) CHECK(e - p <= 998);
}

TEST_CASE("tlsrpt: result types of the outbound session's error replies") {
    PolicyType t = PolicyType::no_policy_found;
    CHECK(failure_type_of_reply("451 4.7.5 STARTTLS with mx.a failed: 454 4.7.0 TLS not available", &t) ==
          std::optional<std::string>("starttls-not-supported"));
    CHECK(failure_type_of_reply("451 4.7.5 STARTTLS with mx.a failed: certificate has expired", &t) ==
          std::optional<std::string>("certificate-expired"));
    CHECK(failure_type_of_reply("451 4.7.5 certificate of mx.a not trusted: self-signed certificate", &t) ==
          std::optional<std::string>("certificate-not-trusted"));
    CHECK(failure_type_of_reply("451 4.7.5 certificate of 1.2.3.4 does not name mx.a", &t) ==
          std::optional<std::string>("certificate-host-mismatch"));
    CHECK(failure_type_of_reply("451 4.7.4 mx.a [1.2.3.4] does not offer STARTTLS, which is required for a", &t) ==
          std::optional<std::string>("starttls-not-supported"));
    CHECK(t == PolicyType::no_policy_found);
    CHECK(failure_type_of_reply("451 4.7.5 DANE: certificate of mx.a [1.2.3.4] does not match its TLSA records", &t) ==
          std::optional<std::string>("validation-failure"));
    CHECK(t == PolicyType::tlsa);
    t = PolicyType::no_policy_found;
    CHECK(failure_type_of_reply("451 4.7.5 DANE: TLSA lookup failed for mx.a", &t) ==
          std::optional<std::string>("tlsa-invalid"));
    t = PolicyType::no_policy_found;
    CHECK(failure_type_of_reply("451 4.7.5 MTA-STS: mx.a [1.2.3.4]: certificate not trusted: x", &t) ==
          std::optional<std::string>("sts-webpki-invalid"));
    CHECK(t == PolicyType::sts);
    // Not about TLS: nothing to report.
    t = PolicyType::no_policy_found;
    CHECK_FALSE(failure_type_of_reply("451 4.4.1 cannot connect to mx.a [1.2.3.4]: refused", &t));
    CHECK_FALSE(failure_type_of_reply("451 4.7.0 authentication as u failed: 535", &t));
    CHECK_FALSE(failure_type_of_reply("451 4.7.5 TLS is not available here (see the log)", &t));
    CHECK(t == PolicyType::no_policy_found);
}
