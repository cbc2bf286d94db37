// DANE for outbound SMTP (RFC 7672, with RFC 7671): which TLSA records count, and what
// one MX host's DNSSEC status and TLSA answer demand of the connection. Pure rules; the
// lookups and the handshake are in outbound_session.cc and lib/tls.
#pragma once
#include <string>
#include <vector>
#include "lib/dns.h"
#include "lib/tls.h"

namespace outbound {

// Per-domain DANE setting from esmtproutes: `auto` uses DANE whenever the MX host is
// DNSSEC-secure and publishes TLSA records (only possible with a trust anchor in
// `dnssectrustanchor`); /SECURITY=DANE requires it; /DANE=OFF never looks.
enum class DaneSetting { automatic, required, off };

// RFC 7672 3.1: DANE-TA(2) and DANE-EE(3) with selector 0/1 and matching type 0/1/2
// whose data has the digest's length; PKIX-TA(0)/PKIX-EE(1) are unusable for SMTP.
bool tlsa_usable_for_smtp(const dns::TlsaRecord& r);
std::vector<TlsaData> usable_tlsa(const std::vector<dns::TlsaRecord>& records);

// What one MX host's connection must satisfy.
struct DaneDecision {
    enum class Kind {
        opportunistic,   // no DANE: the TLS policy as before
        authenticate,    // TLS mandatory, the chain must match `records`
        encrypt,         // secure TLSA set without a usable record: TLS mandatory, no auth
        defer,           // do not use this host (bogus/failed TLSA lookup, or DANE required)
    } kind = Kind::opportunistic;
    std::vector<TlsaData> records;
    std::string reason;          // for the log: what the TLSA lookup said
};

// host_secure: the MX RRset (or the implicit MX) and the host's address records were
// all DNSSEC-validated (RFC 7672 2.2.1, 2.2.2). tlsa: the `_port._tcp.host` answer
// (ignored when !host_secure: it is not looked up then).
DaneDecision decide_dane(DaneSetting setting, bool host_secure, const dns::Answer<dns::TlsaRecord>* tlsa);

// The TLSA owner name of an MX host (RFC 7672 2.2.3): "_25._tcp.mx.example".
std::string tlsa_name(const std::string& host, unsigned port);

const char* dane_kind_name(DaneDecision::Kind k);

}  // namespace outbound
