// When a message with deferred recipients is attempted again, when it expires and when
// its delayed-delivery warning is due (courier(8): retryalpha, retrybeta, retrygamma,
// retrymaxdelta, queuetime, warntime). Pure functions of (now, history, settings): the
// caller passes the clock, so unit tests reproduce the documented schedule exactly.
//
// The schedule follows the manual's prose: retrybeta attempts retryalpha apart, a wait
// of retrygamma, retrybeta attempts again, then retrygamma*2, *4, ... capped at
// retrygamma*2^retrymaxdelta, until queuetime. With the defaults the waits between
// attempts are, in minutes, 5 5 15 5 5 30 5 5 60 5 5 120 5 5 120 ... (the manual's
// example list has one more 5 at the start; see courier(8) here for why we differ).
#pragma once
#include <ctime>
#include <vector>
#include "config/config.h"

struct RetrySettings {
    long alpha = 300;             // retryalpha: seconds between attempts of a series
    unsigned beta = 3;            // retrybeta: attempts in one series
    long gamma = 900;             // retrygamma: the first wait between two series
    unsigned maxdelta = 3;        // retrymaxdelta: the wait doubles at most this often
    long queuetime = 7 * 86400;   // queuetime: a message expires (bounces) after this
    long warntime = 4 * 3600;     // warntime: one delayed-delivery notice after this
};

// Reads the six files from the configuration folder; a missing file gives the default,
// a malformed one is logged and gives the default too.
RetrySettings load_retry_settings(const ConfigDir& config);

// The wait after the attempt number `attempts` (1 after the first attempt).
long retry_delay(unsigned attempts, const RetrySettings& s);

// The waits after attempts 1..count, as retry_delay gives them (for the manual, tests).
std::vector<long> retry_schedule(unsigned count, const RetrySettings& s);

// When a message that arrived at `arrival` and has now completed `attempts` attempts
// is attempted next: now + retry_delay, but never later than the expiry time, so the
// last attempt falls on arrival + queuetime.
std::time_t next_attempt(std::time_t now, std::time_t arrival, unsigned attempts,
                         const RetrySettings& s);

// True when recipients still deferred at `now` have run out of time and fail.
bool expired(std::time_t now, std::time_t arrival, const RetrySettings& s);

// True when the delayed-delivery notice is due at the end of an attempt at `now`:
// warntime has passed, the message has not expired, and no warning was sent yet.
bool warning_due(std::time_t now, std::time_t arrival, bool already_warned,
                 const RetrySettings& s);
