// The MTA's one resolver: MX, A, AAAA, TXT, PTR and TLSA lookups over libunbound
// (blocking ub_resolve; one context per process, created on first use). Every answer
// says whether it was DNSSEC-validated and tells NXDOMAIN, "no data" and temporary
// failure apart, because mail routing treats them differently (RFC 5321 5.1).
//
// Which name server: the first line of the config file `dnsserver`, else the
// environment variable COURIER_DNS_SERVER (read with secure_getenv), as "ip" or
// "ip@port" (e.g. "127.0.0.1@5353"); several may be given separated by spaces. When
// neither is set, /etc/resolv.conf and /etc/hosts are used. Validation: the first line
// of the config file `dnssectrustanchor` names a trust anchor file (e.g.
// /usr/share/dns/root.key); without one no answer is marked secure.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dns {

enum class Outcome {
    ok,         // records found (records non-empty)
    nxdomain,   // the name does not exist (permanent)
    nodata,     // the name exists, but has no record of that type (permanent)
    tempfail,   // SERVFAIL, timeout, no server, DNSSEC bogus: try again later
};

struct MxRecord {
    unsigned preference = 0;
    std::string host;            // without the trailing dot; "" for the null MX "."
};

struct TlsaRecord {
    uint8_t usage = 0, selector = 0, matching_type = 0;
    std::string data;            // raw certificate association data (binary)
};

template <typename T>
struct Answer {
    Outcome outcome = Outcome::tempfail;
    std::vector<T> records;      // empty unless outcome == ok
    bool secure = false;         // DNSSEC-validated (only with a trust anchor)
    std::string error;           // why, for logs, when outcome == tempfail
    bool ok() const { return outcome == Outcome::ok; }
};

struct ResolverOptions {
    std::vector<std::string> servers;   // "ip" or "ip@port"; empty: resolv.conf + hosts
    std::string trust_anchor_file;      // "" = no DNSSEC validation
};

// Options from the config dir (`dnsserver`, `dnssectrustanchor`) and
// COURIER_DNS_SERVER, as described above.
ResolverOptions options_from_config(const std::string& config_dir);

class Resolver {
public:
    explicit Resolver(ResolverOptions opts);
    ~Resolver();
    Resolver(const Resolver&) = delete;
    Resolver& operator=(const Resolver&) = delete;

    Answer<MxRecord> mx(std::string_view domain);
    Answer<std::string> a(std::string_view name);      // dotted IPv4 text
    Answer<std::string> aaaa(std::string_view name);   // IPv6 text
    Answer<std::string> txt(std::string_view name);    // character-strings concatenated
    // PTR of an IP address (IPv4 or IPv6 text); the reverse name is built here.
    Answer<std::string> ptr(std::string_view ip);
    Answer<TlsaRecord> tlsa(std::string_view name);    // e.g. "_25._tcp.mx.example"

    struct Impl;   // the libunbound context (dns.cc)

private:
    std::unique_ptr<Impl> impl_;
};

// The resolver of this process, built from options_from_config(paths().config) on
// first use. Create it after fork (a libunbound context must not cross a fork).
Resolver& resolver();

// Reverse labels of an address for PTR and DNS lists: "1.2.3.4" -> "4.3.2.1",
// IPv6 -> 32 nibbles "b.a.9.8...." (no trailing dot). nullopt if not an address.
std::optional<std::string> reverse_labels(std::string_view ip);

// Helpers exposed for unit tests: decode RDATA of one record.
std::optional<MxRecord> decode_mx(std::string_view rdata);
std::optional<std::string> decode_name(std::string_view wire, size_t* pos);
std::optional<std::string> decode_txt(std::string_view rdata);

}  // namespace dns
