// The Received: trace header submit puts at the top of every message (RFC 5321 4.4,
// RFC 5322 3.6.7), and the RFC 5322 date it ends with. Every value from the session is
// untrusted: bytes that could break the header (CR, LF, controls, 8-bit, parentheses
// inside the comment) are replaced, and long values are cut.
#pragma once
#include <ctime>
#include <string>

namespace submit {

struct ReceivedInfo {
    std::string helo;          // "" with no remote-ip and no helo: no "from" clause
    std::string remote_host;   // "" -> "unknown"
    std::string remote_ip;
    std::string me;            // "by"
    std::string protocol;      // "with": ESMTP, ESMTPS, ESMTPA, local, ...
    std::string qid;           // "id"
    std::string for_rcpt;      // "for <...>" only when the message has one recipient
    std::string tls;           // session "tls" fact: "<version> <cipher> <bits>", "" for none
    std::string auth;          // authenticated user, "" unless receivedauth says to show it
    std::string local_user;    // local submission: the submitting account ("" for none)
    long local_uid = -1;       // and its uid
    std::time_t when = 0;
};

// The protocol word of the "with" clause (RFC 5321 4.4, RFC 3848): the session's
// "protocol" fact when it is a registered WITH keyword, else ESMTP for SMTP sources
// and "local" for local ones. The TLS (S) and AUTH (A) letters are added from the
// session facts when the caller did not already send them.
std::string received_protocol(std::string_view protocol, std::string_view source, bool tls,
                              bool auth);

// The whole header, folded at 78 columns, ending with LF (the queue stores LF).
std::string format_received(const ReceivedInfo& info);
// One Received-SPF: field (RFC 7208 9.1) for an SPF check made by submit
// (submit/spf_check.h): "Received-SPF: pass (comment) client-ip=...; envelope-from=...;
// helo=...; receiver=...; identity=mailfrom;", folded like Received:, LF-terminated.
struct ReceivedSpfInfo {
    std::string result;          // RFC 7208 name: pass, fail, ..., temperror, permerror
    std::string comment;         // "receiver: domain of x designates ip as permitted sender"
    std::string client_ip;
    std::string envelope_from;   // MAIL FROM ("" for <>)
    std::string helo;
    std::string receiver;
    std::string identity;        // helo, mailfrom or from
};
std::string format_received_spf(const ReceivedSpfInfo& info);

// "Sat, 22 Nov 2025 01:37:00 +0100" for a broken-down time and its offset from UTC.
std::string format_rfc5322_date(const std::tm& tm, long utc_offset_seconds);
// The same for `when` in the local time zone.
std::string rfc5322_date(std::time_t when);

}  // namespace submit
