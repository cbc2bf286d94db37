// DMARC (RFC 7489): the policy record, the organisational domain (the public suffix
// list when installed, else the last two labels), identifier alignment and the
// evaluation of one message from its SPF and DKIM results, down to the disposition
// the domain asks for. Pure functions except the record lookup, which the caller
// passes in (lib/dns.h TXT by default).
#pragma once
#include <ctime>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>
#include "lib/dns.h"
#include "lib/result.h"

namespace dmarc {

enum class Disposition { none, quarantine, reject };
enum class Alignment { relaxed, strict };
std::string_view disposition_name(Disposition d);
std::optional<Disposition> parse_disposition(std::string_view word);

// A _dmarc TXT record (RFC 7489 6.3). Unknown tags are ignored (6.3: for extensions).
struct Record {
    Disposition p = Disposition::none;
    std::optional<Disposition> sp;     // subdomain policy; p when absent
    Alignment adkim = Alignment::relaxed, aspf = Alignment::relaxed;
    int pct = 100;
    std::vector<std::string> rua, ruf;
};
// An error when v=DMARC1 is not the first tag, or p= is missing or unknown (and there
// is no rua= to report to: then p=none, 6.6.3), or a value is malformed.
Result<Record> parse_record(std::string_view text);

// The public suffix list (https://publicsuffix.org/list/): normal, wildcard ("*.ck")
// and exception ("!www.ck") rules; the prevailing rule gives the public suffix, the
// organisational domain is one label more (RFC 7489 3.2).
class PublicSuffixList {
public:
    static PublicSuffixList parse(std::string_view text);
    // /usr/share/publicsuffix/public_suffix_list.dat (Debian package publicsuffix),
    // read once per process; empty when the file is missing.
    static const PublicSuffixList& system();
    bool empty() const { return rules_.empty(); }
    std::string organizational_domain(std::string_view domain) const;

private:
    std::unordered_set<std::string> rules_;
};
inline constexpr const char* kPublicSuffixFile = "/usr/share/publicsuffix/public_suffix_list.dat";

// With an empty list: the last two labels ("a.b.example.com" -> "example.com").
std::string organizational_domain(std::string_view domain, const PublicSuffixList& psl);
inline std::string organizational_domain(std::string_view domain) {
    return organizational_domain(domain, PublicSuffixList::system());
}

using OrgDomain = std::function<std::string(std::string_view)>;
// RFC 7489 3.1: strict needs equal domains, relaxed equal organisational domains.
bool aligned(std::string_view from_domain, std::string_view auth_domain, Alignment mode,
             const OrgDomain& org);

enum class Outcome { none, pass, fail, temperror, permerror };
std::string_view outcome_name(Outcome o);

struct Inputs {
    std::string from_domain;                 // RFC5322.From domain
    bool spf_pass = false;
    std::string spf_domain;                  // the MAIL FROM domain (or HELO's) checked by SPF
    std::vector<std::string> dkim_pass_domains;   // d= of every signature that passed
};

struct Evaluation {
    Outcome outcome = Outcome::none;
    std::string policy_domain;         // where the record was found
    std::optional<Record> record;
    Disposition policy = Disposition::none;        // p= or sp= as it applies
    Disposition disposition = Disposition::none;   // after pct= sampling; none on pass
    bool spf_aligned = false, dkim_aligned = false;
    std::string reason;                // for the log and the header comment
};

using TxtLookup = std::function<dns::Answer<std::string>(const std::string&)>;
// Policy discovery (6.6.3) and the verdict (6.6.2). random_percent in [0, 100) decides
// pct= sampling (6.6.4): the policy applies when it is below pct, else one step less.
Evaluation evaluate(const Inputs& in, const TxtLookup& lookup, const OrgDomain& org, int random_percent);

}  // namespace dmarc
