// Relay control for submit (courier(8): locals, hosteddomains, esmtpacceptmailfor;
// RELAYCLIENT): the pure rules that decide whether a recipient address may be accepted
// from a client that is not allowed to relay, written so that none of the classic
// relay tricks (percent hack, bang paths, source routes, quoted local parts holding
// '@', address literals, trailing dots, mixed case) can turn a local or accepted
// domain into a path to somewhere else.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace submit {

// How a recipient's domain is handled here.
enum class DomainClass {
    local,       // in locals (or no domain): delivered to a local account
    hosted,      // in hosteddomains (or one of its aliases): local mailbox user@domain
    accepted,    // in esmtpacceptmailfor: relayed onward by ESMTP (backup MX, gateway)
    foreign,     // anything else: relaying, only for relay clients
};
const char* domain_class_name(DomainClass c);

// A routing instruction hidden in a local part: "percent hack" (user%host), "bang path"
// (host!user), "embedded @" ("user@host"@here, quoted), "source route" (':'), or
// nullopt for an ordinary local part. Such a local part never names an account here.
std::optional<std::string> routing_in_local_part(std::string_view local);

struct RelayVerdict {
    bool allowed = false;
    std::string rule;   // why, for the log: "relay client", "locals", "percent hack", ...
};

// The decision for one recipient: `cls` of its (normalised) domain, its local part,
// and whether the client may relay (RELAYCLIENT, AUTH, or not an esmtp source).
// Relay clients may send anywhere (their addresses are routed literally). Others may
// only reach local, hosted and accepted domains, and only with a local part that
// carries no routing of its own.
RelayVerdict decide_relay(DomainClass cls, std::string_view local, bool relay_client);

}  // namespace submit
