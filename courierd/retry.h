// When a message with deferred recipients is attempted again (courier(8), retryalpha,
// retrybeta, retrygamma, retrymaxdelta). The decision is one pure function,
// next_attempt(), so the full schedule (issue 5) replaces its body and nothing else.
#pragma once
#include <ctime>
#include "config/config.h"

struct RetrySettings {
    long alpha = 300;   // retryalpha: seconds between attempts (default 5 minutes)
};

// Reads retryalpha from the configuration folder; a missing or malformed file gives
// the default (a malformed one is logged).
RetrySettings load_retry_settings(const ConfigDir& config);

// The time of the next attempt of a message that has now completed `attempts`
// attempts (1 after the first). For now a fixed interval of retryalpha.
std::time_t next_attempt(std::time_t now, unsigned attempts, const RetrySettings& s);
