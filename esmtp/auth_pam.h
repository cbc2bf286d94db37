// PAM as the credentials backend of SMTP AUTH (ESMTPAUTH_BACKEND=pam): the service
// name is ESMTP_PAM_SERVICE (default "esmtp"). PAM has no CRAM-MD5 secrets, so only
// PLAIN and LOGIN are offered with it.
// SECURITY: courieresmtpd runs as the mail user; pam_unix can then check only through
// its unix_chkpwd helper, which refuses other users' passwords: use a PAM module that
// does not need root (e.g. pam_pwdfile, pam_ldap) for the esmtp service.
#pragma once
#include <string>
#include "esmtp/auth_sasl.h"

namespace esmtp {

class PamBackend : public AuthBackend {
public:
    explicit PamBackend(std::string service) : service_(std::move(service)) {}
    Verdict check_password(const std::string& user, const std::string& password) override;
    std::optional<std::string> cram_secret(const std::string&) override { return std::nullopt; }
    bool supports_cram() const override { return false; }

private:
    std::string service_;
};

}  // namespace esmtp
