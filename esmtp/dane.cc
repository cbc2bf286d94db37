// DANE rules for outbound SMTP: see dane.h.
#include "esmtp/dane.h"

namespace outbound {

bool tlsa_usable_for_smtp(const dns::TlsaRecord& r) {
    if (r.usage != 2 && r.usage != 3) return false;   // PKIX-TA/EE: no CA set to trust (RFC 7672 3.1.3)
    if (r.selector > 1) return false;
    switch (r.matching_type) {
        case 0: return !r.data.empty();
        case 1: return r.data.size() == 32;   // SHA2-256
        case 2: return r.data.size() == 64;   // SHA2-512
        default: return false;
    }
}

std::vector<TlsaData> usable_tlsa(const std::vector<dns::TlsaRecord>& records) {
    std::vector<TlsaData> out;
    for (const auto& r : records)
        if (tlsa_usable_for_smtp(r)) out.push_back({r.usage, r.selector, r.matching_type, r.data});
    return out;
}

DaneDecision decide_dane(DaneSetting setting, bool host_secure, const dns::Answer<dns::TlsaRecord>* tlsa) {
    using K = DaneDecision::Kind;
    DaneDecision d;
    auto result = [&](K kind, std::string reason) {
        d.kind = kind;
        d.reason = std::move(reason);
        return d;
    };
    if (setting == DaneSetting::off) return result(K::opportunistic, "dane=off");
    bool required = setting == DaneSetting::required;
    if (!host_secure || !tlsa)
        return result(required ? K::defer : K::opportunistic, "MX or address records not DNSSEC-signed");
    if (tlsa->outcome == dns::Outcome::tempfail)   // includes DNSSEC bogus (RFC 7672 2.2)
        return result(K::defer, "TLSA lookup failed: " + tlsa->error);
    if (!tlsa->secure)
        return result(required ? K::defer : K::opportunistic, "TLSA answer not DNSSEC-signed");
    if (!tlsa->ok()) return result(required ? K::defer : K::opportunistic, "no TLSA records");
    d.records = usable_tlsa(tlsa->records);
    if (d.records.empty())   // RFC 7672 2.2: all unusable = mandatory unauthenticated TLS
        return result(required ? K::defer : K::encrypt, "no usable TLSA record among " + std::to_string(tlsa->records.size()));
    return result(K::authenticate, std::to_string(d.records.size()) + " usable TLSA record(s)");
}

std::string tlsa_name(const std::string& host, unsigned port) {
    return "_" + std::to_string(port) + "._tcp." + host;
}

const char* dane_kind_name(DaneDecision::Kind k) {
    switch (k) {
        case DaneDecision::Kind::opportunistic: return "none";
        case DaneDecision::Kind::authenticate: return "authenticate";
        case DaneDecision::Kind::encrypt: return "encrypt";
        case DaneDecision::Kind::defer: return "defer";
    }
    return "?";
}

}  // namespace outbound
