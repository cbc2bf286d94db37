// cancelmsg's rules; see cancel.h.
#include "courierd/cancel.h"
#include "lib/log.h"

namespace courierd {

CancelRight cancel_right(uid_t caller, uid_t mail_uid, long owner_uid) {
    if (caller == 0) return CancelRight::root;
    if (mail_uid != static_cast<uid_t>(-1) && caller == mail_uid) return CancelRight::mail_user;
    if (owner_uid >= 0 && static_cast<uid_t>(owner_uid) == caller) return CancelRight::owner;
    return CancelRight::none;
}

std::vector<StatusRecord> cancel_records(const ListedMessage& message, const std::string& who,
                                         std::time_t now) {
    std::vector<StatusRecord> out;
    for (size_t i = 0; i < message.rcpts.size(); ++i) {
        const std::string& state = message.rcpts[i].state;
        if (state == "delivered" || state == "failed") continue;
        StatusRecord r;
        r.kind = StatusRecord::Kind::failed;
        r.rcpt = i;
        r.when = now;
        r.text = "554 5.0.0 Message cancelled by " + log_safe(who);
        out.push_back(std::move(r));
    }
    return out;
}

}  // namespace courierd
