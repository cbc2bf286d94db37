// The retry schedule and expiry; see retry.h.
#include "courierd/retry.h"
#include <algorithm>
#include "lib/log.h"

namespace {

// An interval file: parse_interval() units; nullopt when missing or malformed.
template <typename T>
void load_value(const ConfigDir& config, const char* name, T* out, bool allow_zero,
                bool is_count) {
    auto line = config.first_line(name);
    if (!line) return;
    std::optional<long> v;
    if (is_count) {
        char* end = nullptr;
        long n = std::strtol(line->c_str(), &end, 10);
        if (!line->empty() && end && *end == '\0') v = n;
    } else {
        v = parse_interval(*line);
    }
    if (v && (*v > 0 || (allow_zero && *v == 0)) && *v <= 100L * 365 * 86400)
        *out = static_cast<T>(*v);
    else
        log_warning("courierd: " + std::string(name) + ": bad value \"" + log_safe(*line) +
                    "\", using the default");
}

}  // namespace

RetrySettings load_retry_settings(const ConfigDir& config) {
    RetrySettings s;
    load_value(config, "retryalpha", &s.alpha, false, false);
    load_value(config, "retrybeta", &s.beta, false, true);
    load_value(config, "retrygamma", &s.gamma, false, false);
    load_value(config, "retrymaxdelta", &s.maxdelta, true, true);
    load_value(config, "queuetime", &s.queuetime, false, false);
    load_value(config, "warntime", &s.warntime, false, false);
    s.beta = std::min(s.beta, 1000u);
    s.maxdelta = std::min(s.maxdelta, 30u);   // 2^30 * gamma is beyond any queuetime
    return s;
}

long retry_delay(unsigned attempts, const RetrySettings& s) {
    unsigned beta = std::max(s.beta, 1u);
    if (attempts == 0 || attempts % beta != 0) return s.alpha;
    // The end of series k (k = 1, 2, ...) is followed by retrygamma * 2^(k-1), the
    // exponent capped at retrymaxdelta.
    unsigned series = attempts / beta;
    unsigned shift = std::min(series - 1, s.maxdelta);
    long max_before_overflow = 0x7fffffffL >> shift;
    return s.gamma > max_before_overflow ? 0x7fffffffL : s.gamma << shift;
}

std::vector<long> retry_schedule(unsigned count, const RetrySettings& s) {
    std::vector<long> out;
    for (unsigned a = 1; a <= count; ++a) out.push_back(retry_delay(a, s));
    return out;
}

std::time_t next_attempt(std::time_t now, std::time_t arrival, unsigned attempts,
                         const RetrySettings& s) {
    std::time_t next = now + retry_delay(attempts, s);
    std::time_t expiry = arrival + s.queuetime;
    return std::max(now, std::min(next, expiry));
}

bool expired(std::time_t now, std::time_t arrival, const RetrySettings& s) {
    return now >= arrival + s.queuetime;
}

bool warning_due(std::time_t now, std::time_t arrival, bool already_warned,
                 const RetrySettings& s) {
    return !already_warned && now >= arrival + s.warntime && !expired(now, arrival, s);
}
