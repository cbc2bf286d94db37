// Headers of locally submitted mail (sendmail): recipients from To/Cc/Bcc for -t,
// Bcc removed, and Date, Message-ID and From added when missing (RFC 5322 3.6);
// usexsender and nochangingfrom (courier(8)). Pure: the caller reads the message.
#pragma once
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

namespace submit {

struct LocalHeaderOptions {
    std::string user_address;    // the account's address, user@defaultdomain
    std::string full_name;       // -F, else the account's GECOS name
    std::string msgid_host;      // msgidhost, else me
    std::string unique;          // makes the Message-ID unique (time, pid, counter)
    std::string date;            // RFC 5322 date for Date:
    bool x_sender = false;       // usexsender: add "X-Sender: <user_address>"
    bool force_from = false;     // nochangingfrom: the From: is always the account's
};

struct LocalHeaders {
    std::string block;                  // the header block to send, ending with LF
    std::vector<std::string> rcpts;     // To, Cc, Bcc (or the Resent- ones), for -t
};

// header_block: the message's header lines (without the empty line after them).
LocalHeaders prepare_local_headers(std::string_view header_block, const LocalHeaderOptions& o);

// "Name <addr>" with the name quoted when it needs to be (RFC 5322 3.2.5).
std::string format_mailbox(std::string_view name, std::string_view address);

}  // namespace submit
