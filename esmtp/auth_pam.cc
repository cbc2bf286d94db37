// PAM backend of SMTP AUTH: see auth_pam.h.
#include "esmtp/auth_pam.h"
#include <cstdlib>
#include <cstring>
#include <security/pam_appl.h>

namespace esmtp {
namespace {
// Answers every password prompt with the password; any other prompt fails.
int conversation(int n, const struct pam_message** msg, struct pam_response** resp, void* data) {
    if (n <= 0 || n > PAM_MAX_NUM_MSG) return PAM_CONV_ERR;
    auto* out = static_cast<struct pam_response*>(std::calloc(static_cast<size_t>(n), sizeof(struct pam_response)));
    if (!out) return PAM_BUF_ERR;
    for (int i = 0; i < n; ++i) {
        if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF || msg[i]->msg_style == PAM_PROMPT_ECHO_ON) {
            out[i].resp = ::strdup(static_cast<const char*>(data));
            if (!out[i].resp) {
                for (int j = 0; j < i; ++j) std::free(out[j].resp);
                std::free(out);
                return PAM_BUF_ERR;
            }
        }
    }
    *resp = out;
    return PAM_SUCCESS;
}
}  // namespace

AuthBackend::Verdict PamBackend::check_password(const std::string& user, const std::string& password) {
    struct pam_conv conv{conversation, const_cast<char*>(password.c_str())};
    pam_handle_t* h = nullptr;
    if (pam_start(service_.c_str(), user.c_str(), &conv, &h) != PAM_SUCCESS) return Verdict::temporary_failure;
    int r = pam_authenticate(h, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
    if (r == PAM_SUCCESS) r = pam_acct_mgmt(h, PAM_SILENT);
    pam_end(h, r);
    if (r == PAM_SUCCESS) return Verdict::ok;
    if (r == PAM_AUTHINFO_UNAVAIL || r == PAM_BUF_ERR || r == PAM_SYSTEM_ERR) return Verdict::temporary_failure;
    return Verdict::bad;
}

}  // namespace esmtp
