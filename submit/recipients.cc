// Recipient routing for submit: local account or remote domain, and the refusals
// (unknown user, relaying denied, bad syntax) as the SMTP client should see them.
#include "submit/recipients.h"
#include <pwd.h>
#include <algorithm>
#include "lib/address.h"
#include "lib/paths.h"

namespace submit {

VhostConfig VhostConfig::load(const ConfigDir& cfg, std::string_view vhost) {
    VhostConfig out;
    out.me = cfg.me(vhost);
    out.locals = cfg.locals(vhost);
    out.default_domain = lowercase_ascii(cfg.default_domain(vhost));
    out.lowercase_local = cfg.exists("locallowercase");
    for (const auto& d : cfg.list("hosteddomains", vhost)) {
        // "domain" or "alias<TAB>domain" (makehosteddomains' alias form): the first word.
        std::string first = d.substr(0, d.find_first_of(" \t"));
        if (!first.empty()) out.hosted.push_back(lowercase_ascii(first));
    }
    return out;
}

const VhostConfig& VhostConfigCache::get(const std::string& vhost) {
    auto it = by_vhost_.find(vhost);
    if (it == by_vhost_.end()) it = by_vhost_.emplace(vhost, VhostConfig::load(cfg_, vhost)).first;
    return it->second;
}

bool system_account_exists(const std::string& account) {
    // Names with '/' or a leading '.' never reach getpwnam: they could only be
    // mischief with a home-relative path later on.
    if (account.empty() || account.find('/') != std::string::npos || account[0] == '.')
        return false;
    return ::getpwnam(account.c_str()) != nullptr;
}

bool is_local_domain(std::string_view domain, const VhostConfig& cfg) {
    return domain.empty() || domain_in_list(domain, cfg.locals);
}

bool is_hosted_domain(std::string_view domain, const VhostConfig& cfg) {
    return !domain.empty() && std::find(cfg.hosted.begin(), cfg.hosted.end(), lowercase_ascii(domain)) !=
                                  cfg.hosted.end();
}

std::optional<std::string> account_for_local_part(const std::string& local,
                                                  AccountExists account_exists) {
    std::string candidate = local;
    for (;;) {
        if (account_exists(candidate)) return candidate;
        size_t dash = candidate.rfind('-');
        // "-ext" alone has no account part.
        if (dash == std::string::npos || dash == 0) return std::nullopt;
        candidate.resize(dash);
    }
}

RouteDecision route_recipient(std::string_view address, const VhostConfig& cfg,
                              bool relay_allowed, AccountExists account_exists) {
    RouteDecision d;
    std::string why;
    auto mbox = address.empty() ? std::nullopt : parse_mailbox(address, &why);
    if (!mbox || mbox->local.empty()) {
        d.reply = {501, "5.1.3 Bad recipient address syntax"};
        return d;
    }
    QueueRecipient r;
    if (is_local_domain(mbox->domain, cfg)) {
        if (mbox->domain.empty()) mbox->domain = cfg.default_domain;
        if (cfg.lowercase_local) mbox->local = lowercase_ascii(mbox->local);
        r.module = "local";
        if (auto account = account_for_local_part(mbox->local, account_exists)) {
            r.host = std::move(*account);
        } else if (lowercase_ascii(mbox->local) == "postmaster") {
            r.host = mail_user_name();
        } else {
            d.reply = {550, "5.1.1 <" + mbox->str() + ">: unknown user"};
            return d;
        }
    } else if (is_hosted_domain(mbox->domain, cfg)) {
        // A hosted domain's mailboxes are named "user@domain" (courier(8), hosteddomains).
        std::string account = lowercase_ascii(mbox->local) + "@" + mbox->domain;
        if (!account_exists(account)) {
            d.reply = {550, "5.1.1 <" + mbox->str() + ">: unknown user"};
            return d;
        }
        r.module = "local";
        r.host = account;
    } else {
        if (!relay_allowed) {
            d.reply = {550, "5.7.1 Relaying denied"};
            return d;
        }
        r.module = "esmtp";
        r.host = mbox->domain;
    }
    r.address = mbox->str();
    d.rcpt = std::move(r);
    d.reply = {250, "2.1.5 Ok"};
    return d;
}

}  // namespace submit
