// The rules of cancelmsg(1): who may cancel a queued message, and the status records
// that cancel it. Pure functions; courierd/cancelmsg.cc carries them out.
// SECURITY: cancelmsg is set-uid to the mail user; may_cancel is the only check that
// stands between a local user and other users' mail, so it grants nothing by default.
#pragma once
#include <sys/types.h>
#include <ctime>
#include <string>
#include <vector>
#include "courierd/queue_listing.h"
#include "lib/queue.h"

namespace courierd {

enum class CancelRight { root, mail_user, owner, none };

// The real uid of the caller decides: root, the mail user, or the local account that
// submitted the message (its "owner" record, written by submit for local mail).
// A message without an owner record (esmtp mail, queue files from before the record)
// can be cancelled only by root and the mail user. mail_uid is -1 when there is no
// mail user.
CancelRight cancel_right(uid_t caller, uid_t mail_uid, long owner_uid);

// One durable "failed" record per recipient not yet delivered or failed, with the
// reply "554 5.0.0 Message cancelled by <who>": courierd then returns the message to
// its sender as undeliverable and removes it. Empty when nothing is left to cancel.
std::vector<StatusRecord> cancel_records(const ListedMessage& message, const std::string& who,
                                         std::time_t now);

}  // namespace courierd
