// MTA-STS (RFC 8461) for courieresmtp: the `_mta-sts.<domain>` TXT record, the policy
// fetched over HTTPS from mta-sts.<domain> (OpenSSL through lib/tls, one GET, no
// redirects, 64 KiB at most), its on-disk cache spool/mta-sts/<domain> (atomic
// replace, refreshed on a new id or after max_age), and MX pattern matching.
// SECURITY: runs in the delivery worker as the mail user; the policy body is untrusted
// input, parsed once here with bounded sizes; the HTTPS peer must present a certificate
// for mta-sts.<domain> that chains to TLS_TRUSTCERTS (else the system store).
#pragma once
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include "config/config.h"
#include "lib/result.h"

namespace mta_sts {

enum class Mode { none, testing, enforce };
const char* mode_name(Mode m);

struct Policy {
    Mode mode = Mode::none;
    std::vector<std::string> mx;     // patterns, lower case: "mx.example" or "*.example"
    long max_age = 0;                // seconds (RFC 8461 3.2: at most 31557600)
    std::string id;                  // the TXT record's id it was fetched under
    std::time_t fetched = 0;
    bool expired(std::time_t now) const { return now >= fetched + max_age; }
};

// RFC 8461 3.1: the id of "v=STSv1; id=...;" records; nullopt when there is not
// exactly one record starting with "v=STSv1" or it is malformed.
std::optional<std::string> policy_id(const std::vector<std::string>& txt_records);

// RFC 8461 3.2: "key: value" lines (LF or CRLF); version STSv1, mode, max_age and (unless
// mode is none) at least one mx are required; unknown keys are ignored.
Result<Policy> parse_policy(std::string_view text);

// RFC 8461 4.1: "*.example.com" matches exactly one extra left-most label; otherwise
// an exact, case-insensitive match (trailing dots ignored).
bool mx_pattern_matches(std::string_view pattern, std::string_view host);
bool mx_allowed(const Policy& p, std::string_view host);

// An HTTP/1.x response: status, Content-Type and body (chunked transfer decoded).
struct HttpResponse {
    int status = 0;
    std::string content_type;        // media type only, lower case ("text/plain")
    std::string body;
    bool framed = false;             // Content-Length or chunked: complete without the close
};
// Parses a complete response read up to the peer's close; errors for a malformed or
// over-long (max_body) one.
Result<HttpResponse> parse_http_response(std::string_view raw, size_t max_body);

// The cache file: a small header (format, fetched time, id) and the policy text.
std::string format_cache(const Policy& p, std::string_view policy_text);
Result<Policy> parse_cache(std::string_view file);

// Where and how policies are fetched and cached.
struct FetchSettings {
    std::string cache_dir;           // spool/mta-sts
    std::string ca_file, ca_dir;     // TLS_TRUSTCERTS; both "" = the system store
    unsigned port = 443;             // `mtastsport` (tests); RFC 8461 3.3 says 443
    long timeout = 30;               // seconds for the whole fetch
};
FetchSettings fetch_settings(const ConfigDir& cfg, const std::string& spool, const std::string& trustcerts);

// The policy in force for a domain (RFC 8461 5.1): TXT lookup, cache, fetch when the
// id changed or the cache expired, the cached policy when a refresh fails; nullopt
// when the domain has none. Every decision is logged.
std::optional<Policy> current_policy(const std::string& domain, const FetchSettings& fs);

}  // namespace mta_sts
