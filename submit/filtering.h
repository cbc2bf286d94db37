// submit's side of the global filters (doc/filters.md): for a message from a source
// listed in enablefiltering, each enabled filter in name order gets the message and
// envelope files and answers; the combined answers decide the SMTP client's reply and
// what is added to the queued message (prepended headers, a hold record).
// SECURITY: runs inside submit as the mail user; a filter's answer is untrusted text,
// bounded and validated by filters/filter_protocol before it reaches a client.
#pragma once
#include <ctime>
#include <optional>
#include <string>
#include <vector>
#include "config/config.h"
#include "filters/filter_protocol.h"
#include "lib/queue.h"
#include "lib/submit_client.h"
#include "submit/message_buffer.h"

namespace submit {

// What the filters decided for one message.
struct FilterOutcome {
    std::optional<SubmitReply> reply;    // set: give the client this and queue nothing
    std::vector<std::string> prepend;    // header lines for the top of the message
    bool hold = false;
    std::string hold_reason;

    std::string prepended() const;                 // the header lines, each with its LF
    std::string hold_record(std::time_t now) const;  // "" or the status log hold record
};

// Settings read for each message (changes apply at once, doc/filters.md).
struct FilterSettings {
    courierfilter::FilterSources sources;      // enablefiltering
    courierfilter::FailureMode failure = courierfilter::FailureMode::tempfail;
    int timeout_ms = 60000;                    // filtertimeout
    std::vector<std::string> active;           // names in <config>/filters/active, sorted
};
FilterSettings load_filter_settings(const ConfigDir& cfg);

// Folds one filter's answer into the outcome; returns false when no further filter is
// to be consulted (a refusal, a discard, or Courier's 200).
bool apply_answer(FilterOutcome& out, const std::string& name, const courierfilter::Answer& a);
// A filter that is down, slow or speaks nonsense: by filterfailure either the 451
// refusal (false: stop) or nothing (true: go on with the next filter).
bool apply_failure(FilterOutcome& out, const std::string& name, courierfilter::FailureMode mode);

// Asks one filter over its socket; the Answer, or an Error saying why it failed.
Result<courierfilter::Answer> ask_filter(const std::string& socket_path,
                                         const courierfilter::Request& request, int timeout_ms);

// The whole run for a complete message that is about to be queued. When filtering is
// off for env.source, or no filter is enabled, returns an empty outcome at once.
FilterOutcome run_global_filters(const ConfigDir& cfg, const std::string& spool_dir,
                                 const QueueEnvelope& env, MessageBuffer& body);

}  // namespace submit
