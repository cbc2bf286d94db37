// Recipient routing for submit: local account or remote domain, and the refusals
// (unknown user, relaying denied, bad syntax) as the SMTP client should see them.
#include "submit/recipients.h"
#include <pwd.h>
#include <cstdlib>
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
    out.domains = AcceptedDomains::load(cfg, vhost);
    if (auto line = cfg.first_line("sizelimit", vhost)) out.size_limit = parse_size_limit(*line);
    return out;
}

uint64_t parse_size_limit(std::string_view text) {
    if (text.empty() || text.find_first_not_of("0123456789") != std::string_view::npos ||
        text.size() > 18)
        return 10485760;
    return std::strtoull(std::string(text).c_str(), nullptr, 10);
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
    return !domain.empty() && cfg.domains.hosted(domain).has_value();
}

DomainClass classify_domain(std::string_view domain, const VhostConfig& cfg, std::string* rule) {
    if (domain.empty()) {
        *rule = "no domain";
        return DomainClass::local;
    }
    if (domain_in_list(domain, cfg.locals)) {
        *rule = cfg.domains.local(domain).value_or("locals");
        return DomainClass::local;
    }
    if (auto h = cfg.domains.hosted(domain)) {
        *rule = h->where;
        return DomainClass::hosted;
    }
    if (auto w = cfg.domains.accepted(domain)) {
        *rule = *w;
        return DomainClass::accepted;
    }
    *rule = "not a local, hosted or accepted domain";
    return DomainClass::foreign;
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
    DomainClass cls = classify_domain(mbox->domain, cfg, &d.rule);
    RelayVerdict relay = decide_relay(cls, mbox->local, relay_allowed);
    if (!relay.allowed) {
        d.rule = relay.rule;
        d.reply = {550, "5.7.1 Relaying denied"};
        return d;
    }
    if (cls == DomainClass::foreign) d.rule = relay.rule;   // "relay client"
    if (cls == DomainClass::local) {
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
    } else if (cls == DomainClass::hosted) {
        // A hosted domain's mailboxes are named "user@domain" (courier(8), hosteddomains);
        // an alias domain's mail goes to the same mailbox of the domain it aliases.
        std::string account = lowercase_ascii(mbox->local) + "@" + cfg.domains.hosted(mbox->domain)->domain;
        if (!account_exists(account)) {
            d.reply = {550, "5.1.1 <" + mbox->str() + ">: unknown user"};
            return d;
        }
        r.module = "local";
        r.host = account;
    } else {
        r.module = "esmtp";
        r.host = normalize_domain(mbox->domain);
    }
    r.address = mbox->str();
    d.rcpt = std::move(r);
    d.reply = {250, "2.1.5 Ok"};
    return d;
}

}  // namespace submit
