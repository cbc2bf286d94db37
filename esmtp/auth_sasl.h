// SMTP AUTH (RFC 4954) mechanics: base64, the PLAIN (RFC 4616), LOGIN and CRAM-MD5
// (RFC 2195) exchanges, and the credentials backend interface they check against.
// Pure functions and small classes: the session drives them with lines from the
// network, unit tests with strings.
// SECURITY: every input is attacker-controlled; decoded credentials are compared in
// constant time and never logged.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace esmtp {

std::string base64_encode(std::string_view raw);
// nullopt for anything that is not canonical base64 (RFC 4648 4, padding required).
std::optional<std::string> base64_decode(std::string_view text);

// Where credentials are checked: the userdb (auth_userdb.h) or PAM (auth_pam.h).
class AuthBackend {
public:
    enum class Verdict { ok, bad, temporary_failure };
    virtual ~AuthBackend() = default;
    virtual Verdict check_password(const std::string& user, const std::string& password) = 0;
    // The CRAM-MD5 shared secret of user; nullopt when there is none (or no such user).
    virtual std::optional<std::string> cram_secret(const std::string& user) = 0;
    virtual bool supports_cram() const = 0;
};

// PLAIN: "authzid NUL authcid NUL passwd". Only authzid == authcid (or empty) is
// accepted: nobody may act for someone else.
struct PlainCredentials {
    std::string user, password;
};
std::optional<PlainCredentials> parse_plain(std::string_view decoded);

// CRAM-MD5: the challenge "<random.time@host>" and the check of "user hexdigest".
std::string cram_challenge(std::string_view host);
struct CramResponse {
    std::string user, digest;   // digest: 32 lower-case hex digits
};
std::optional<CramResponse> parse_cram_response(std::string_view decoded);
std::string hmac_md5_hex(std::string_view key, std::string_view text);
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace esmtp
