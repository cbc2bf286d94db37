// The retry decision for deferred messages; see retry.h.
#include "courierd/retry.h"
#include "lib/log.h"

RetrySettings load_retry_settings(const ConfigDir& config) {
    RetrySettings s;
    if (auto line = config.first_line("retryalpha")) {
        auto secs = parse_interval(*line);
        if (secs && *secs > 0)
            s.alpha = *secs;
        else
            log_warning("courierd: retryalpha: bad interval \"" + log_safe(*line) +
                        "\", using the default");
    }
    return s;
}

std::time_t next_attempt(std::time_t now, unsigned attempts, const RetrySettings& s) {
    (void)attempts;   // the retrybeta/retrygamma schedule (issue 5) will use it
    return now + s.alpha;
}
