// Builds courieresmtpd's SessionConfig from the environment and control files.
#include "esmtp/smtpd_config.h"
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
    return c;
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
