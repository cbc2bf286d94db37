// SubmitSession's SPF checks (courier(8), bofh BOFHSPF*): HELO and MAIL FROM at the
// mail command, the message bytes through the Received-SPF renaming filter, the From:
// check at the end of data, and the Received-SPF: fields for the queue file. The
// policy itself is submit/spf_check.h; the settings come from the bofh file.
#include "lib/log.h"
#include "submit/session.h"

namespace submit {

SpfChecker& SubmitSession::spf() {
    if (!spf_) {
        const BofhConfig& b = bofh();
        SpfSettings s = parse_spf_settings(b.opts, b.opt_where);
        for (const auto& e : s.errors) log_warning("submit: " + log_safe(e));
        spf_.emplace(std::move(s), spf::resolver_lookups());
    }
    return *spf_;
}

// SPF runs before the other bofh sender checks, as in Courier: BOFHCHECKHELO=1 is
// not needed for a HELO name that passed SPF.
std::optional<SubmitReply> SubmitSession::spf_at_mail(const std::string& sender,
                                                      const std::string& me) {
    SpfSession s;
    s.source = opts_.source;
    s.remote_ip = facts_.remote_ip;
    s.helo = facts_.helo;
    s.relay = facts_.relay;
    s.dnswl_zone = facts_.dnswl;
    spf().reset(s, sender, me);
    return spf().check_mail();
}

Status SubmitSession::spf_append(std::string_view raw) {
    spf_piece_.clear();
    spf().filter(raw, spf_piece_);
    return body_.append(spf_piece_);
}

Status SubmitSession::spf_finish_body() {
    spf_piece_.clear();
    spf().finish_filter(spf_piece_);
    if (Status st = body_.append(spf_piece_); !st) return st;
    return body_.finish();
}

std::optional<SubmitReply> SubmitSession::spf_at_data_end() { return spf().check_from(); }

std::string SubmitSession::spf_headers() { return spf().headers(); }

}  // namespace submit
