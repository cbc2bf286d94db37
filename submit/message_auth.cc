// DKIM signing, DKIM verification, DMARC and Authentication-Results: for submit
// (submit/message_auth.h, courier-dkim(5)).
#include "submit/message_auth.h"
#include <dirent.h>
#include <sys/stat.h>
#include <algorithm>
#include <cctype>
#include <random>
#include "lib/address.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/queue.h"
#include "lib/rfc5322.h"

namespace submit {

namespace {

constexpr const char* kKeyFolder = "dkim";

std::string lower(std::string_view s) { return lowercase_ascii(s); }

bool is_dir(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string quoted(std::string_view text);

// header.b is a base64 prefix (RFC 6008); "/" and "=" are tspecials (RFC 2045), which
// a property value may hold only inside a quoted-string (RFC 8601 2.2).
std::string b_for_property(std::string_view prefix) {
    if (prefix.find_first_of("/=") != std::string_view::npos) return quoted(prefix);
    return std::string(prefix);
}

std::string quoted(std::string_view text) {
    std::string out = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\') out.push_back('\\');
        if (c >= 32 && c < 127) out.push_back(c);
    }
    return out + "\"";
}

}  // namespace

AuthJob auth_job(const MessageAuthContext& c) {
    if (c.source == "local" || (c.source == "esmtp" && c.authenticated)) return AuthJob::sign;
    if (c.source == "esmtp" && !c.relay) return AuthJob::verify;
    return AuthJob::none;
}

MessageAuthLookups MessageAuthLookups::real() {
    MessageAuthLookups l;
    l.txt = dkim::resolver_txt();
    l.spf = [](const spf::Request& r) { return spf::evaluate(r).result; };
    l.random_percent = [] {
        static std::mt19937 gen{std::random_device{}()};
        return int(std::uniform_int_distribution<int>(0, 99)(gen));
    };
    return l;
}

std::string AuthOutcome::hold_record(std::time_t now) const {
    return hold ? format_hold_record(hold_reason, now) : "";
}

// ---- pure rules ---------------------------------------------------------------------

std::string authserv_id_of(std::string_view value) {
    std::string out;
    int depth = 0;
    for (char c : value) {
        if (c == ';') break;
        if (c == '(') ++depth;
        else if (c == ')' && depth > 0) --depth;
        else if (depth == 0) out.push_back(c);
    }
    // "example.org 1" carries a version after the id (RFC 8601 2.2).
    size_t start = out.find_first_not_of(" \t\r\n");
    if (start == std::string::npos) return "";
    size_t end = out.find_first_of(" \t\r\n", start);
    return lower(out.substr(start, end == std::string::npos ? std::string::npos : end - start));
}

std::optional<std::string> remove_forged_results(std::string_view message, std::string_view authserv_id) {
    dkim::SplitMessage m = dkim::split_message(message);
    std::string id = lower(authserv_id), out;
    bool removed = false;
    for (std::string_view f : m.fields) {
        if (lower(dkim::field_name(f)) == "authentication-results" &&
            authserv_id_of(dkim::field_value(f)) == id) {
            removed = true;
            continue;
        }
        out += f;
    }
    if (!removed) return std::nullopt;
    // The rest of the message, from the empty line on, byte for byte.
    size_t body_start = m.body.data() - message.data();
    if (m.body.empty()) body_start = message.size();
    size_t header_end = m.fields.empty() ? 0 : size_t(m.fields.back().data() + m.fields.back().size() - message.data());
    out += message.substr(header_end, body_start - header_end);
    out += m.body;
    return out;
}

std::string from_domain(std::string_view message) {
    dkim::SplitMessage m = dkim::split_message(message);
    for (std::string_view f : m.fields) {
        if (lower(dkim::field_name(f)) != "from") continue;
        for (const auto& a : parse_address_list(dkim::field_value(f))) {
            size_t at = a.rfind('@');
            if (at != std::string::npos) return lower(a.substr(at + 1));
        }
        return "";
    }
    return "";
}

std::vector<std::string> signing_domain_candidates(std::string_view domain) {
    std::vector<std::string> out;
    std::string d = lower(domain);
    while (!d.empty() && d.back() == '.') d.pop_back();
    if (d.empty() || d.front() == '[' || !is_valid_domain(d)) return out;
    for (;;) {
        out.push_back(d);
        size_t dot = d.find('.');
        // Stop before a single label: a key for "com" signs nothing.
        if (dot == std::string::npos || d.find('.', dot + 1) == std::string::npos) return out;
        d = d.substr(dot + 1);
    }
}

std::vector<std::string> selectors_in(const std::string& dir) {
    std::vector<std::string> out;
    const std::string suffix = ".private";
    for (const auto& name : directory_names(dir)) {
        if (name.size() <= suffix.size() || !name.ends_with(suffix)) continue;
        std::string sel = name.substr(0, name.size() - suffix.size());
        if (std::all_of(sel.begin(), sel.end(), [](char c) {
                return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
            }))
            out.push_back(sel);
    }
    return out;
}

std::string format_results(const std::string& authserv_id, const SpfForDmarc& spf,
                           const std::vector<dkim::VerifyResult>& dkim, const dmarc::Evaluation& dm,
                           const std::string& from) {
    std::vector<std::string> items;
    items.push_back("spf=" + std::string(spf::rfc_name(spf.result)) +
                    (spf.property.empty() ? "" : " " + spf.property));
    if (dkim.empty()) items.push_back("dkim=none");
    for (const auto& r : dkim) {
        std::string item = "dkim=" + std::string(dkim::verdict_name(r.verdict));
        if (r.verdict != dkim::Verdict::pass) item += " reason=" + quoted(r.reason);
        if (!r.domain.empty())
            item += " header.d=" + r.domain + " header.s=" + r.selector + " header.b=" + b_for_property(r.b_prefix);
        items.push_back(item);
    }
    std::string d = "dmarc=" + std::string(dmarc::outcome_name(dm.outcome));
    if (dm.record)
        d += " (p=" + std::string(dmarc::disposition_name(dm.policy)) +
             " dis=" + std::string(dmarc::disposition_name(dm.disposition)) + ")";
    if (!from.empty()) d += " header.from=" + from;
    items.push_back(d);
    std::string out = "Authentication-Results: " + authserv_id;
    for (const auto& i : items) out += ";\n\t" + i;
    return out + "\n";
}

Enforcement decide_enforcement(const dmarc::Evaluation& e, dmarc::Disposition enforce) {
    Enforcement out;
    if (e.outcome != dmarc::Outcome::fail || e.disposition == dmarc::Disposition::none ||
        enforce == dmarc::Disposition::none) {
        out.rule = "dmarcpolicy " + std::string(dmarc::disposition_name(enforce));
        return out;
    }
    // dmarcpolicy is the most this server does: reject honours both policies,
    // quarantine holds what the domain wants rejected or quarantined.
    if (e.disposition == dmarc::Disposition::reject && enforce == dmarc::Disposition::reject)
        out.action = Enforcement::Action::reject;
    else
        out.action = Enforcement::Action::hold;
    out.rule = "dmarcpolicy " + std::string(dmarc::disposition_name(enforce));
    return out;
}

// ---- the whole step -------------------------------------------------------------------

namespace {

std::string sign_message(const ConfigDir& cfg, const MessageAuthSettings& s, std::string_view message,
                         std::time_t now) {
    std::string from = from_domain(message);
    for (const auto& domain : signing_domain_candidates(from)) {
        std::string dir = cfg.path(std::string(kKeyFolder) + "/" + domain);
        if (!is_dir(dir)) continue;
        std::string out;
        for (const auto& selector : selectors_in(dir)) {
            auto key = dkim::load_private_key(dir + "/" + selector + ".private");
            if (!key) {
                log_error("dkim sign d=" + domain + " s=" + log_safe(selector) + " error=" + log_safe(key.error().text));
                continue;
            }
            dkim::SignOptions o;
            o.domain = domain;
            o.selector = selector;
            o.header_canon = s.header_canon;
            o.body_canon = s.body_canon;
            o.headers = s.sign_headers;
            o.oversign = s.oversign;
            o.now = now;
            auto field = dkim::sign(message, o, *key);
            if (!field) {
                log_warning("dkim sign d=" + domain + " s=" + log_safe(selector) + " error=" + log_safe(field.error().text));
                continue;
            }
            log_info("dkim sign d=" + domain + " s=" + log_safe(selector) + " from=" + log_safe(from) +
                     " rule=" + kKeyFolder + "/" + domain + "/" + log_safe(selector) + ".private");
            out += *field;
        }
        return out;   // the closest domain with a key folder signs; its parents do not
    }
    return "";
}

SpfForDmarc spf_for_dmarc(const MessageAuthContext& c, const MessageAuthLookups& l) {
    SpfForDmarc s;
    // RFC 7489 4.1: the MAIL FROM identity, the HELO identity for the null sender.
    bool helo = c.sender.empty();
    size_t at = c.sender.rfind('@');
    s.domain = helo ? lower(c.helo) : lower(at == std::string::npos ? "" : c.sender.substr(at + 1));
    s.property = helo ? "smtp.helo=" + c.helo : "smtp.mailfrom=" + c.sender;
    std::optional<spf::Result> known = helo ? c.spf_helo : c.spf_mailfrom;
    if (known) {
        s.result = *known;
    } else if (!c.remote_ip.empty() && !s.domain.empty()) {
        spf::Request r;
        r.client_ip = c.remote_ip;
        r.helo = c.helo;
        r.identity = helo ? "" : c.sender;
        r.receiver = c.authserv_id;
        s.result = l.spf(r);
    }
    return s;
}

}  // namespace

AuthOutcome authenticate_message(const ConfigDir& cfg, const MessageAuthSettings& s,
                                 const MessageAuthContext& c, std::string_view message,
                                 const MessageAuthLookups& l, std::time_t now) {
    AuthOutcome out;
    AuthJob job = auth_job(c);
    // RFC 8601 5: results claiming to be ours that we did not add are forged.
    if (c.source == "esmtp" || c.source == "local") out.rewritten = remove_forged_results(message, c.authserv_id);
    std::string_view msg = out.rewritten ? std::string_view(*out.rewritten) : message;
    if (job == AuthJob::sign) {
        out.signatures = sign_message(cfg, s, msg, now);
        return out;
    }
    if (job != AuthJob::verify || !s.verify) return out;
    std::vector<dkim::VerifyResult> sigs = dkim::verify(message, l.txt, now, s.max_signatures);
    for (const auto& r : sigs)
        log_info("dkim verify d=" + log_safe(r.domain) + " s=" + log_safe(r.selector) + " result=" +
                 std::string(dkim::verdict_name(r.verdict)) + " reason=" + log_safe(r.reason) +
                 " client=" + log_safe(c.remote_ip));
    SpfForDmarc spf = spf_for_dmarc(c, l);
    dmarc::Inputs in;
    in.from_domain = from_domain(message);
    in.spf_pass = spf.result == spf::Result::pass;
    in.spf_domain = spf.domain;
    for (const auto& r : sigs)
        if (r.verdict == dkim::Verdict::pass) in.dkim_pass_domains.push_back(r.domain);
    dmarc::OrgDomain org = [](std::string_view d) { return dmarc::organizational_domain(d); };
    dmarc::Evaluation e = dmarc::evaluate(in, l.txt, org, l.random_percent());
    out.results = format_results(c.authserv_id, spf, sigs, e, in.from_domain);
    Enforcement act = decide_enforcement(e, s.enforce);
    std::string what = act.action == Enforcement::Action::reject ? "reject"
                       : act.action == Enforcement::Action::hold ? "hold" : "none";
    log_info("dmarc from=" + log_safe(in.from_domain) + " result=" + std::string(dmarc::outcome_name(e.outcome)) +
             " policy=" + std::string(dmarc::disposition_name(e.policy)) +
             " disposition=" + std::string(dmarc::disposition_name(e.disposition)) + " action=" + what +
             " rule=" + log_safe(act.rule) + " (" + s.enforce_where + ") reason=" + log_safe(e.reason) +
             " client=" + log_safe(c.remote_ip));
    if (act.action == Enforcement::Action::reject)
        out.reply = SubmitReply{550, "5.7.1 Message rejected by the DMARC policy of " + e.policy_domain};
    if (act.action == Enforcement::Action::hold) {
        out.hold = true;
        out.hold_reason = "DMARC " + std::string(dmarc::disposition_name(e.disposition)) + " policy of " +
                          e.policy_domain;
    }
    return out;
}

}  // namespace submit
