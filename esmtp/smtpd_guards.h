// courieresmtpd's guards and switches (issue 10), as pure rules the session applies:
// the BLOCK refusal (couriertcpd(1), DNS ACCESS LISTS), ZMailer smtpserver(8)'s
// min-availspace, max-error-recipients and -L load guard, its EHLO feature switches
// (No8BITMIME, NoCHUNKING, ...), its smtpserver.conf HELO-name glob patterns, and the
// argument of ETRN (RFC 1985). Nothing here does I/O except the two probes at the end.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// The extensions an administrator withholds on one listener (ZMailer's PARAM NoXXX).
struct EsmtpSwitches {
    bool no_8bitmime = false;       // No8BITMIME: not advertised, BODY=8BITMIME refused
    bool no_chunking = false;       // NoCHUNKING: not advertised, BDAT refused
    bool no_dsn = false;            // NoDSN: not advertised, RET/ENVID/NOTIFY/ORCPT refused
    bool no_pipelining = false;     // NoPIPELINING: not advertised
    bool no_enhanced_codes = false; // NoENHANCEDSTATUSCODES: not advertised, codes left out
    bool no_ehlo = false;           // NoEHLO: EHLO refused, HELO only
    bool no_etrn = false;           // NoETRN: not advertised, ETRN refused
};

// The reply for RCPT while BLOCK is non-empty. A text that starts with its own reply
// code ("554 No mail from you", "451-4.7.1 Try later") keeps it, when it is a 4xx or
// 5xx code; otherwise "550 5.7.1 <text>". Always one line.
std::string block_reply(std::string_view block_text);

// "552 5.3.4 text" -> "552 text": a reply for a listener with NoENHANCEDSTATUSCODES.
// A line without an enhanced code is returned unchanged.
std::string strip_enhanced_code(std::string_view line);

// ZMailer's min-availspace: true when `available_kb` is below `minimum_kb` (0 = off).
bool spool_space_low(uint64_t available_kb, uint64_t minimum_kb);
// ZMailer's -L: true when the load average is above `maximum` (<= 0 = off).
bool load_too_high(double load, double maximum);
// A load-average setting ("8", "2.5"); nullopt when malformed or negative.
std::optional<double> parse_load_setting(std::string_view text);

// One smtpserver.conf-style line: a glob pattern, then flags, or "!" and a reject text.
struct HeloRule {
    std::string pattern;   // shell glob, matched case-insensitively against the name
    std::string flags;     // letters, see HeloPolicy
    std::string reject;    // non-empty: refuse the greeting with this text
    int line = 0;          // for the log: which rule decided
};

// What the first matching rule asks for. Flags:
//   S  strict: the HELO/EHLO name must be a domain name or an address literal
//   P  do not advertise PIPELINING to this client
//   A  MAIL needs authentication or a relay client (530 5.7.0 otherwise)
//   T  tarpit: every error reply is delayed, from the first one
//   E  refuse EHLO (the client falls back to HELO)
struct HeloPolicy {
    bool matched = false;
    bool strict = false, no_pipelining = false, require_auth = false, tarpit = false, no_ehlo = false;
    std::string reject;
    std::string rule;      // "<file>:<line> <pattern>", for the log
};

class HeloPatterns {
public:
    // Parses the text of a patterns file; errors are appended as "<origin>:<line>: ...".
    // Lines starting with '#' or whitespace, and blank lines, are ignored (ZMailer).
    static HeloPatterns parse(std::string_view text, const std::string& origin,
                              std::vector<std::string>* errors);
    HeloPolicy match(std::string_view helo_name) const;
    bool empty() const { return rules_.empty(); }

private:
    std::string origin_;
    std::vector<HeloRule> rules_;
};

// A HELO/EHLO name a strict rule accepts: an LDH domain name (with at least one dot)
// or an address literal [a.b.c.d] / [IPv6:...].
bool plausible_helo_name(std::string_view name);

// ETRN's argument (RFC 1985 section 3): "domain" or "@domain" (the domain and its
// subdomains), lower-cased; nullopt for anything else, including "#queue" names.
std::optional<std::string> parse_etrn_argument(std::string_view args);

// The probes courieresmtpd uses: free space for unprivileged users on the file system
// holding `path`, in kilobytes, and the one-minute load average.
std::optional<uint64_t> available_kb(const std::string& path);
std::optional<double> one_minute_load();
