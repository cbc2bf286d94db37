// The configuration check of `courier check`, courierd and esmtpd; see config_check.h.
// Each checker reads its files the way the program that uses them does (the same
// parsers where they report errors) and turns every problem into a finding.
#include "courierd/config_check.h"
#include <arpa/inet.h>
#include <dirent.h>
#include <unistd.h>
#include <algorithm>
#include <cctype>
#include <charconv>
#include "courierd/module_config.h"
#include "courierd/retry.h"
#include "esmtp/outbound_route.h"
#include "lib/dkim.h"
#include "lib/fileio.h"
#include "lib/paths.h"
#include "lib/process.h"
#include "submit/accepted_domains.h"
#include "submit/bofh.h"
#include "submit/message_auth.h"

namespace {

constexpr size_t kMaxConfigFile = 64 * 1024 * 1024;
using Sev = ConfigFinding::Severity;

void add(ConfigFindings& out, Sev sev, std::string where, std::string text) {
    out.push_back({sev, std::move(where), std::move(text)});
}

// "path:line: why" (the parsers' error strings) as a finding.
void add_located(ConfigFindings& out, Sev sev, const std::string& located) {
    size_t sep = located.find(": ");
    if (sep == std::string::npos) add(out, sev, located, "bad line");
    else add(out, sev, located.substr(0, sep), located.substr(sep + 2));
}

// The first line of a one-line control file with its location, nullopt when missing.
std::optional<ConfigLine> first_line_at(const ConfigDir& config, const std::string& name) {
    auto line = config.first_line(name);
    if (!line) return std::nullopt;
    return ConfigLine{.text = *line, .where = config.path(name) + ":1"};
}

// The value a program uses: the file's interval when valid, else nullopt (the program
// falls back to its default, and the file's own error is reported elsewhere).
std::optional<long> interval_of(const ConfigDir& config, const char* name, bool allow_zero = false) {
    auto line = config.first_line(name);
    if (!line || interval_problem(*line, allow_zero)) return std::nullopt;
    return parse_interval(*line);
}

std::optional<unsigned long> count_of(const ConfigDir& config, const char* name) {
    auto line = config.first_line(name);
    if (!line) return std::nullopt;
    unsigned long v = 0;
    auto [p, ec] = std::from_chars(line->data(), line->data() + line->size(), v);
    if (ec != std::errc() || p != line->data() + line->size()) return std::nullopt;
    return v;
}

// The file names in the configuration folder that start with `prefix`; backups
// (a '~' at the end, .dist copies) are not configuration.
std::vector<std::string> names_with_prefix(const ConfigDir& config, std::string_view prefix) {
    std::vector<std::string> out;
    for (auto& n : directory_names(config.dir())) {
        if (n.compare(0, prefix.size(), prefix) != 0 || n.size() == prefix.size()) continue;
        if (n.back() == '~' || n.ends_with(".dist") || n.ends_with(".dat")) continue;
        out.push_back(std::move(n));
    }
    return out;
}

// Settings::parse errors read "path:line: text"; split them into a finding.
void settings_errors(const std::string& path, ConfigFindings& out, Settings* parsed) {
    auto text = read_file(path, kMaxConfigFile);
    if (!text) {
        add(out, Sev::error, path, "cannot read: " + text.error().text);
        return;
    }
    std::vector<std::string> errors;
    Settings s = Settings::parse(*text, &errors, path);
    for (const auto& e : errors) {
        size_t colon = e.find(": ", path.size());
        add(out, Sev::error, e.substr(0, colon), colon == std::string::npos ? e : e.substr(colon + 2));
    }
    if (parsed) *parsed = std::move(s);
}

// ---- the checkers --------------------------------------------------------------------

void check_host_names(const ConfigDir& config, ConfigFindings& out) {
    std::string host = system_hostname();
    for (const char* name : {"me", "defaultdomain", "msgidhost"}) {
        auto line = first_line_at(config, name);
        if (!line) continue;
        if (auto p = host_name_problem(expand_hostname_entry(line->text, host)))
            add(out, Sev::error, line->where, *p);
    }
    if (auto line = first_line_at(config, "esmtphelo"); line && line->text != "*")
        if (auto p = host_name_problem(line->text)) add(out, Sev::error, line->where, *p);
}

void check_domain_lists(const ConfigDir& config, ConfigFindings& out) {
    // "*" and "*.example.com" stand for this host (hostname-dependent configuration).
    std::string host = system_hostname();
    for (const auto& line : numbered_lines(config, "locals"))
        if (auto p = domain_entry_problem(expand_hostname_entry(line.text, host)))
            add(out, Sev::error, line.where, *p);
    // hosteddomains ("domain" or "alias<TAB>domain") and esmtpacceptmailfor: the
    // compilers submit and makehosteddomains/makeacceptmailfor use (accepted_domains.h).
    for (const auto& e : submit::compile_hosteddomains(numbered_lines(config, "hosteddomains"), host).errors)
        add_located(out, Sev::error, e);
    for (const auto& e : submit::compile_acceptmailfor(numbered_lines(config, "esmtpacceptmailfor"), host).errors)
        add_located(out, Sev::error, e);
    for (const auto& e : submit::compile_acceptmailfor(numbered_lines(config, "esmtpacceptmailfor.dir"), host).errors)
        add_located(out, Sev::error, e);
}

// A local or hosted domain that esmtpacceptmailfor leaves out: submit accepts it
// anyway (it is local), but Courier reads an existing esmtpacceptmailfor as the whole
// list, so the file no longer says what the server receives: almost always a
// forgotten line.
void check_accepted_domains(const ConfigDir& config, ConfigFindings& out) {
    if (!config.exists("esmtpacceptmailfor")) return;
    std::vector<std::string> accept = config.list("esmtpacceptmailfor");
    std::vector<std::string> local = config.locals();
    for (const auto& h : config.list("hosteddomains")) local.push_back(h.substr(0, h.find_first_of(" \t")));
    for (const auto& d : domains_not_accepted(local, accept))
        add(out, Sev::warning, config.path("esmtpacceptmailfor"),
            "local domain " + d + " is not listed (accepted anyway as a local domain; "
            "Courier would refuse it)");
}

void check_intervals(const ConfigDir& config, ConfigFindings& out) {
    struct Item { const char* name; bool zero; };
    static const Item items[] = {
        {"retryalpha", false}, {"retrygamma", false}, {"queuetime", false}, {"warntime", false},
        {"queuefill", true}, {"esmtpdelay", true}, {"submitdelay", true}, {"localtimeout", false},
        {"esmtptimeout", true}, {"esmtptimeoutconnect", true}, {"esmtptimeoutdata", true},
        {"esmtptimeouthelo", true}, {"esmtptimeoutkeepalive", true},
        {"esmtptimeoutkeepaliveping", true}, {"esmtptimeoutquit", true}};
    for (const Item& it : items)
        if (auto line = first_line_at(config, it.name))
            if (auto p = interval_problem(line->text, it.zero)) add(out, Sev::error, line->where, *p);
}

void check_counts(const ConfigDir& config, ConfigFindings& out) {
    struct Item { const char* name; unsigned long min, max; };
    static const Item items[] = {
        {"retrybeta", 1, 1000}, {"retrymaxdelta", 0, 30}, {"queuelo", 1, 1000000},
        {"queuehi", 1, 1000000}, {"esmtpmaxsessions", 1, 100000},
        {"dsnlimit", 0, ~0UL}, {"sizelimit", 0, ~0UL}};
    for (const Item& it : items)
        if (auto line = first_line_at(config, it.name))
            if (auto p = count_problem(line->text, it.min, it.max)) add(out, Sev::error, line->where, *p);
}

void check_relations(const ConfigDir& config, ConfigFindings& out) {
    RetrySettings defaults;
    long alpha = interval_of(config, "retryalpha").value_or(defaults.alpha);
    long delay = interval_of(config, "esmtpdelay", true).value_or(300);
    if (auto p = esmtpdelay_problem(delay, alpha)) add(out, Sev::warning, config.path("esmtpdelay"), *p);
    auto lo = count_of(config, "queuelo"), hi = count_of(config, "queuehi");
    if (lo && hi && *lo > 0 && *hi > 0)
        if (auto p = queue_limits_problem(*lo, *hi)) add(out, Sev::warning, config.path("queuehi"), *p);
    long warn = interval_of(config, "warntime").value_or(defaults.warntime);
    long qtime = interval_of(config, "queuetime").value_or(defaults.queuetime);
    if (auto p = warntime_problem(warn, qtime)) add(out, Sev::warning, config.path("warntime"), *p);
}

void check_modules(const ConfigDir& config, ConfigFindings& out) {
    for (const auto& name : names_with_prefix(config, "module.")) {
        // The names courierd loads (module_config.cc): module.<[a-z0-9_-]+>; others
        // (module.local.orig, ...) are not modules.
        std::string_view suffix = std::string_view(name).substr(7);
        if (!std::all_of(suffix.begin(), suffix.end(), [](char c) {
                return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
            }))
            continue;
        std::string path = config.path(name);
        Settings s;
        size_t before = out.size();
        settings_errors(path, out, &s);
        if (out.size() != before) continue;
        auto m = module_from_settings(s, name.substr(7), paths().libexec);
        if (!m) {
            add(out, Sev::error, path, m.error().text);
            continue;
        }
        if (::access(m->prog.c_str(), X_OK) != 0)
            add(out, Sev::error, path, "PROG " + m->prog + " is not an executable program");
    }
}

// The TLS certificate is read by courieresmtpd after it became the mail user.
void check_certificate(const std::string& settings_path, const std::string& cert, bool required,
                       ConfigFindings& out) {
    struct stat st;
    if (::stat(cert.c_str(), &st) != 0) {
        if (required) add(out, Sev::error, settings_path, "TLS certificate " + cert + " is missing");
        return;
    }
    uid_t uid = getuid();
    gid_t gid = getgid();
    if (geteuid() == 0) (void)lookup_mail_user(&uid, &gid);
    if (!readable_by(st, uid, gid))
        add(out, Sev::error, settings_path,
            "TLS certificate " + cert + " is not readable by the mail user " + mail_user_name());
    else if (st.st_mode & 004)
        add(out, Sev::warning, settings_path, "TLS certificate " + cert +
            " (with its private key) is readable by every local user");
}

void check_esmtpd_settings(const ConfigDir& config, ConfigFindings& out) {
    for (const char* name : {"esmtpd", "esmtpd-msa", "esmtpd-ssl"}) {
        std::string path = config.path(name);
        if (!config.exists(name)) continue;
        Settings s;
        settings_errors(path, out, &s);
        for (const char* number : {"MAXDAEMONS", "MAXPERIP", "MAXPERC"})
            if (auto v = s.get(number); v && !v->empty())
                if (auto p = count_problem(*v, 0, 1000000))
                    add(out, Sev::error, path, std::string(number) + ": " + *p);
        // A service that is not started (the installed esmtpd-ssl until a certificate
        // exists) needs no certificate yet.
        std::string start = s.get_or("ESMTPDSTART", "");
        if (start != "YES" && start != "yes" && start != "Yes") continue;
        std::string cert = s.get_or("TLS_CERTFILE", "");
        bool explicit_cert = !cert.empty();
        if (cert.empty()) cert = config.path("esmtpd.pem");
        std::string implicit = s.get_or("ESMTP_IMPLICIT_TLS", "");
        bool required = explicit_cert || implicit == "1" || implicit == "YES" || implicit == "yes";
        check_certificate(path, cert, required, out);
    }
}

void check_routes(const ConfigDir& config, ConfigFindings& out) {
    for (const auto& line : numbered_lines(config, "esmtproutes")) {
        std::string why;
        if (!outbound::parse_route_line(line.text, &why))
            add(out, Sev::error, line.where, why.empty() ? "not domain:relay[,port][/SECURITY=...]" : why);
    }
}

void check_auth_client(const ConfigDir& config, ConfigFindings& out) {
    for (const auto& line : numbered_lines(config, "esmtpauthclient")) {
        std::string words = line.text;
        size_t n = 0, i = 0;
        while (i < words.size()) {
            while (i < words.size() && std::isspace(static_cast<unsigned char>(words[i]))) ++i;
            if (i < words.size()) ++n;
            while (i < words.size() && !std::isspace(static_cast<unsigned char>(words[i]))) ++i;
        }
        if (n != 3) add(out, Sev::error, line.where, "not \"relay userid password\"");
    }
}

// submit's own parser (submit/bofh.h), so the check and submit never disagree.
void check_bofh(const ConfigDir& config, ConfigFindings& out) {
    submit::BofhConfig b;
    for (const auto& l : numbered_lines(config, "bofh")) b.parse_line(l.text, l.where);
    b.parse("", config.path("bofh"));   // no more lines; interprets the opt values
    for (const auto& e : b.errors) add_located(out, Sev::error, e);
}

void check_dns(const ConfigDir& config, ConfigFindings& out) {
    if (auto line = first_line_at(config, "dnsserver")) {
        std::string_view t = line->text;
        size_t i = 0;
        while (i < t.size()) {
            size_t end = t.find(' ', i);
            std::string_view w = t.substr(i, end == t.npos ? t.npos : end - i);
            if (!w.empty())
                if (auto p = dns_server_problem(w)) add(out, Sev::error, line->where, *p);
            if (end == t.npos) break;
            i = end + 1;
        }
    }
    if (auto line = first_line_at(config, "dnssectrustanchor"))
        if (::access(line->text.c_str(), R_OK) != 0)
            add(out, Sev::error, line->where, "trust anchor file " + line->text + " cannot be read");
}

// A source file edited after its database was built: the change is not in force.
void check_databases(const ConfigDir& config, ConfigFindings& out) {
    // dat_required: without the database the source file is not used at all (submit
    // reads a hosteddomains text file itself when no database was built).
    struct Item { const char* source; const char* tool; bool dat_required; };
    for (Item it : {Item{"aliases", "makealiases", true}, Item{"smtpaccess", "makesmtpaccess", true},
                    Item{"userdb", "makeuserdb", true}, Item{"hosteddomains", "makehosteddomains", false},
                    Item{"esmtpacceptmailfor.dir", "makeacceptmailfor", true}}) {
        struct stat src, db;
        std::string s = config.path(it.source);
        std::string d = s.ends_with(".dir") ? s.substr(0, s.size() - 4) + ".dat" : s + ".dat";
        if (::stat(s.c_str(), &src) != 0) continue;
        time_t newest = src.st_mtime;
        if (S_ISDIR(src.st_mode)) {
            for (const auto& line : numbered_lines(config, it.source)) {
                struct stat f;
                std::string file = line.where.substr(0, line.where.rfind(':'));
                if (::stat(file.c_str(), &f) == 0) newest = std::max(newest, f.st_mtime);
            }
        }
        if (::stat(d.c_str(), &db) != 0) {
            if (it.dat_required) add(out, Sev::warning, s, "no " + d.substr(d.rfind('/') + 1) + ": run " + it.tool);
        } else if (newest > db.st_mtime)
            add(out, Sev::warning, s, "changed after " + d.substr(d.rfind('/') + 1) + " was built: run " + it.tool);
    }
}

// courierd writes the metrics file as the mail user, by creating a temporary file
// beside it and renaming it.
void check_metrics_file(const ConfigDir& config, ConfigFindings& out) {
    auto line = first_line_at(config, "metricsfile");
    if (!line || line->text.empty()) return;
    if (line->text[0] != '/') {
        add(out, Sev::error, line->where, "not an absolute path: " + line->text);
        return;
    }
    std::string dir = dir_of(line->text);
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        add(out, Sev::error, line->where, "folder " + dir + " does not exist");
        return;
    }
    uid_t uid = getuid();
    gid_t gid = getgid();
    if (geteuid() == 0) (void)lookup_mail_user(&uid, &gid);
    bool writable = uid == 0 || (st.st_uid == uid ? (st.st_mode & S_IWUSR)
                                 : st.st_gid == gid ? (st.st_mode & S_IWGRP) : (st.st_mode & S_IWOTH));
    if (!writable)
        add(out, Sev::warning, line->where, "the mail user " + std::string(mail_user_name()) +
            " cannot create files in " + dir + ": no metrics are written");
}

// dkimsettings and dmarcpolicy as submit reads them, and every signing key submit
// would load (<config>/dkim/<domain>/<selector>.private).
void check_message_auth(const ConfigDir& config, ConfigFindings& out) {
    for (const auto& e : submit::load_message_auth_settings(config).errors)
        add_located(out, Sev::error, config.dir() + "/" + e);
    std::string keys = config.path("dkim");
    for (const auto& domain : directory_names(keys)) {
        std::string dir = keys + "/" + domain;
        for (const auto& file : directory_names(dir)) {
            if (!file.ends_with(".private")) continue;
            if (auto key = dkim::load_private_key(dir + "/" + file); !key)
                add(out, Sev::error, dir + "/" + file, "not a usable DKIM key: " + key.error().text);
        }
    }
}

void check_mta_sts_port(const ConfigDir& config, ConfigFindings& out) {
    if (auto line = first_line_at(config, "mtastsport"))
        if (auto p = count_problem(line->text, 1, 65535)) add(out, Sev::error, line->where, *p);
}

void check_courierd_settings(const ConfigDir& config, ConfigFindings& out) {
    if (config.exists("courierd")) settings_errors(config.path("courierd"), out, nullptr);
}

}  // namespace

std::string format_finding(const ConfigFinding& f) {
    return f.where + ": " + (f.severity == Sev::error ? "error: " : "warning: ") + f.text;
}

size_t count_errors(const ConfigFindings& f) {
    return static_cast<size_t>(std::count_if(f.begin(), f.end(),
                                             [](const ConfigFinding& x) { return x.severity == Sev::error; }));
}

std::vector<ConfigLine> numbered_lines(const ConfigDir& config, std::string_view name) {
    std::vector<ConfigLine> out = config.lines(name);
    for (auto& l : out) l.where = config.dir() + "/" + l.where;
    return out;
}

// To add a check: write a function (config, out) above that reads its files and adds
// findings with file:line, put its pure rule below with doctest cases, and list it
// here. courier check, courierd and esmtpd all run this table.
const std::vector<ConfigChecker>& config_checkers() {
    static const std::vector<ConfigChecker> table = {
        {"me defaultdomain msgidhost esmtphelo", check_host_names},
        {"locals hosteddomains esmtpacceptmailfor esmtpacceptmailfor.dir", check_domain_lists},
        {"esmtpacceptmailfor locals hosteddomains me", check_accepted_domains},
        {"retryalpha retrygamma queuetime warntime queuefill esmtpdelay submitdelay localtimeout esmtptimeout*",
         check_intervals},
        {"retrybeta retrymaxdelta queuelo queuehi esmtpmaxsessions dsnlimit sizelimit", check_counts},
        {"esmtpdelay/retryalpha queuelo/queuehi warntime/queuetime", check_relations},
        {"module.*", check_modules},
        {"courierd", check_courierd_settings},
        {"metricsfile", check_metrics_file},
        {"esmtpd esmtpd-msa esmtpd-ssl esmtpd.pem", check_esmtpd_settings},
        {"esmtproutes", check_routes},
        {"esmtpauthclient", check_auth_client},
        {"bofh", check_bofh},
        {"dnsserver dnssectrustanchor", check_dns},
        {"dkimsettings dmarcpolicy dkim/*/*.private", check_message_auth},
        {"mtastsport", check_mta_sts_port},
        {"aliases smtpaccess userdb hosteddomains esmtpacceptmailfor.dir (and their .dat)", check_databases},
    };
    return table;
}

ConfigFindings check_configuration(const ConfigDir& config) {
    ConfigFindings out;
    for (const auto& c : config_checkers()) c.run(config, out);
    return out;
}

// ---- pure rules ----------------------------------------------------------------------

std::optional<std::string> host_name_problem(std::string_view name) {
    if (name.empty()) return "empty host name";
    if (name.size() > 253) return "host name longer than 253 characters";
    if (name.front() == '.' || name.find("..") != std::string_view::npos) return "empty label in \"" + std::string(name) + "\"";
    for (unsigned char c : name)
        if (!(std::isalnum(c) || c == '-' || c == '.' || c == '_' || c >= 0x80))
            return "character '" + std::string(1, static_cast<char>(c)) + "' in host name \"" + std::string(name) + "\"";
    return std::nullopt;
}

std::optional<std::string> domain_entry_problem(std::string_view entry) {
    std::string_view name = entry;
    if (!name.empty() && name[0] == '!') name.remove_prefix(1);
    if (!name.empty() && name[0] == '.') name.remove_prefix(1);
    if (name.empty()) return "empty domain";
    if (name.find('@') != std::string_view::npos) return "an address, not a domain: \"" + std::string(entry) + "\"";
    return host_name_problem(name);
}

std::optional<std::string> interval_problem(std::string_view text, bool allow_zero) {
    auto v = parse_interval(text);
    if (!v) return "not an interval (like 300, 5m, 1h30m, 2d, 1w): \"" + std::string(text) + "\"";
    if (*v == 0 && !allow_zero) return "must be longer than 0";
    if (*v > 100L * 365 * 86400) return "longer than 100 years";
    return std::nullopt;
}

std::optional<std::string> count_problem(std::string_view text, unsigned long min, unsigned long max) {
    unsigned long v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || p != text.data() + text.size())
        return "not a number: \"" + std::string(text) + "\"";
    if (v < min || v > max)
        return "out of range " + std::to_string(min) + ".." + std::to_string(max) + ": " + std::to_string(v);
    return std::nullopt;
}

std::optional<std::string> esmtpdelay_problem(long esmtpdelay, long retryalpha) {
    if (esmtpdelay <= retryalpha) return std::nullopt;
    return "esmtpdelay (" + std::to_string(esmtpdelay) + "s) is longer than retryalpha (" +
           std::to_string(retryalpha) + "s): messages are retried while courieresmtp still postpones them";
}

std::optional<std::string> queue_limits_problem(unsigned long lo, unsigned long hi) {
    if (lo <= hi) return std::nullopt;
    return "queuelo (" + std::to_string(lo) + ") is above queuehi (" + std::to_string(hi) +
           "): courierd uses queuehi=" + std::to_string(lo);
}

std::optional<std::string> warntime_problem(long warntime, long queuetime) {
    if (warntime < queuetime) return std::nullopt;
    return "warntime (" + std::to_string(warntime) + "s) is not shorter than queuetime (" +
           std::to_string(queuetime) + "s): no delayed-delivery warning is ever sent";
}

std::vector<std::string> domains_not_accepted(const std::vector<std::string>& local_domains,
                                              const std::vector<std::string>& accept_list) {
    std::vector<std::string> out;
    for (const auto& d : local_domains) {
        // Wildcards and exclusions of locals are rules, not domains to look up.
        if (d.empty() || d[0] == '.' || d[0] == '!') continue;
        if (!domain_in_list(d, accept_list)) out.push_back(d);
    }
    return out;
}

bool readable_by(const struct stat& st, uid_t uid, gid_t gid) {
    if (uid == 0) return true;
    if (st.st_uid == uid) return st.st_mode & S_IRUSR;
    if (st.st_gid == gid) return st.st_mode & S_IRGRP;
    return st.st_mode & S_IROTH;
}

std::optional<std::string> dns_server_problem(std::string_view word) {
    std::string addr(word.substr(0, word.find('@')));
    unsigned char buf[16];
    if (inet_pton(AF_INET, addr.c_str(), buf) != 1 && inet_pton(AF_INET6, addr.c_str(), buf) != 1)
        return "not an IP address: \"" + std::string(word) + "\"";
    if (size_t at = word.find('@'); at != std::string_view::npos)
        if (count_problem(word.substr(at + 1), 1, 65535)) return "bad port in \"" + std::string(word) + "\"";
    return std::nullopt;
}
