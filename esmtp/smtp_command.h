// Parsing of one SMTP command line (RFC 5321 4.1.1, 4.1.2) and of the ESMTP parameters
// of MAIL and RCPT (RFC 1870 SIZE, RFC 6152 BODY). Pure functions: the session calls
// them with bytes straight from the network, and they either return checked values or
// the exact reply the client must see.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// RFC 5321 4.5.3.1.4: a command line is at most 512 octets including its CRLF.
// AUTH (RFC 4954) will need more; raise it in one place when it comes.
constexpr size_t kMaxCommandLine = 512;

// "VERB args": verb upper-cased, args without the separating space and trailing blanks.
struct CommandLine {
    std::string verb;
    std::string args;
};
// `line` is what LineReader returns (no LF, maybe a CR): the CR is removed here, and a
// bare-LF command line is accepted (RFC 5321 does not mandate refusing it for commands;
// bare line ends only matter inside DATA, see smtp_data.h).
CommandLine split_command(std::string_view line);

// Removes a case-insensitive prefix such as "FROM:"; nullopt when it is absent.
std::optional<std::string_view> strip_keyword(std::string_view args, std::string_view keyword);

// One esmtp-param (RFC 5321 4.1.2): keyword upper-cased, value as sent.
struct EsmtpParam {
    std::string keyword;
    std::string value;
    bool has_value = false;
};
// Splits "K=V K2 ..." per the RFC 5321 grammar; nullopt on a syntax error.
std::optional<std::vector<EsmtpParam>> parse_esmtp_params(std::string_view text);

// The MAIL FROM parameters this server understands.
struct MailParams {
    std::optional<uint64_t> size;   // RFC 1870 declared size
    std::string body;               // "", "7BIT" or "8BITMIME" (RFC 6152)
};
// Checks MAIL parameters against what EHLO offered and the size limit. On refusal
// returns nullopt and sets *reply to the full reply line (without CRLF).
std::optional<MailParams> check_mail_params(std::string_view params, uint64_t size_limit,
                                            std::string* reply);
// RCPT parameters: none are offered yet (DSN comes later), so any is 555.
bool check_rcpt_params(std::string_view params, std::string* reply);
// The parameters handed on to submit's "mail" command (doc/architecture.md).
std::string submit_mail_params(const MailParams& p);
