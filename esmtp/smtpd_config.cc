// Builds courieresmtpd's SessionConfig from the environment and control files.
#include "esmtp/smtpd_config.h"
#include <algorithm>
#include <charconv>
#include <cstdlib>

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

uint64_t size_limit(const EnvLookup& env) {
    auto v = env("SIZELIMIT");
    uint64_t n = 0;
    if (!v || v->empty()) return kDefaultSizeLimit;
    auto r = std::from_chars(v->data(), v->data() + v->size(), n);
    if (r.ec != std::errc() || r.ptr != v->data() + v->size() || n == 0) return kDefaultSizeLimit;
    return n;
}
}  // namespace

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
    c.size_limit = size_limit(env);
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
