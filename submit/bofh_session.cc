// SubmitSession's use of the bofh file (courier(8), bofh): the checks of the sender at
// MAIL (badfrom, freemail, badmx, BOFHCHECKHELO), of each routed recipient (spamtrap)
// and of the message at the end of data (spamtrap, BOFHHEADERLIMIT, BOFHNOBASE64TEXT).
// The rules themselves are pure functions in bofh.cc; every refusal names its line.
#include <unistd.h>
#include "lib/address.h"
#include "lib/dns.h"
#include "lib/log.h"
#include "submit/session.h"

namespace submit {

const BofhConfig& SubmitSession::bofh() {
    if (!bofh_) bofh_ = BofhConfig::load(cfg_);
    return *bofh_;
}

// Checks of mail arriving by SMTP. badfrom applies to every SMTP client; freemail,
// badmx and the HELO check judge strangers, so relay clients (RELAYCLIENT, AUTH) skip them.
std::optional<SubmitReply> SubmitSession::sender_policy(const std::string& sender) {
    if (opts_.source != "esmtp") return std::nullopt;
    const BofhConfig& b = bofh();
    auto refuse = [&](SubmitReply r, const std::string& rule) {
        log_info("refused from=" + log_safe(sender) + " client=" + log_safe(facts_.remote_ip) +
                 " helo=" + log_safe(facts_.helo) + " rule=" + log_safe(rule) + " reason=" + log_safe(r.line()));
        return std::optional<SubmitReply>(r);
    };
    if (!sender.empty()) {
        if (auto w = match_badfrom(sender, b)) return refuse({550, "5.7.1 Mail from <" + sender + "> refused"}, *w + " badfrom");
    }
    if (facts_.relay) return std::nullopt;
    // courier(8): BOFHCHECKHELO=1 is not needed for a HELO name whose SPF check passed.
    bool helo_spf_pass = spf().result(SpfIdentity::helo) == spf::Result::pass;
    if (b.check_helo > 0 && !(b.check_helo == 1 && helo_spf_pass)) {
        if (auto bad = check_helo_name(facts_.helo, facts_.remote_ip, b.check_helo, dns::resolver())) {
            SubmitReply r = bad->temporary ? SubmitReply{451, "4.4.3 " + bad->why}
                                           : SubmitReply{550, "5.7.1 " + bad->why};
            return refuse(r, b.where("BOFHCHECKHELO") + " BOFHCHECKHELO=" + std::to_string(b.check_helo));
        }
    }
    if (sender.empty()) return std::nullopt;
    if (auto w = match_freemail(sender, facts_.remote_host, b))
        return refuse({550, "5.7.1 Mail from <" + sender + "> must come from its own mail servers"}, *w + " freemail");
    if (!b.badmx.empty()) {
        std::string domain = sender.substr(sender.rfind('@') + 1);
        if (!domain.empty() && domain[0] != '[') {
            if (auto w = match_badmx(mail_host_ips(domain, dns::resolver()), b))
                return refuse({550, "5.7.1 Mail from <" + sender + "> refused: its domain's mail server is blocked"},
                              *w + " badmx");
        }
    }
    return std::nullopt;
}

std::optional<std::string> SubmitSession::spamtrap_for(const std::string& address, bool local_mailbox) {
    if (opts_.source != "esmtp") return std::nullopt;
    const BofhConfig& b = bofh();
    if (b.spamtraps.empty()) return std::nullopt;
    if (!local_mailbox) return match_spamtrap(address, b);
    // courier(8): a local mailbox is written user@<me> or user@<the host name>.
    std::string local = address.substr(0, address.rfind('@'));
    if (auto w = match_spamtrap(local + "@" + vhosts_.get(env_.vhost).me, b)) return w;
    return match_spamtrap(local + "@" + system_hostname(), b);
}

std::optional<SubmitReply> SubmitSession::content_policy() {
    content_.finish();
    const BofhConfig& b = bofh();
    std::optional<SubmitReply> r;
    std::string rule;
    if (!spamtrap_rule_.empty()) {
        r = SubmitReply{554, "5.7.1 Message refused"};
        rule = spamtrap_rule_;
    } else if (b.header_limit && content_.header_bytes() > b.header_limit) {
        r = SubmitReply{552, "5.3.4 Message header too large"};
        rule = b.where("BOFHHEADERLIMIT") + " BOFHHEADERLIMIT=" + std::to_string(b.header_limit);
    } else if (b.no_base64_text && opts_.source == "esmtp" && content_.base64_text()) {
        r = SubmitReply{550, "5.7.1 Text content encoded in base64 refused"};
        rule = b.where("BOFHNOBASE64TEXT") + " BOFHNOBASE64TEXT";
    }
    if (r)
        log_info("refused message from=" + log_safe(env_.sender) + " client=" + log_safe(facts_.remote_ip) +
                 " rule=" + log_safe(rule) + " reason=" + log_safe(r->line()));
    return r;
}

}  // namespace submit
