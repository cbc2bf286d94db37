// The `bofh` configuration file (courier(8), bofh): badfrom, badmx, freemail,
// spamtrap, maxrcpts and every "opt NAME=value" line, parsed in this one place. Other
// modules (SPF: BOFHSPF*; backscatter: BOFHSUPPRESSBACKSCATTER) read their options from
// BofhConfig::opts. The pure rules that decide a sender or a recipient live here too,
// each returning the rule (file:line) that matched, so every refusal can be logged.
#pragma once
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include "config/config.h"
#include "lib/dns.h"

namespace submit {

// "badfrom user@domain", "badfrom @domain", "badfrom @.domain", "badfrom user@.domain".
struct BadFromRule {
    std::string local;          // "" = any local part (the "@domain" forms)
    std::string domain;         // normal form (lowercase, IDN as UTF-8), without the '.'
    bool subdomains = false;    // "@.domain" / "user@.domain": subdomains of domain only
    std::string where;          // "bofh:12"
};

// "badmx N": mail whose return address domain receives mail through host N (an IP).
struct BadMxRule {
    std::string ip;
    std::string where;
};

// "freemail domain [domain2]...": mail with a return address @domain is accepted only
// from a relay whose (verified) host name is in one of the listed domains.
struct FreemailRule {
    std::vector<std::string> domains;   // the first is the return-address domain
    std::string where;
};

// "spamtrap user@domain": a message addressed to it is refused whole.
struct SpamtrapRule {
    std::string address;        // local@domain, domain in normal form
    std::string where;
};

struct BofhConfig {
    std::vector<BadFromRule> badfrom;
    std::vector<BadMxRule> badmx;
    std::vector<FreemailRule> freemail;
    std::vector<SpamtrapRule> spamtraps;
    size_t maxrcpts = 0;                // 0: no bofh limit (submit's own 10,000 stays)
    bool maxrcpts_hard = false;         // excess recipients get 5xx instead of 4xx
    std::string maxrcpts_where;

    // Every "opt NAME=value" line, the last one of a name winning, and where it was.
    std::map<std::string, std::string, std::less<>> opts;
    std::map<std::string, std::string, std::less<>> opt_where;

    // Options this module interprets itself (from opts).
    int check_helo = 0;                 // BOFHCHECKHELO: 0, 1 or 2
    size_t header_limit = 100000;       // BOFHHEADERLIMIT: bytes of the top-level header
    bool no_base64_text = false;        // BOFHNOBASE64TEXT=1
    std::vector<std::string> suppress_backscatter{"smtp"};   // BOFHSUPPRESSBACKSCATTER

    // Bad lines, as "bofh:12: why". Bad lines are skipped; the rest stays in force.
    std::vector<std::string> errors;

    std::optional<std::string> opt(std::string_view name) const;
    std::string opt_or(std::string_view name, std::string fallback) const;
    // "bofh:12" for an opt, or "default" when it is not set.
    std::string where(std::string_view opt_name) const;

    // Parses the text of one file (`origin` is its name for messages), then interprets
    // the options. parse_line adds one line (`where` = "bofh:12").
    void parse(std::string_view text, const std::string& origin);
    void parse_line(std::string_view line, const std::string& where);
    // The `bofh` file, or all files of the `bofh` folder in name order. A missing file
    // gives the defaults. Errors are logged once here and kept in `errors`.
    static BofhConfig load(const ConfigDir& cfg);
};

// The rules, as pure functions. Each returns the matching rule's `where`, or nullopt.
// Addresses are given with the domain in normal form (normalize_domain).
std::optional<std::string> match_badfrom(std::string_view sender, const BofhConfig& bofh);
// The freemail rule that refuses `sender` from a relay named `relay_host` (the client's
// forward-confirmed host name, "" when unknown).
std::optional<std::string> match_freemail(std::string_view sender, std::string_view relay_host,
                                          const BofhConfig& bofh);
std::optional<std::string> match_spamtrap(std::string_view address, const BofhConfig& bofh);
// The badmx rule naming one of `mx_ips` (the addresses of the sender domain's mail hosts).
std::optional<std::string> match_badmx(const std::vector<std::string>& mx_ips,
                                       const BofhConfig& bofh);

// BOFHCHECKHELO (1: the HELO/EHLO name must exist in DNS, with an A, AAAA or MX
// record, and an address literal must be the client's own address; 2: also, one of
// the name's A/AAAA records must be the client's address). Returns nullopt when the
// name passes, else {temporary, why}: a DNS failure is temporary (4xx), the rest 5xx.
struct HeloRefusal {
    bool temporary = false;
    std::string why;
};
std::optional<HeloRefusal> check_helo_name(std::string_view helo, std::string_view client_ip, int level,
                                           dns::Resolver& resolver);
// The IP addresses of the hosts that receive mail for `domain` (its MX hosts, or the
// domain itself without MX), for badmx. Empty when DNS has no answer.
std::vector<std::string> mail_host_ips(std::string_view domain, dns::Resolver& resolver);

// BOFHHEADERLIMIT and BOFHNOBASE64TEXT look into the message while it arrives: fed the
// raw chunks (CRLF or LF), it measures the top-level header and finds text/* MIME
// parts (the top level or inside multipart/*) sent with Content-Transfer-Encoding:
// base64. Memory stays bounded: lines are looked at only up to 998 bytes.
class ContentScanner {
public:
    void feed(std::string_view bytes);
    void finish();
    void reset() { *this = ContentScanner(); }
    size_t header_bytes() const { return header_bytes_; }
    bool base64_text() const { return base64_text_; }

private:
    void line(std::string_view l);
    void end_of_headers();
    void header_field(std::string_view field);
    static bool is_field_start(std::string_view l);

    std::string partial_;
    size_t partial_bytes_ = 0;        // bytes of the current line, also beyond 998
    bool in_top_header_ = true;
    bool in_part_header_ = true;      // the top-level header is a part header too
    size_t header_bytes_ = 0;
    std::string field_;               // current (unfolded) header field
    std::string content_type_, encoding_;
    std::vector<std::string> boundaries_;
    bool base64_text_ = false;
};

}  // namespace submit
