// Builds courieresmtpd's SessionConfig from the environment and control files.
#include "esmtp/smtpd_config.h"
#include <algorithm>
#include <charconv>
#include <cstdlib>
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/paths.h"

namespace {
constexpr uint64_t kDefaultSizeLimit = 10485760;
constexpr long kDefaultTimeout = 300, kMinTimeout = 1, kMaxTimeout = 3600;

std::string env_or_empty(const EnvLookup& env, const char* name) {
    auto v = env(name);
    return v ? *v : std::string();
}

// The vhost key is an IP address: only its characters may reach a file name.
bool plausible_ip(std::string_view s) {
    if (s.empty() || s.size() > 64) return false;
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
              c == '.' || c == ':'))
            return false;
    return true;
}

// vhost.<TCPLOCALIP>; an IPv4 client on an IPv6 socket shows as ::ffff:a.b.c.d, and
// the administrator writes the plain IPv4 address.
std::string find_vhost(const ConfigDir& config, const std::string& local_ip) {
    if (!plausible_ip(local_ip)) return "";
    if (config.exists("vhost." + local_ip)) return local_ip;
    const std::string mapped = "::ffff:";
    if (local_ip.compare(0, mapped.size(), mapped) == 0 && local_ip.find('.') != std::string::npos) {
        std::string v4 = local_ip.substr(mapped.size());
        if (config.exists("vhost." + v4)) return v4;
    }
    return "";
}

// SIZELIMIT: a positive byte count; anything else keeps the default, so a typo can
// never turn the limit off.
bool is_true(const std::optional<std::string>& v) {
    if (!v || v->empty()) return false;
    char c = (*v)[0];
    return c == '1' || c == 'y' || c == 'Y' || c == 't' || c == 'T';
}

// An interval setting in seconds, within [lo, hi]; fallback when missing or malformed.
long seconds_setting(const EnvLookup& env, const char* name, long fallback, long lo, long hi) {
    long seconds = fallback;
    if (auto v = env(name); v && !v->empty()) {
        if (auto parsed = parse_interval(*v)) seconds = *parsed;
    }
    return seconds < lo ? lo : seconds > hi ? hi : seconds;
}

// A small count or millisecond setting.
long number_setting(const EnvLookup& env, const char* name, long fallback, long lo, long hi) {
    auto v = env(name);
    long n = 0;
    if (!v || v->empty()) return fallback;
    auto r = std::from_chars(v->data(), v->data() + v->size(), n);
    if (r.ec != std::errc() || r.ptr != v->data() + v->size()) return fallback;
    return n < lo ? lo : n > hi ? hi : n;
}

// SIZELIMIT (environment: esmtpd's file or the access file), else the sizelimit
// control file of the vhost in force (courier(8)), else 10485760.
uint64_t size_limit(const EnvLookup& env, const ConfigDir& config, const std::string& vhost) {
    auto v = env("SIZELIMIT");
    uint64_t n = 0;
    if (!v || v->empty()) v = config.first_line("sizelimit", vhost);
    if (!v || v->empty()) return kDefaultSizeLimit;
    auto r = std::from_chars(v->data(), v->data() + v->size(), n);
    if (r.ec != std::errc() || r.ptr != v->data() + v->size() || n == 0) return kDefaultSizeLimit;
    return n;
}
bool flag_setting(const EnvLookup& env, const char* name) {
    auto v = env(name);
    return v && parse_flag(*v).value_or(false);
}

// Issue 10: couriertcpd's BLOCK variables and the ZMailer switches and guards.
void load_guards(SessionConfig& c, const ConfigDir& config, const EnvLookup& env) {
    ConnectionFacts& f = c.facts;
    if (auto block = env("BLOCK")) {
        f.block = *block;
        f.block_zone = env_or_empty(env, "BLOCK_ZONE");
        if (block->empty()) f.dnswl = f.block_zone.empty() ? std::string("-") : f.block_zone;
    }
    EsmtpSwitches& sw = c.switches;
    sw.no_8bitmime = flag_setting(env, "No8BITMIME");
    sw.no_chunking = flag_setting(env, "NoCHUNKING");
    sw.no_dsn = flag_setting(env, "NoDSN");
    sw.no_pipelining = flag_setting(env, "NoPIPELINING");
    sw.no_enhanced_codes = flag_setting(env, "NoENHANCEDSTATUSCODES");
    sw.no_ehlo = flag_setting(env, "NoEHLO");
    sw.no_etrn = flag_setting(env, "NoETRN");
    c.min_avail_kb = static_cast<uint64_t>(number_setting(env, "MINAVAILSPACE", 0, 0, 1L << 40));
    c.max_null_sender_rcpts = static_cast<size_t>(number_setting(env, "MAXERRORRECIPIENTS", 0, 0, 100000));
    if (auto v = env("MAXLOADAVER"); v && !v->empty()) c.max_load = parse_load_setting(*v).value_or(0);
    // esmtpd removes the installed copy when the listener has no patterns file.
    if (auto file = env("ESMTP_HELOPATTERNS_FILE"); file && !file->empty() && path_exists(*file)) {
        std::vector<std::string> errors;
        c.helo_patterns = load_helo_patterns(*file, &errors, config.path(helo_patterns_name(env)));
        for (const std::string& e : errors) log_warning(e);
    }
}
}  // namespace

const std::vector<ListenerSettingRule>& listener_setting_rules() {
    using K = ListenerSettingRule::Kind;
    static const std::vector<ListenerSettingRule> rules = {
        {"No8BITMIME", K::flag}, {"NoCHUNKING", K::flag}, {"NoDSN", K::flag},
        {"NoPIPELINING", K::flag}, {"NoENHANCEDSTATUSCODES", K::flag}, {"NoEHLO", K::flag},
        {"NoETRN", K::flag}, {"MINAVAILSPACE", K::count}, {"MAXERRORRECIPIENTS", K::count},
        {"MAXLOADAVER", K::load}, {"SIZELIMIT", K::count},
    };
    return rules;
}

std::optional<bool> parse_flag(std::string_view value) {
    std::string v(value);
    for (char& ch : v)
        if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
    if (v == "1" || v == "yes" || v == "true" || v == "on") return true;
    if (v.empty() || v == "0" || v == "no" || v == "false" || v == "off") return false;
    return std::nullopt;
}

std::vector<std::string> check_listener_settings(std::string_view text, const std::string& origin) {
    std::vector<std::string> errors;
    Settings all = Settings::parse(text, &errors, origin);
    // The line a setting was read from: the last one naming it (later lines win).
    auto line_of = [&](std::string_view name) {
        int number = 0, found = 0;
        size_t pos = 0;
        while (pos < text.size()) {
            size_t nl = text.find('\n', pos);
            std::string_view line = text.substr(pos, nl == text.npos ? text.npos : nl - pos);
            pos = nl == text.npos ? text.size() : nl + 1;
            ++number;
            while (!line.empty() && (line[0] == ' ' || line[0] == '\t')) line.remove_prefix(1);
            if (line.substr(0, 7) == "export ") line.remove_prefix(7);
            if (line.substr(0, name.size()) == name && line.substr(name.size(), 1) == "=") found = number;
        }
        return found;
    };
    for (const ListenerSettingRule& rule : listener_setting_rules()) {
        auto v = all.get(rule.name);
        if (!v) continue;
        bool good = true;
        const char* expected = "";
        if (rule.kind == ListenerSettingRule::Kind::flag) {
            good = parse_flag(*v).has_value();
            expected = "1 or 0 (yes/no)";
        } else if (rule.kind == ListenerSettingRule::Kind::count) {
            uint64_t n = 0;
            auto r = std::from_chars(v->data(), v->data() + v->size(), n);
            good = v->empty() || (r.ec == std::errc() && r.ptr == v->data() + v->size());
            expected = "a whole number";
        } else {
            good = v->empty() || parse_load_setting(*v).has_value();
            expected = "a load average such as 8 or 2.5";
        }
        if (!good)
            errors.push_back(origin + ":" + std::to_string(line_of(rule.name)) + ": " + rule.name + "=" + *v +
                             ": expected " + expected);
    }
    return errors;
}

std::string helo_patterns_name(const EnvLookup& env) {
    auto v = env("ESMTPHELOPATTERNS");
    return v && !v->empty() ? *v : std::string("esmtphelopatterns");
}

std::string installed_helo_patterns(const std::string& service) {
    return paths().run + "/" + service + ".helopatterns";
}

HeloPatterns load_helo_patterns(const std::string& path, std::vector<std::string>* errors,
                                const std::string& origin) {
    auto text = read_file(path, 1 << 20);
    if (!text) {
        if (errors) errors->push_back(path + ": " + text.error().text);
        return HeloPatterns{};
    }
    return HeloPatterns::parse(*text, origin.empty() ? path : origin, errors);
}

std::optional<std::string> process_env(const char* name) {
    const char* v = std::getenv(name);
    if (!v) return std::nullopt;
    return std::string(v);
}

SessionConfig load_session_config(const ConfigDir& config, const EnvLookup& env) {
    SessionConfig c;
    ConnectionFacts& f = c.facts;
    f.remote_ip = env_or_empty(env, "TCPREMOTEIP");
    f.remote_port = env_or_empty(env, "TCPREMOTEPORT");
    f.remote_host = env_or_empty(env, "TCPREMOTEHOST");
    f.local_ip = env_or_empty(env, "TCPLOCALIP");
    f.local_port = env_or_empty(env, "TCPLOCALPORT");
    f.relay_client = env("RELAYCLIENT").has_value();   // set, even empty, means relaying
    f.vhost = find_vhost(config, f.local_ip);
    c.me = config.me(f.vhost);
    auto greeting = config.first_line("esmtpgreeting", f.vhost);
    c.greeting = (greeting && !greeting->empty()) ? *greeting : c.me + " ESMTP";
    c.size_limit = size_limit(env, config, f.vhost);
    load_guards(c, config, env);
    c.default_domain = config.default_domain(f.vhost);
    c.command_timeout_ms = idle_timeout_ms(env);
    c.data_timeout_ms = static_cast<int>(seconds_setting(env, "ESMTP_DATA_TIMEOUT", 180, 1, 3600) * 1000);
    c.error_delay_ms = static_cast<int>(number_setting(env, "ESMTP_ERROR_DELAY", 1000, 0, 10000));
    c.max_errors = static_cast<unsigned>(number_setting(env, "ESMTP_MAXERRORS", 20, 1, 1000));
    auto plain = env("ESMTPAUTH");
    auto tls = env("ESMTPAUTH_TLS");
    c.auth_plain = split_mechanisms(plain ? *plain : "");
    c.auth_tls = tls ? split_mechanisms(*tls) : std::vector<std::string>{"PLAIN", "LOGIN", "CRAM-MD5"};
    // Whatever is offered in the clear is offered under TLS as well.
    for (const std::string& m : c.auth_plain)
        if (std::find(c.auth_tls.begin(), c.auth_tls.end(), m) == c.auth_tls.end()) c.auth_tls.push_back(m);
    c.auth_required = is_true(env("AUTH_REQUIRED"));
    c.max_auth_failures = static_cast<unsigned>(number_setting(env, "ESMTPAUTH_MAXFAIL", 3, 1, 100));
    c.auth_fail_delay_ms = static_cast<int>(number_setting(env, "ESMTPAUTH_DELAY", 1000, 0, 10000));
    return c;
}

ServerSettings load_server_settings(const ConfigDir& config, const EnvLookup& env) {
    ServerSettings s;
    s.tls.cert_file = env_or_empty(env, "TLS_CERTFILE");
    if (s.tls.cert_file.empty() && config.exists("esmtpd.pem")) s.tls.cert_file = config.path("esmtpd.pem");
    s.tls.key_file = env_or_empty(env, "TLS_KEYFILE");
    s.tls.ca_file = env_or_empty(env, "TLS_TRUSTCERTS");
    s.tls.ciphers = env_or_empty(env, "TLS_CIPHER_LIST");
    std::string verify = env_or_empty(env, "TLS_VERIFYPEER");
    s.tls.request_client_cert = verify == "PEER" || verify == "REQUIREPEER";
    s.tls.require_client_cert = verify == "REQUIREPEER";
    s.implicit_tls = is_true(env("ESMTP_IMPLICIT_TLS"));
    s.auth_backend = env_or_empty(env, "ESMTPAUTH_BACKEND");
    if (s.auth_backend.empty()) s.auth_backend = "userdb";
    s.userdb_path = config.path("userdb.dat");
    s.pam_service = env_or_empty(env, "ESMTP_PAM_SERVICE");
    if (s.pam_service.empty()) s.pam_service = "esmtp";
    s.session_limit_s = seconds_setting(env, "ESMTP_SESSION_LIMIT", 3600, 0, 86400);
    return s;
}

std::vector<std::string> split_mechanisms(std::string_view text) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == ',')) ++i;
        size_t start = i;
        while (i < text.size() && text[i] != ' ' && text[i] != '\t' && text[i] != ',') ++i;
        if (i > start) {
            std::string m(text.substr(start, i - start));
            for (char& ch : m)
                if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
            out.push_back(std::move(m));
        }
    }
    return out;
}

int idle_timeout_ms(const EnvLookup& env) {
    long seconds = kDefaultTimeout;
    if (auto v = env("ESMTP_TIMEOUT"); v && !v->empty()) {
        if (auto parsed = parse_interval(*v)) seconds = *parsed;
    }
    if (seconds < kMinTimeout) seconds = kMinTimeout;
    if (seconds > kMaxTimeout) seconds = kMaxTimeout;
    return static_cast<int>(seconds * 1000);
}
