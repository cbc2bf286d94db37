// Delivery status notifications (RFC 3464, RFC 3461, RFC 6522): the failure, delay and
// success notices courierd returns to a message's sender, as multipart/report messages
// with a message/delivery-status part. Built here as text; courierd submits them with
// SubmitClient("dsn") from the null sender, so they enter the queue like any message.
#pragma once
#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>
#include "courierd/settlement.h"
#include "lib/queue.h"

namespace courierd {

struct NoticeSettings {
    std::string me;              // Reporting-MTA, Message-ID host
    std::string dsnfrom;         // the From: header; "" gives the default
    uint64_t dsnlimit = 32768;   // RET=FULL is honoured on delay/success only below this
    std::time_t will_retry_until = 0;   // delay notices: the expiry time
};

// The enhanced status code of a reply ("550 5.1.1 No such user" -> "5.1.1"); from the
// basic code when the reply has none ("451 busy" -> "4.0.0").
std::string dsn_status(std::string_view reply);
// RFC 5322 date-time in UTC.
std::string rfc5322_date(std::time_t t);
// Whether the whole message is returned (else only its headers): a failure report
// returns it unless RET=HDRS; delay and success notices only with RET=FULL and a
// message no larger than dsnlimit (courier(8), dsnlimit).
bool return_full_message(const QueueEnvelope& env, bool is_failure, uint64_t dsnlimit);

// The complete notice (headers and body, LF line ends) for `items`, which are all
// delayed or a mix of failed and delivered. `message` is the stored original message.
std::string build_notice(const QueueEnvelope& env, const std::vector<NoticeItem>& items,
                         std::string_view message, const NoticeSettings& s, std::time_t now);

}  // namespace courierd
