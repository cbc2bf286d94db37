// REQUIRETLS rules: see requiretls.h.
#include "esmtp/requiretls.h"

#include <cctype>
#include "lib/tls.h"

namespace requiretls {

namespace {
bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}
}  // namespace

std::optional<std::string> mail_refusal(bool requiretls, bool session_tls) {
    if (!requiretls || session_tls) return std::nullopt;
    return "530 5.7.10 REQUIRETLS is only accepted over TLS: use STARTTLS first";
}

std::optional<std::string> delivery_refusal(bool requiretls, const NextHop& hop) {
    if (!requiretls) return std::nullopt;
    std::string who = hop.host + " [" + hop.address + "]";
    if (!hop.mx_authenticated)
        return "550 5.7.30 REQUIRETLS: " + who + " was found by an insecure MX lookup (no DNSSEC, "
               "no MTA-STS policy in enforce mode); message not sent";
    if (!hop.tls)
        return "550 5.7.30 REQUIRETLS: the connection to " + who +
               " is not TLS-protected (no STARTTLS, or it failed); message not sent";
    if (!hop.authenticated)
        return "550 5.7.30 REQUIRETLS: the certificate of " + who + " is not verified" +
               (hop.why_not_authenticated.empty() ? "" : " (" + hop.why_not_authenticated + ")") +
               "; message not sent";
    if (!hop.advertises_requiretls)
        return "550 5.7.30 REQUIRETLS: " + who + " does not support REQUIRETLS; message not sent";
    return std::nullopt;
}

NextHop next_hop(const TlsConnection* tls, const std::string& host, const std::string& address,
                 bool advertises_requiretls) {
    NextHop hop{host, address, true, tls != nullptr, false, "", advertises_requiretls};
    if (!tls) return hop;
    TlsInfo info = tls->info();
    if (info.dane_checked) {
        hop.authenticated = info.dane_verified;
        if (!hop.authenticated) hop.why_not_authenticated = "DANE: " + info.verify_error;
    } else if (!info.peer_verified) {
        hop.why_not_authenticated = info.verify_error.empty() ? "no trusted chain" : info.verify_error;
    } else if (!tls->peer_name_matches(host)) {
        hop.why_not_authenticated = "it does not name " + host;
    } else {
        hop.authenticated = true;
    }
    return hop;
}

bool has_tls_required_no(std::string_view message) {
    size_t p = 0;
    while (p < message.size()) {
        size_t e = message.find('\n', p);
        if (e == std::string_view::npos) e = message.size();
        std::string_view line = message.substr(p, e - p);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) return false;   // end of the header section
        size_t colon = line.find(':');
        if (colon != std::string_view::npos && iequals(trim(line.substr(0, colon)), "TLS-Required")) {
            std::string value(line.substr(colon + 1));
            // Folded continuation lines belong to the value.
            size_t q = e + 1;
            while (q < message.size() && (message[q] == ' ' || message[q] == '\t')) {
                size_t qe = message.find('\n', q);
                if (qe == std::string_view::npos) qe = message.size();
                value += " " + std::string(message.substr(q, qe - q));
                q = qe + 1;
            }
            if (iequals(trim(value), "No")) return true;
        }
        p = e + 1;
    }
    return false;
}

}  // namespace requiretls
