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
// Extensions raise it for their commands: MAIL and RCPT grow by the SIZE, DSN (RFC
// 3461 5: ENVID +100, ORCPT +500) and AUTH= parameters; AUTH and its responses may
// be 12288 octets (RFC 4954 4). The reader takes lines up to kMaxAuthLine; the
// session applies the limit of each command (max_line_for).
constexpr size_t kMaxCommandLine = 512;
constexpr size_t kMaxMailRcptLine = 2048;
constexpr size_t kMaxAuthLine = 12288;
// The longest line (with its CRLF) allowed for a command verb (upper case).
size_t max_line_for(std::string_view verb);

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
    std::string ret;                // "", "FULL" or "HDRS" (RFC 3461 4.3)
    std::string envid;              // ENVID as sent, xtext (RFC 3461 4.4)
    bool smtputf8 = false;          // RFC 6531 3.4
    std::string auth;               // AUTH= (RFC 4954 5), xtext; recorded, not trusted
    bool requiretls = false;        // RFC 8689 2 (only under TLS: smtp_session.cc)
};
// The RCPT TO parameters (RFC 3461 4.1, 4.2).
struct RcptParams {
    std::string notify;             // "", "NEVER" or a list of SUCCESS,FAILURE,DELAY
    std::string orcpt;              // "addr-type;xtext" as sent
};
// Checks MAIL parameters against what EHLO offered and the size limit. On refusal
// returns nullopt and sets *reply to the full reply line (without CRLF).
std::optional<MailParams> check_mail_params(std::string_view params, uint64_t size_limit,
                                            std::string* reply);
// RCPT parameters: NOTIFY and ORCPT; anything else is 555.
std::optional<RcptParams> check_rcpt_params(std::string_view params, std::string* reply);
// The parameters handed on to submit's "mail" and "rcpt" commands (doc/architecture.md).
std::string submit_mail_params(const MailParams& p);
std::string submit_rcpt_params(const RcptParams& p);
// xtext (RFC 3461 4) as an esmtp-value: "+XX" hex pairs and chars 0x21-0x7e but "+", "=".
bool valid_xtext(std::string_view s);

// RFC 6531: a domain with non-ASCII labels, normalised (NFC, IDNA2008 via libidn2) to
// its lower-case A-label form, so that routing and the locals list see one spelling.
// ASCII domains and address literals come back unchanged; nullopt when invalid.
std::optional<std::string> normalize_idn_domain(std::string_view domain);
// Well-formed UTF-8 (RFC 3629: no overlong forms, surrogates or code points > 10FFFF).
bool valid_utf8(std::string_view s);
bool is_ascii(std::string_view s);
