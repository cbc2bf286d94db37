// sendmail's command line (sendmail(1)): the options cron, mailx, PHP's mail(),
// git send-email and scripts pass, parsed into one value. Options of other sendmails
// that make no sense here (-oem, -odb, -v, -U, ...) are accepted and ignored.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace submit {

struct SendmailOptions {
    enum class Mode { deliver, smtp, batch_smtp, print_queue, flush };
    Mode mode = Mode::deliver;
    bool recipients_from_headers = false;   // -t
    bool ignore_dots = false;               // -i, -oi: a line "." does not end the message
    std::optional<std::string> sender;      // -f / -r ("" for <>)
    std::string full_name;                  // -F
    std::string notify;                     // -N, as the submit protocol wants it
    std::string ret;                        // -R: FULL or HDRS
    std::string envid;                      // -V
    std::string body;                       // -B: 7BIT or 8BITMIME
    std::vector<std::string> recipients;
};

// nullopt with the reason in *error for an unknown option or a bad value.
std::optional<SendmailOptions> parse_sendmail_args(const std::vector<std::string>& args,
                                                   std::string* error);

}  // namespace submit
