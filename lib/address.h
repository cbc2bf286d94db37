// RFC 5321 paths and mailboxes: the one parser for addresses that arrive in MAIL FROM,
// RCPT TO, the submit protocol and configuration files. Bytes from the network are
// validated here once and passed inward as a checked Mailbox (STYLE.md 5).
#pragma once
#include <optional>
#include <string>
#include <string_view>

struct Mailbox {
    std::string local;    // local part as written (quotes removed, escapes resolved)
    std::string domain;   // domain, lowercased; or an address literal "[1.2.3.4]"; may be empty
    // RFC 5321 form: local@domain, the local part re-quoted when it needs it.
    std::string str() const;
    bool empty() const { return local.empty() && domain.empty(); }
};

struct ParsedPath {
    Mailbox mailbox;         // empty for the null path <>
    bool null_path = false;  // "<>"
    std::string params;      // text after the closing '>' (ESMTP parameters), trimmed
};

// Parses "<path> params" as found after "MAIL FROM:" or "RCPT TO:" (leading spaces
// allowed). Source routes "<@a,@b:user@c>" are accepted and dropped (RFC 5321 4.1.1.3).
// Returns nullopt, with a reason in *why when given, for anything malformed.
std::optional<ParsedPath> parse_smtp_path(std::string_view text, std::string* why = nullptr);
// Parses a bare mailbox "user@domain" or "user" (no angle brackets), e.g. from config.
std::optional<Mailbox> parse_mailbox(std::string_view text, std::string* why = nullptr);

bool is_valid_domain(std::string_view domain);         // LDH labels or an address literal
std::string lowercase_ascii(std::string_view s);
// "postmaster" in any case, without a domain (RFC 5321 4.5.1).
bool is_bare_postmaster(const Mailbox& m);
