// REQUIRETLS (RFC 8689): the rules of both sides as pure functions. Inbound, the MAIL
// parameter is accepted only on a TLS session (section 4.1); outbound, a REQUIRETLS
// message goes only over TLS with an authenticated certificate (PKIX against the MX
// name, or DANE) to a peer that advertises REQUIRETLS, else it fails with 5.7.30
// (section 4.2.1). The TLS-Required: No header field (section 5) lets a message
// without REQUIRETLS skip the TLS policies of the recipient's side.
#pragma once
#include <optional>
#include <string>
#include <string_view>

class TlsConnection;

namespace requiretls {

// Inbound MAIL FROM ... REQUIRETLS: the refusal when the session is not TLS, else nullopt.
std::optional<std::string> mail_refusal(bool requiretls, bool session_tls);

// What an outbound connection offers a REQUIRETLS message.
struct NextHop {
    std::string host, address;     // the MX name and its IP, for the reply text
    // The host was found securely (RFC 8689 4.2.1 step 1): a DNSSEC-validated MX and
    // address, an MX that an MTA-STS policy in enforce mode names, or an administrator's
    // esmtproutes relay.
    bool mx_authenticated = true;
    bool tls = false;              // TLS is active
    bool authenticated = false;    // PKIX chain and name of `host` verified, or DANE
    std::string why_not_authenticated;   // the TLS library's reason, when not
    bool advertises_requiretls = false;  // EHLO after STARTTLS listed REQUIRETLS
};
// nullopt when a message with `requiretls` may be sent over this connection; else
// the permanent failure for its recipients: "550 5.7.30 ..." (RFC 8689 4.2.1: the
// client MUST NOT send it and sends a non-delivery notification).
std::optional<std::string> delivery_refusal(bool requiretls, const NextHop& hop);
// The connection's hop: TLS (tls non-null), authenticated by DANE or by a trusted
// chain that names `host` (RFC 8689 4.2.1 step 4), and the peer's REQUIRETLS.
NextHop next_hop(const TlsConnection* tls, const std::string& host, const std::string& address,
                 bool advertises_requiretls);

// The message's header section holds "TLS-Required: No" (case-insensitive, folding
// and surrounding space allowed). Only the header section is searched.
bool has_tls_required_no(std::string_view message);
// RFC 8689 5: the header is honoured only without the REQUIRETLS parameter, which wins.
inline bool tls_optional(bool requiretls, std::string_view message) {
    return !requiretls && has_tls_required_no(message);
}

}  // namespace requiretls
