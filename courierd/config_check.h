// `courier check`: reads every configuration file the MTA uses and reports each error
// as file:line and each suspicious setting (a warning). courierd and esmtpd run the same
// check before they start and refuse a configuration with errors (doc/man/courier.8).
// The checks are a table (config_checkers()); how to add one: doc/man/courier.8, CHECK.
// SECURITY: reads the configuration folder only; changes nothing.
#pragma once
#include <sys/stat.h>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include "config/config.h"

struct ConfigFinding {
    enum class Severity { error, warning };
    Severity severity = Severity::error;
    std::string where;   // "path:line", or "path" for a whole-file problem
    std::string text;
};
using ConfigFindings = std::vector<ConfigFinding>;

// "path:line: error: text" -- the line courier check prints and the daemons log.
std::string format_finding(const ConfigFinding& f);
size_t count_errors(const ConfigFindings& f);

// ConfigDir::lines() with each `where` made a full path ("/etc/courier/locals:3"),
// so the administrator can open the file named in a finding.
std::vector<ConfigLine> numbered_lines(const ConfigDir& config, std::string_view name);

// One checker: the files it reads (for the manual and --list) and the function.
struct ConfigChecker {
    const char* files;
    void (*run)(const ConfigDir& config, ConfigFindings& out);
};
const std::vector<ConfigChecker>& config_checkers();
// Runs every checker, in table order.
ConfigFindings check_configuration(const ConfigDir& config);

// ---- pure rules, unit-tested ---------------------------------------------------------
// A domain list entry (locals, hosteddomains, esmtpacceptmailfor): "name", ".name" (any
// subdomain), "!name" (exclusion). nullopt when fine, else what is wrong.
std::optional<std::string> domain_entry_problem(std::string_view entry);
// A host name (me, defaultdomain, msgidhost).
std::optional<std::string> host_name_problem(std::string_view name);
// An interval file's first line (parse_interval syntax); zero allowed or not.
std::optional<std::string> interval_problem(std::string_view text, bool allow_zero);
// A count file's first line: a decimal number in [min, max].
std::optional<std::string> count_problem(std::string_view text, unsigned long min, unsigned long max);
// courier(8), esmtpdelay: "it does not make sense to set esmtpdelay to be greater than
// retryalpha" -- postponed messages spin through the queue uselessly.
std::optional<std::string> esmtpdelay_problem(long esmtpdelay, long retryalpha);
// queuelo above queuehi: courierd raises queuehi to queuelo.
std::optional<std::string> queue_limits_problem(unsigned long lo, unsigned long hi);
// warntime at or after queuetime: the delayed-delivery warning is never sent.
std::optional<std::string> warntime_problem(long warntime, long queuetime);
// The local domains (exact names) that the esmtpacceptmailfor list does not accept.
std::vector<std::string> domains_not_accepted(const std::vector<std::string>& local_domains,
                                              const std::vector<std::string>& accept_list);
// Whether a file with this stat can be read by uid/gid (owner, group, other bits;
// uid 0 reads anything).
bool readable_by(const struct stat& st, uid_t uid, gid_t gid);
// One dnsserver word: an IPv4 or IPv6 address, optionally "@port".
std::optional<std::string> dns_server_problem(std::string_view word);
