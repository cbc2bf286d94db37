// Sender Policy Framework evaluation (RFC 7208 check_host()) with libspf2, whose DNS
// lookups go through the MTA's own resolver (lib/dns.h) by a custom libspf2 DNS layer,
// so a test DNS server named in `dnsserver` answers every SPF query too.
// The policy on top (which result is accepted, reply codes, headers: courier(8), bofh
// BOFHSPF*) is submit/spf_check.h; this module only says what the result is.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include "lib/dns.h"

namespace spf {

enum class Result { none, neutral, pass, fail, softfail, temperror, permerror };

// Courier's keyword for a result (courier(8), "Sender Policy Framework Keywords"):
// none neutral pass fail softfail error unknown.
std::string_view keyword(Result r);
// RFC 7208's name, used in Received-SPF: (temperror and permerror for the last two).
std::string_view rfc_name(Result r);
// Courier keyword -> result ("error" and "unknown"; the RFC names are accepted too).
std::optional<Result> result_from_keyword(std::string_view word);

// The lookups SPF evaluation makes. Default: dns::resolver(). Tests give their own.
struct Lookups {
    std::function<dns::Answer<std::string>(const std::string&)> a, aaaa, txt;
    std::function<dns::Answer<dns::MxRecord>(const std::string&)> mx;
    // PTR of an IP address (text), as dns::Resolver::ptr.
    std::function<dns::Answer<std::string>(const std::string&)> ptr;
};
Lookups resolver_lookups();

struct Request {
    std::string client_ip;   // IPv4 or IPv6 text (IPv4-mapped IPv6 is treated as IPv4)
    std::string helo;        // the HELO/EHLO name ("" when none)
    // The mailbox whose domain is checked (MAIL FROM, or the From: address). Empty:
    // the HELO identity, checked as postmaster@<helo> (RFC 7208 2.3).
    std::string identity;
    std::string receiver;    // our name (`me`), for %{r} and the comment
};

struct Verdict {
    Result result = Result::temperror;
    // RFC 7208 9.1 comment: "<receiver>: domain of <identity> designates <ip> as ...".
    std::string comment;
    // The text for an SMTP reply: for fail the domain's explanation (exp=) or ours,
    // otherwise the comment without the receiver.
    std::string explanation;
    std::string identity;    // the mailbox that was checked (postmaster@helo for HELO)
};

// check_host() for one identity. Never throws; a DNS failure is temperror, a broken
// record permerror, a client address that cannot be parsed permerror.
Verdict evaluate(const Request& req, const Lookups& dns);
inline Verdict evaluate(const Request& req) { return evaluate(req, resolver_lookups()); }

// "4.3.2.1.in-addr.arpa" -> "1.2.3.4"; the 32-nibble ip6.arpa form -> IPv6 text.
// libspf2 asks PTR by reverse name; lib/dns asks by address.
std::optional<std::string> ip_from_reverse_name(std::string_view name);

}  // namespace spf
