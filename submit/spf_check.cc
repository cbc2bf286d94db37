// The SPF policy of submit: see submit/spf_check.h. courier(8), bofh and "Sender
// Policy Framework Keywords"; reply codes RFC 7372 (X.7.23, X.7.24).
#include "submit/spf_check.h"

#include <arpa/inet.h>
#include "lib/address.h"
#include "lib/log.h"
#include "lib/rfc5322.h"
#include "submit/received.h"

namespace submit {

namespace {

constexpr unsigned kAllResults = (1u << 7) - 1;
constexpr size_t kMaxFromField = 4096;   // bytes of a From: field kept for the check
constexpr std::string_view kReceivedSpf = "received-spf:";
constexpr std::string_view kFrom = "from:";

unsigned bit(spf::Result r) { return 1u << int(r); }

std::string lower(std::string_view s) {
    std::string o(s);
    for (char& c : o) c = (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c;
    return o;
}

std::string trim(std::string_view s) {
    size_t b = s.find_first_not_of(" \t");
    if (b == std::string_view::npos) return "";
    size_t e = s.find_last_not_of(" \t");
    return std::string(s.substr(b, e - b + 1));
}

std::vector<std::string> split_commas(std::string_view v) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i <= v.size()) {
        size_t c = v.find(',', i);
        if (c == std::string_view::npos) c = v.size();
        if (auto w = lower(trim(v.substr(i, c - i))); !w.empty()) out.push_back(w);
        i = c + 1;
    }
    return out;
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && lower(s.substr(0, prefix.size())) == prefix;
}

std::string where_of(const OptMap& where, std::string_view name) {
    auto it = where.find(name);
    return it == where.end() ? "default" : it->second;
}

std::string rule_text(std::string_view name, const std::string& text, const std::string& where) {
    return std::string(name) + "=" + text + " (" + where + ")";
}

}  // namespace

std::string_view spf_setting_name(SpfIdentity id) {
    switch (id) {
    case SpfIdentity::helo: return "BOFHSPFHELO";
    case SpfIdentity::mailfrom: return "BOFHSPFMAILFROM";
    case SpfIdentity::from: return "BOFHSPFFROM";
    }
    return "";
}

std::string_view spf_identity_word(SpfIdentity id) {
    switch (id) {
    case SpfIdentity::helo: return "helo";
    case SpfIdentity::mailfrom: return "mailfrom";
    case SpfIdentity::from: return "from";
    }
    return "";
}

const SpfPolicy& SpfSettings::policy(SpfIdentity id) const {
    return id == SpfIdentity::helo ? helo : id == SpfIdentity::mailfrom ? mailfrom : from;
}

SpfPolicy parse_spf_policy(std::string_view name, std::string_view value, std::string where,
                           bool mailfromok_allowed, std::vector<std::string>* errors) {
    SpfPolicy p;
    p.where = std::move(where);
    p.text = trim(value);
    auto words = split_commas(value);
    bool off = words.empty();
    for (const auto& w : words) {
        if (w == "off") off = true;
        else if (w == "all") p.accepted = kAllResults;
        else if (w == "allowok") p.allowok = true;
        else if (w == "mailfromok" && mailfromok_allowed) p.mailfromok = true;
        else if (auto r = spf::result_from_keyword(w)) p.accepted |= bit(*r);
        else if (errors)
            errors->push_back(p.where + ": " + std::string(name) + ": unknown keyword \"" + w + "\"");
    }
    p.enabled = !off;
    if (off) p.text = "off";
    return p;
}

SpfSettings parse_spf_settings(const OptMap& opts, const OptMap& where) {
    SpfSettings s;
    auto get = [&](std::string_view name) -> std::optional<std::string> {
        auto it = opts.find(name);
        if (it == opts.end()) return std::nullopt;
        return it->second;
    };
    const SpfIdentity ids[] = {SpfIdentity::helo, SpfIdentity::mailfrom, SpfIdentity::from};
    for (SpfIdentity id : ids) {
        auto name = spf_setting_name(id);
        SpfPolicy& p = id == SpfIdentity::helo ? s.helo : id == SpfIdentity::mailfrom ? s.mailfrom : s.from;
        if (auto v = get(name))
            p = parse_spf_policy(name, *v, where_of(where, name), id == SpfIdentity::from, &s.errors);
    }
    if (auto v = get("BOFHSPFHARDERROR")) {
        s.hard_errors = 0;
        s.hard_text = trim(*v);
        s.hard_where = where_of(where, "BOFHSPFHARDERROR");
        for (const auto& w : split_commas(*v)) {
            if (w == "all") s.hard_errors = kAllResults;
            else if (auto r = spf::result_from_keyword(w)) s.hard_errors |= bit(*r);
            else s.errors.push_back(s.hard_where + ": BOFHSPFHARDERROR: unknown keyword \"" + w + "\"");
        }
    }
    auto flag = [&](std::string_view name) {
        auto v = get(name);
        return v && !trim(*v).empty() && trim(*v) != "0";
    };
    s.trust_relay_clients = flag("BOFHSPFTRUSTME");
    s.no_verbose = flag("BOFHSPFNOVERBOSE");
    return s;
}

bool helo_is_address(std::string_view helo, std::string_view remote_ip) {
    std::string h(helo);
    if (h.size() >= 2 && h.front() == '[' && h.back() == ']') return true;   // address literal
    unsigned char buf[16];
    if (inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1)
        return true;
    return !remote_ip.empty() && lower(h) == lower(remote_ip);
}

std::optional<std::string> spf_skip_reason(SpfIdentity id, const SpfSettings& s,
                                           const SpfSession& session, std::string_view subject,
                                           std::optional<spf::Result> mailfrom_result) {
    const SpfPolicy& p = s.policy(id);
    if (!p.enabled) return "off";
    if (session.source != "esmtp") return "source " + session.source;
    if (session.remote_ip.empty()) return "no client address";
    if (s.trust_relay_clients && session.relay) return "BOFHSPFTRUSTME relay client";
    switch (id) {
    case SpfIdentity::helo:
        if (session.helo.empty()) return "no HELO";
        if (helo_is_address(session.helo, session.remote_ip)) return "HELO is an address";
        break;
    case SpfIdentity::mailfrom:
        if (subject.empty()) return "null sender";
        break;
    case SpfIdentity::from:
        if (p.mailfromok && mailfrom_result == spf::Result::pass)
            return "mailfromok, MAIL FROM passed";
        if (subject.empty()) return "no From: address";
        break;
    }
    return std::nullopt;
}

SpfDecision decide_spf(SpfIdentity id, const SpfSettings& s, spf::Result result, bool whitelisted,
                       std::string_view subject, std::string_view explanation) {
    const SpfPolicy& p = s.policy(id);
    SpfDecision d;
    std::string rule = rule_text(spf_setting_name(id), p.text, p.where);
    if (p.accepts(result)) {
        d.rule = rule;
        return d;
    }
    if (p.allowok && whitelisted) {
        d.rule = rule + ", allowok: client whitelisted";
        return d;
    }
    d.accepted = false;
    bool hard = s.hard_errors & bit(result);
    d.rule = rule + ", " + rule_text("BOFHSPFHARDERROR", s.hard_text, s.hard_where) +
             (hard ? " lists " : " does not list ") + std::string(spf::keyword(result));
    // RFC 7372: X.7.23 the check failed, X.7.24 it could not be completed.
    bool error = result == spf::Result::temperror || result == spf::Result::permerror;
    std::string status = std::string(hard ? "5" : "4") + (error ? ".7.24" : ".7.23");
    std::string why = s.no_verbose ? "Rejected by the Sender Policy Framework."
                                   : std::string(explanation);
    d.reply = {hard ? 550 : 451, status + " SPF " + std::string(spf::keyword(result)) + " " +
                                     std::string(subject) + ": " + why};
    return d;
}

// ---- header filter ----------------------------------------------------------------

void SpfHeaderFilter::reset(bool rename) {
    *this = SpfHeaderFilter(rename);
}

// The start of a line is buffered until it is clear what it is: the end of the header
// block, a continuation, a Received-SPF: field (renamed) or a From: field (kept).
void SpfHeaderFilter::decide_line(std::string& out) {
    at_line_start_ = false;
    if (prefix_ == "\n" || prefix_ == "\r\n") {
        in_body_ = true;
    } else if (prefix_[0] == ' ' || prefix_[0] == '\t') {
        // a continuation keeps the field it belongs to
    } else {
        field_ = Field::other;
        if (rename_ && starts_with_ci(prefix_, kReceivedSpf)) out += "Old-";
        if (!from_done_ && starts_with_ci(prefix_, kFrom)) {
            field_ = Field::from;
            from_done_ = true;
            from_ = prefix_.substr(kFrom.size());
            out += prefix_;
            prefix_.clear();
            return;
        }
    }
    if (field_ == Field::from && !in_body_ && from_.size() < kMaxFromField) from_ += prefix_;
    out += prefix_;
    prefix_.clear();
}

void SpfHeaderFilter::append(std::string_view in, std::string& out) {
    size_t i = 0;
    while (i < in.size()) {
        if (in_body_) {
            out.append(in.substr(i));
            return;
        }
        char c = in[i++];
        if (at_line_start_) {
            prefix_.push_back(c);
            if (c == '\n' || prefix_.size() >= kReceivedSpf.size()) decide_line(out);
            if (c == '\n') at_line_start_ = !in_body_;
            continue;
        }
        out.push_back(c);
        if (field_ == Field::from && from_.size() < kMaxFromField) from_.push_back(c);
        if (c == '\n') at_line_start_ = true;
    }
}

void SpfHeaderFilter::finish(std::string& out) {
    if (at_line_start_ && !prefix_.empty()) decide_line(out);
}

std::string first_from_address(std::string_view from_value) {
    // The unfolded value: line breaks of the folding go (RFC 5322 2.2.3).
    std::string v;
    for (char c : from_value)
        if (c != '\r' && c != '\n') v.push_back(c);
    for (const auto& a : parse_address_list(v))
        if (a.find('@') != std::string::npos) return a;
    return "";
}

// ---- one message ------------------------------------------------------------------

SpfChecker::SpfChecker(SpfSettings settings, spf::Lookups dns)
    : settings_(std::move(settings)), dns_(std::move(dns)) {}

void SpfChecker::reset(const SpfSession& session, std::string sender, std::string receiver) {
    session_ = session;
    sender_ = std::move(sender);
    receiver_ = std::move(receiver);
    done_.clear();
    filter_.reset(session.source == "esmtp" || session.source == "local");
}

std::optional<spf::Result> SpfChecker::result(SpfIdentity id) const {
    for (const auto& d : done_)
        if (d.id == id) return d.verdict.result;
    return std::nullopt;
}

std::optional<SubmitReply> SpfChecker::run(SpfIdentity id, const std::string& subject) {
    std::string word(spf_identity_word(id));
    auto skip = spf_skip_reason(id, settings_, session_, subject, result(SpfIdentity::mailfrom));
    if (skip) {
        if (*skip != "off")
            log_info("spf identity=" + word + " skipped=" + log_safe(*skip) +
                     " client=" + log_safe(session_.remote_ip));
        return std::nullopt;
    }
    spf::Request req;
    req.client_ip = session_.remote_ip;
    req.helo = session_.helo;
    req.identity = id == SpfIdentity::helo ? "" : subject;
    req.receiver = receiver_;
    spf::Verdict v = spf::evaluate(req, dns_);
    SpfDecision d = decide_spf(id, settings_, v.result, !session_.dnswl_zone.empty(), subject,
                               v.explanation);
    log_info("spf identity=" + word + " result=" + std::string(spf::keyword(v.result)) +
             " subject=" + log_safe(subject) + " client=" + log_safe(session_.remote_ip) +
             (session_.dnswl_zone.empty() ? "" : " dnswl=" + log_safe(session_.dnswl_zone)) +
             (d.accepted ? " accepted" : " refused") + " rule=" + log_safe(d.rule) +
             (d.accepted ? "" : " reply=" + log_safe(d.reply.line())));
    if (!d.accepted) return d.reply;
    done_.push_back({id, std::move(v)});
    return std::nullopt;
}

std::optional<SubmitReply> SpfChecker::check_mail() {
    if (auto r = run(SpfIdentity::helo, session_.helo)) return r;
    return run(SpfIdentity::mailfrom, sender_);
}

std::optional<SubmitReply> SpfChecker::check_from() {
    return run(SpfIdentity::from, first_from_address(filter_.from_field()));
}

std::string SpfChecker::headers() const {
    std::string out;
    for (const auto& d : done_) {
        ReceivedSpfInfo info;
        info.result = std::string(spf::rfc_name(d.verdict.result));
        info.comment = d.verdict.comment;
        info.client_ip = session_.remote_ip;
        info.envelope_from = sender_;
        info.helo = session_.helo;
        info.receiver = receiver_;
        info.identity = std::string(spf_identity_word(d.id));
        out += format_received_spf(info);
    }
    return out;
}

}  // namespace submit
