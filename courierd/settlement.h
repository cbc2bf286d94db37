// What happens to a message once every recipient of an attempt has an outcome: which
// recipients expire (queuetime), which notices are due (failure and success reports,
// the one delayed-delivery warning at warntime), the backscatter list changes, and
// whether the message is removed or waits for its next attempt (retry.h). One pure
// function of (envelope, status log, now, settings): the event loop reads the files,
// calls it, and carries the result out.
#pragma once
#include <ctime>
#include <string>
#include <vector>
#include "courierd/message_state.h"
#include "courierd/retry.h"
#include "lib/queue.h"

namespace courierd {

// One recipient line of a notice (RFC 3464 per-recipient fields).
struct NoticeItem {
    enum class Action { failed, delayed, delivered, relayed };
    size_t index = 0;                // recipient index in the queue file
    Action action = Action::failed;
    std::string text;                // the SMTP-style reply that decided it
    std::time_t when = 0;            // when that reply came
};

// The kinds written in "notice <time> <kind>" status records:
//   dsn    a report of the failed/delivered recipients recorded before it was submitted
//   delay  the delayed-delivery warning was submitted (or replaced by backuprelay)
//   none   final records before this line needed no notice (null sender, NOTIFY)
struct Settlement {
    std::vector<StatusRecord> expired;    // "failed" records to append for expired rcpts
    std::vector<NoticeItem> report;       // failure/success report due ([] = none)
    std::vector<NoticeItem> delay;        // delay warning due ([] = none)
    bool mark_handled = false;            // append "notice none": final records handled
    bool remove = false;                  // every recipient is final: remove the message
    std::time_t next = 0;                 // otherwise: the retry record
    unsigned attempts = 0;
    std::vector<std::string> backscatter_add;      // addresses that failed permanently
    std::vector<std::string> backscatter_remove;   // addresses delivered to since
};

struct SettlementOptions {
    RetrySettings retry;
    bool backuprelay = false;                        // the backuprelay file exists
    std::vector<std::string> backscatter_sources{"smtp"};   // BOFHSUPPRESSBACKSCATTER
};

Settlement plan_settlement(const QueueEnvelope& env, const std::vector<StatusRecord>& log,
                           std::time_t now, const SettlementOptions& opts);

// backuprelay (courier(8)): once warntime has passed since arrival, the recipients of
// the esmtp module that are still pending are sent to `relay` (the first line of the
// backuprelay file) instead of their own domain: their host becomes `relay`, which
// courieresmtp routes like any mail domain (esmtproutes, then MX, then A). Recipients
// of other modules (local mail) stay where they are. Returns the rerouted indexes;
// nothing when `relay` is empty. Applied each time a message is loaded for an attempt,
// so the queue file keeps the original host.
std::vector<size_t> reroute_to_backuprelay(Message& m, const std::string& relay,
                                           std::time_t now, const RetrySettings& s);

// NOTIFY rules (RFC 3461 4.1): an absent NOTIFY means FAILURE and DELAY; NEVER means
// nothing; SUCCESS only when asked for.
bool notify_wants(const std::string& notify, NoticeItem::Action action);

// Whether this MTA owes the notice at all (RFC 3461 5.2.2, 6.2.4): always, except for a
// success outside the local module. Final delivery happens only in the module named
// "local"; any other module (courieresmtp) answers `ok` only when the next hop offered
// DSN and took the recipient with its NOTIFY and ORCPT, so that hop sends the success
// notice and we must not send a second one. A hop without DSN gives `relayed`, which
// stays ours.
bool notice_is_ours(const std::string& module, NoticeItem::Action action);

}  // namespace courierd
