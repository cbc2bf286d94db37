// The server side of the submit protocol's command lines (doc/architecture.md, "The
// submit protocol"): splitting a line into its verb and fields, and checking the ESMTP
// parameters of mail and rcpt (RFC 3461 DSN, RFC 6152 8BITMIME, RFC 6531 SMTPUTF8).
// Pure functions: no I/O, so every rule here is reachable from the unit tests.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>
#include "lib/submit_client.h"

namespace submit {

enum class Verb { session, mail, rcpt, data, chunk, rset, quit, unknown };

struct CommandLine {
    Verb verb = Verb::unknown;
    // The space-separated fields after the verb. Empty fields are kept: "mail  RET=FULL"
    // carries an empty sender (the null path) before its parameters.
    std::vector<std::string_view> fields;
};
CommandLine parse_command(std::string_view line);

// "mail" and "rcpt": the xtext address field and the P=V parameters after it.
struct AddressAndParams {
    std::string_view address;                 // still xtext; "" for the null path
    std::vector<std::string_view> params;     // empty fields dropped
};
// xtext never holds '=' (it is encoded +3D), so a first field with '=' is a parameter
// and the address was empty: "mail RET=FULL" and "mail  RET=FULL" mean the same.
AddressAndParams split_address_and_params(std::span<const std::string_view> fields);

struct MailParams {
    std::string ret;        // "", FULL or HDRS
    std::string envid;      // decoded ENVID
    std::string body;       // "", 7BIT or 8BITMIME
    bool smtputf8 = false;
    bool requiretls = false;   // REQUIRETLS=1 (RFC 8689; courieresmtpd checked TLS)
};
struct RcptParams {
    std::string notify;     // "", NEVER, or a list of SUCCESS,FAILURE,DELAY
    std::string orcpt;      // decoded ORCPT, "addr-type;address"
};
// nullopt, with the reply for the client in *error, when a parameter is unknown,
// repeated or malformed. Keywords are case-insensitive (RFC 5321 4.1.2).
std::optional<MailParams> parse_mail_params(std::span<const std::string_view> params,
                                             SubmitReply* error);
std::optional<RcptParams> parse_rcpt_params(std::span<const std::string_view> params,
                                            SubmitReply* error);

// "chunk <n>": n in decimal, at most 18 digits (no overflow); nullopt when malformed.
std::optional<uint64_t> parse_chunk_size(std::span<const std::string_view> fields);

// A reply line as the caller reads it: "<code> <text>\n".
std::string format_reply(const SubmitReply& r);

}  // namespace submit
