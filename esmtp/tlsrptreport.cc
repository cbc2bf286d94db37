// tlsrptreport: the daily TLS-RPT aggregate reports (RFC 8460, tlsrptreport(8)) from
// the session events courieresmtp wrote to spool/tlsrpt/YYYY-MM-DD. Prints the JSON,
// or with --send mails each domain's report to the mailto: addresses of its
// `_smtp._tls` TXT record through submit. Meant to run from cron once a day.
// SECURITY: run by root or the mail user (the spool is theirs); submits as `local`.
#include <dirent.h>
#include <sysexits.h>
#include <unistd.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>
#include "config/config.h"
#include "esmtp/tlsrpt.h"
#include "esmtp/tlsrpt_report.h"
#include "lib/address.h"
#include "lib/dns.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/paths.h"
#include "lib/submit_client.h"

namespace {
constexpr int kKeepDays = 31;   // day files older than this are removed after --send
constexpr size_t kMaxDayFile = size_t(256) << 20;

int usage() {
    std::fputs("usage: tlsrptreport [--date YYYY-MM-DD] [--domain DOMAIN] [--send]\n", stderr);
    return EX_USAGE;
}

tlsrpt::ReportSettings load_settings(const ConfigDir& cfg) {
    tlsrpt::ReportSettings s;
    s.submitter = cfg.me();
    s.organization = cfg.first_line("tlsrptorg").value_or(s.submitter);
    s.contact = cfg.first_line("tlsrptcontact").value_or("postmaster@" + s.submitter);
    return s;
}

// Queues one report; true when submit answered 250.
bool submit_report(const std::string& domain, const std::vector<std::string>& to, const std::string& message,
                   const std::string& sender) {
    SubmitClient client("local");
    SubmitReply r = client.mail(sender, "");
    for (size_t i = 0; r.positive() && i < to.size(); ++i) r = client.rcpt(to[i], "");
    if (r.positive()) {
        if (Status s = client.send_data(message); !s) log_error("tlsrptreport: " + s.error().text);
        r = client.finish();
    }
    client.quit();
    std::string rcpts;
    for (const auto& t : to) rcpts += (rcpts.empty() ? "" : ",") + t;
    log_line(r.positive() ? LogLevel::info : LogLevel::error,
             "tlsrpt report domain=" + log_safe(domain) + " rua=" + log_safe(rcpts) +
                 " status=" + (r.positive() ? "sent" : "failed") + " text=" + log_safe(r.line()));
    std::printf("%s: %s to %s: %s\n", domain.c_str(), r.positive() ? "sent" : "NOT sent", rcpts.c_str(),
                r.line().c_str());
    return r.positive();
}

// Looks up the domain's reporting policy and mails the report; false on a failure
// worth an exit status (DNS temporary failure, submit refused).
bool send_report(const tlsrpt::DomainReport& rep, const std::string& json, std::time_t day,
                 const tlsrpt::ReportSettings& s) {
    auto answer = dns::resolver().txt("_smtp._tls." + rep.policy_domain);
    if (answer.outcome == dns::Outcome::tempfail) {
        log_error("tlsrpt report domain=" + log_safe(rep.policy_domain) + " status=failed text=" +
                  log_safe("DNS: " + answer.error));
        std::printf("%s: NOT sent: DNS lookup failed: %s\n", rep.policy_domain.c_str(), answer.error.c_str());
        return false;
    }
    auto policy = tlsrpt::select_reporting_policy(answer.records);
    if (!policy) {
        log_info("tlsrpt report domain=" + log_safe(rep.policy_domain) + " status=no-policy");
        std::printf("%s: no TLSRPTv1 record, no report\n", rep.policy_domain.c_str());
        return true;
    }
    for (const auto& uri : policy->other) {
        // RFC 8460 5.4 (HTTPS POST) is not implemented: only mailto: reports are sent.
        log_warning("tlsrpt report domain=" + log_safe(rep.policy_domain) + " rua=" + log_safe(uri) +
                    " status=unsupported (only mailto: is supported)");
        std::printf("%s: %s: unsupported, skipped\n", rep.policy_domain.c_str(), uri.c_str());
    }
    if (policy->mailto.empty()) return true;
    std::string from_addr = "postmaster@" + s.submitter;
    std::string msg = tlsrpt::build_report_message(rep, json, day, s,
                                                   "\"" + s.organization + " TLS reporting\" <" + from_addr + ">",
                                                   policy->mailto, std::time(nullptr));
    return submit_report(rep.policy_domain, policy->mailto, msg, from_addr);
}

void prune_day_files(const std::string& dir, std::time_t now) {
    DIR* d = opendir(dir.c_str());
    if (!d) return;
    std::vector<std::string> old;
    while (dirent* e = readdir(d)) {
        auto t = tlsrpt::parse_utc_day(e->d_name);
        if (t && *t + 86400L * kKeepDays < now) old.push_back(e->d_name);
    }
    closedir(d);
    for (const auto& name : old) {
        if (unlink((dir + "/" + name).c_str()) == 0) log_info("tlsrpt removed " + name);
    }
}
}  // namespace

int main(int argc, char** argv) {
    log_open("tlsrptreport");
    std::string date, only_domain;
    bool send = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--send") send = true;
        else if (a == "--date" && i + 1 < argc) date = argv[++i];
        else if (a == "--domain" && i + 1 < argc) only_domain = lowercase_ascii(argv[++i]);
        else return usage();
    }
    std::time_t now = std::time(nullptr);
    if (date.empty()) date = tlsrpt::utc_day(now - 86400);   // the previous UTC day
    auto day = tlsrpt::parse_utc_day(date);
    if (!day) {
        std::fprintf(stderr, "tlsrptreport: bad date %s (YYYY-MM-DD)\n", date.c_str());
        return EX_USAGE;
    }
    const Paths& p = paths();
    ConfigDir cfg(p.config);
    std::string dir = p.spool + "/tlsrpt";
    auto text = read_file(dir + "/" + date, kMaxDayFile);
    if (!text && text.error().sys_errno != ENOENT) {
        std::fprintf(stderr, "tlsrptreport: %s\n", text.error().text.c_str());
        return EX_NOPERM;
    }
    auto reports = tlsrpt::aggregate(text ? tlsrpt::parse_day_file(*text) : std::vector<tlsrpt::SessionEvent>{});
    std::erase_if(reports, [&](const tlsrpt::DomainReport& r) {
        return !only_domain.empty() && r.policy_domain != only_domain;
    });
    tlsrpt::ReportSettings settings = load_settings(cfg);
    bool all_ok = true;
    std::string listing = only_domain.empty() ? "[" : "";
    for (size_t i = 0; i < reports.size(); ++i) {
        std::string json = tlsrpt::report_json(reports[i], *day, settings);
        if (send) all_ok = send_report(reports[i], json, *day, settings) && all_ok;
        else listing += (only_domain.empty() && i ? ",\n" : "") + json;
    }
    if (!send) {
        if (only_domain.empty()) listing += "]\n";
        else if (reports.empty()) listing = "{}\n";
        std::fwrite(listing.data(), 1, listing.size(), stdout);
    } else {
        prune_day_files(dir, now);
    }
    return all_ok ? EX_OK : EX_TEMPFAIL;
}
