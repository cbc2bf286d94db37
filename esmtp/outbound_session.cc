// The SMTP transaction of one delivery, with connection reuse: see outbound_session.h.
#include "esmtp/outbound_session.h"

#include <algorithm>
#include <cstdlib>
#include "lib/address.h"
#include "lib/dns.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/paths.h"
#include "esmtp/outbound_mime.h"
#include "esmtp/requiretls.h"
#include "esmtp/tlsrpt.h"

namespace outbound {

namespace {
constexpr size_t kMaxQueueFile = size_t(1) << 31;
constexpr size_t kChunk = 1 << 20;

std::string setting(const Settings* file, const char* name) {
    if (file) {
        if (auto v = file->get(name)) return *v;
    }
    const char* e = secure_getenv(name);
    return e ? e : "";
}

bool is_v6(const std::string& a) { return a.find(':') != std::string::npos; }

// Results for every recipient that has none yet.
void settle(const DeliveryRequest& req, DeliveryOutcome* out, DeliveryStatus st, const std::string& text) {
    for (const auto& r : req.rcpts) {
        bool have = false;
        for (const auto& x : out->results) have = have || x.index == r.index;
        if (!have) out->results.push_back({req.id, r.index, st, text});
    }
}

// Which rule makes TLS mandatory, for the reply text.
std::string tls_requirement(const TargetPolicy& tp, Security route) {
    if (tp.dane.kind == DaneDecision::Kind::authenticate || tp.dane.kind == DaneDecision::Kind::encrypt)
        return "DANE: " + tp.dane.reason;
    if (tp.sts == StsCheck::enforce) return "MTA-STS policy in enforce mode";
    return route == Security::none ? "policy" : "esmtproutes /SECURITY";
}

DeliveryStatus status_of(const Reply& r) {
    if (r.positive()) return DeliveryStatus::ok;
    if (r.code >= 500) return DeliveryStatus::fail;
    return DeliveryStatus::defer;
}
}  // namespace

TargetPolicy combine_policies(DaneDecision dane, const mta_sts::Policy* sts) {
    TargetPolicy tp;
    bool dane_decides = dane.kind == DaneDecision::Kind::authenticate || dane.kind == DaneDecision::Kind::defer;
    tp.dane = std::move(dane);
    if (sts && !dane_decides) {
        if (sts->mode == mta_sts::Mode::enforce) tp.sts = StsCheck::enforce;
        else if (sts->mode == mta_sts::Mode::testing) tp.sts = StsCheck::testing;
    }
    return tp;
}

std::vector<Target> sts_filter_targets(const std::vector<Target>& targets, const mta_sts::Policy& p,
                                       std::vector<std::string>* refused) {
    std::vector<Target> out;
    for (const auto& t : targets) {
        if (mta_sts::mx_allowed(p, t.host)) {
            out.push_back(t);
            continue;
        }
        if (std::find(refused->begin(), refused->end(), t.host) == refused->end()) refused->push_back(t.host);
        if (p.mode != mta_sts::Mode::enforce) out.push_back(t);
    }
    return out;
}

TlsPolicy load_tls_policy(const ConfigDir& cfg) {
    auto s = Settings::load(cfg.path("courierd"));
    const Settings* file = s ? &*s : nullptr;
    TlsPolicy p;
    p.trustcerts = setting(file, "TLS_TRUSTCERTS");
    std::string vp = lowercase_ascii(setting(file, "TLS_VERIFYPEER"));
    p.verify_peer = vp == "peer" || vp == "requirepeer";
    p.verify_domain = setting(file, "ESMTP_TLS_VERIFY_DOMAIN") == "1";
    return p;
}

Deliverer::Deliverer(ConfigDir cfg, PenaltyBox penalties)
    : cfg_(std::move(cfg)), penalties_(std::move(penalties)), timeouts_(load_timeouts(cfg_)),
      tls_policy_(load_tls_policy(cfg_)), rng_(std::random_device{}()) {}

const TlsContext* Deliverer::tls_context() {
    if (tls_ctx_) return &*tls_ctx_;
    if (tls_ctx_failed_) return nullptr;
    TlsClientOptions o;
    if (!tls_policy_.trustcerts.empty()) {
        if (path_exists(tls_policy_.trustcerts + "/.")) o.ca_dir = tls_policy_.trustcerts;
        else o.ca_file = tls_policy_.trustcerts;
    }
    auto c = TlsContext::client(o);
    if (!c) {
        log_warning("outbound TLS unavailable: " + c.error().text);
        tls_ctx_failed_ = true;
        return nullptr;
    }
    tls_ctx_.emplace(std::move(*c));
    return &*tls_ctx_;
}

void Deliverer::ping() {
    if (!conn_) return;
    if (!conn_->send("RSET\r\n", timeouts_.command) || conn_->read_reply(timeouts_.command).code != 250) conn_.reset();
}

void Deliverer::reset_or_drop() {
    if (!conn_->send("RSET\r\n", timeouts_.command) || conn_->read_reply(timeouts_.command).code == 0) conn_.reset();
}

void Deliverer::close() {
    if (conn_) {
        log_info("outbound session closed domain=" + conn_key_.substr(0, conn_key_.find('\n')));
        conn_->close(timeouts_.quit);
    }
    conn_.reset();
}

std::optional<std::string> Deliverer::authenticate(const std::vector<std::string>& names) {
    auto entry = find_auth_entry(cfg_.list("esmtpauthclient"), names);
    if (!entry) return std::nullopt;
    std::string mech = choose_auth_mechanism(caps_.auth);
    if (mech.empty()) return std::nullopt;   // the server does not want AUTH from us
    auto& c = *conn_;
    long t = timeouts_.command;
    Reply r;
    if (mech == "PLAIN") {
        std::string resp = base64_encode(std::string(1, '\0') + entry->user + std::string(1, '\0') + entry->password);
        if (!c.send("AUTH PLAIN " + resp + "\r\n", t)) return "451 4.4.2 connection lost during AUTH";
        r = c.read_reply(t);
    } else if (mech == "LOGIN") {
        if (!c.send("AUTH LOGIN\r\n", t)) return "451 4.4.2 connection lost during AUTH";
        r = c.read_reply(t);
        if (r.code == 334) {
            r = c.send(base64_encode(entry->user) + "\r\n", t) ? c.read_reply(t) : Reply();
        }
        if (r.code == 334) {
            r = c.send(base64_encode(entry->password) + "\r\n", t) ? c.read_reply(t) : Reply();
        }
    } else {
        if (!c.send("AUTH CRAM-MD5\r\n", t)) return "451 4.4.2 connection lost during AUTH";
        r = c.read_reply(t);
        if (r.code == 334) {
            auto challenge = base64_decode(r.lines.empty() ? "" : r.lines[0]);
            std::string resp = challenge ? cram_md5_response(entry->user, entry->password, *challenge) : "*";
            r = c.send(resp + "\r\n", t) ? c.read_reply(t) : Reply();
        }
    }
    if (r.code == 235) return std::nullopt;
    if (r.code == 0) return "451 4.4.2 connection lost during AUTH: " + c.last_error();
    // A refused login is a configuration problem here, not the recipients' fault: keep the mail.
    return "451 4.7.0 authentication as " + entry->user + " failed: " + r.text();
}

// The certificate checks TLS_VERIFYPEER and ESMTP_TLS_VERIFY_DOMAIN ask for; a
// DANE-authenticated peer has passed stronger ones (check_secure_channel).
std::optional<std::string> Deliverer::verify_certificate(const Target& t) {
    TlsInfo info = conn_->tls()->info();
    if (info.dane_checked) return std::nullopt;
    if (tls_policy_.verify_peer && !info.peer_verified)
        return "451 4.7.5 certificate of " + t.host + " not trusted: " + info.verify_error;
    if (tls_policy_.verify_domain && !conn_->tls()->peer_name_matches(t.host))
        return "451 4.7.5 certificate of " + t.address + " does not name " + t.host;
    return std::nullopt;
}

// EHLO, or HELO when the server does not know EHLO (never after TLS: that would
// lose it). Sets caps_.
std::optional<std::string> Deliverer::hello(const std::string& name) {
    Connection& conn = *conn_;
    if (!conn.send("EHLO " + name + "\r\n", timeouts_.helo)) return "451 4.4.2 connection lost";
    Reply r = conn.read_reply(timeouts_.helo);
    if (r.code == 250) {
        caps_ = parse_ehlo(r);
        return std::nullopt;
    }
    if (r.code == 0) return "451 4.4.2 connection lost after EHLO";
    if (conn.tls_active()) return r.text();
    if (!conn.send("HELO " + name + "\r\n", timeouts_.helo)) return "451 4.4.2 connection lost";
    r = conn.read_reply(timeouts_.helo);
    if (r.code != 250) return r.code ? r.text() : "451 4.4.2 connection lost after HELO";
    caps_ = Capabilities();
    return std::nullopt;
}

// STARTTLS when offered (RFC 3207), unless the server is in the penalty box; a
// failure puts it there for 2-4 hours (courier(8), esmtproutes) and sets *tls_failed.
std::optional<std::string> Deliverer::starttls(const Target& t, const std::string& helo, bool must_tls,
                                               const TlsDane* dane, DeliveryOutcome* out, bool* tls_failed) {
    Connection& conn = *conn_;
    auto pen = penalties_.find(t.address);
    bool penalized = pen != penalties_.end() && pen->second > std::time(nullptr);
    bool want_tls = caps_.starttls && (!penalized || must_tls);
    const TlsContext* ctx = want_tls ? tls_context() : nullptr;
    // A broken TLS set-up (e.g. unreadable TLS_TRUSTCERTS) must not quietly turn
    // verified delivery into plaintext.
    if (want_tls && !ctx && (must_tls || tls_policy_.verify_peer || tls_policy_.verify_domain))
        return "451 4.7.5 TLS is not available here (see the log)";
    if (!ctx) return std::nullopt;
    Reply r;
    if (conn.send("STARTTLS\r\n", timeouts_.command)) r = conn.read_reply(timeouts_.command);
    Status s = r.code == 220 ? conn.start_tls(*ctx, t.host, timeouts_.helo, dane)
                             : Status(Error{0, r.code ? r.text() : "connection lost"});
    if (!s) {
        std::time_t until = std::time(nullptr) + 7200 + std::uniform_int_distribution<int>(0, 7200)(rng_);
        penalties_[t.address] = until;
        out->new_penalties.emplace_back(t.address, until);
        log_info("outbound host=" + t.host + " ip=" + t.address + " starttls=failed reason=" + log_safe(s.error().text));
        *tls_failed = !must_tls;   // a retry in clear only where TLS is optional
        return "451 4.7.5 STARTTLS with " + t.host + " failed: " + s.error().text;
    }
    if (auto v = verify_certificate(t)) return v;
    return hello(helo);   // RFC 3207 4.2: forget what was learnt before TLS
}

// Connects to one address and negotiates up to the point where MAIL can be sent.
// Returns an error reply text, or nullopt with conn_ ready.
std::optional<std::string> Deliverer::try_target(const Target& t, const RoutePlan& plan, const std::string& domain,
                                                 const SourceSettings& src, bool allow_tls, DeliveryOutcome* out,
                                                 bool* tls_failed) {
    *tls_failed = false;
    std::string source = is_v6(t.address) ? src.ip6out : src.ipout;
    auto c = Connection::open(t.address, t.port, source, timeouts_.connect);
    if (!c) return "451 4.4.1 cannot connect to " + t.host + " [" + t.address + "]: " + c.error().text;
    conn_.emplace(std::move(*c));
    auto fail = [&](std::optional<std::string> why) {
        conn_.reset();
        return why;
    };
    bool smtps = plan.security == Security::smtps;
    bool must_tls = target_.must_tls(plan.security);
    TlsDane dane = dane_params(t, domain);
    const TlsDane* use_dane = dane.records.empty() ? nullptr : &dane;
    if (smtps) {   // TLS from the first byte (RFC 8314)
        const TlsContext* ctx = tls_context();
        if (!ctx) return fail("451 4.7.5 TLS is not available here");
        if (auto s = conn_->start_tls(*ctx, t.host, timeouts_.helo, use_dane); !s)
            return fail("451 4.7.5 TLS handshake with " + t.host + " failed: " + s.error().text);
        if (auto v = verify_certificate(t)) return fail(v);
    }
    Reply greeting = conn_->read_reply(timeouts_.helo);
    if (greeting.code != 220)
        return fail(greeting.code ? greeting.text() : "451 4.4.2 no greeting from " + t.host + ": " + conn_->last_error());
    std::string helo = src.helo;
    if (helo == "*") {   // the reverse name of the address this connection comes from
        auto ptr = dns::resolver().ptr(conn_->local_address());
        helo = ptr.ok() ? ptr.records[0] : cfg_.me();
    }
    if (auto e = hello(helo)) return fail(e);
    if (!conn_->tls_active() && allow_tls) {
        if (auto e = starttls(t, helo, must_tls, use_dane, out, tls_failed)) return fail(e);
    }
    if (!conn_->tls_active() && must_tls)
        return fail("451 4.7.4 " + t.host + " [" + t.address + "] does not offer STARTTLS, which is required for " +
                    domain + " (" + tls_requirement(target_, plan.security) + ")");
    if (auto e = check_secure_channel(t, target_)) return fail(e);
    // AUTH only over TLS when the server offers TLS at all (esmtpauthclient).
    if (!caps_.auth.empty() && (conn_->tls_active() || !caps_.starttls)) {
        if (auto e = authenticate({t.host, plan.relay, domain})) return fail(e);
    }
    return std::nullopt;
}

std::optional<std::string> Deliverer::open_session(const std::string& domain, const SourceSettings& src,
                                                   DeliveryOutcome* out, bool* unreachable) {
    *unreachable = false;
    // Settings apply to every new connection (existing ones keep theirs).
    TlsPolicy policy = load_tls_policy(cfg_);
    if (policy.trustcerts != tls_policy_.trustcerts) {
        tls_ctx_.reset();
        tls_ctx_failed_ = false;
    }
    tls_policy_ = policy;
    timeouts_ = load_timeouts(cfg_);
    DnsLookup lookup(cfg_.me());
    RoutePlan plan = plan_route(domain, load_routes(cfg_), lookup, rng_);
    if (plan.kind == RoutePlan::Kind::permfail || plan.kind == RoutePlan::Kind::tempfail) return plan.error;
    if (auto err = apply_sts(domain, &plan)) return err;
    std::string last;
    bool any_contact = false;
    // TLS-RPT (RFC 8460): the TLS outcome of every attempt, under the target's policy.
    auto record_tlsrpt = [&](const Target& t, const std::optional<std::string>& err) {
        auto type = target_.dane.kind == DaneDecision::Kind::authenticate ? tlsrpt::PolicyType::tlsa
                    : target_.sts != StsCheck::none ? tlsrpt::PolicyType::sts : tlsrpt::PolicyType::no_policy_found;
        tlsrpt::record_attempt(domain, type, t.host, t.address, conn_ ? conn_->local_address() : src.ipout, err,
                               conn_ && conn_->tls_active(), caps_.starttls);
    };
    for (const auto& t : plan.targets) {
        bool tls_failed = false;
        target_ = target_policy(t, plan, domain);
        if (tls_optional_) target_ = TargetPolicy{};   // TLS-Required: No (RFC 8689 5)
        std::optional<std::string> err;
        if (target_.dane.kind == DaneDecision::Kind::defer)   // never contacted: nothing to downgrade
            err = "451 4.7.5 DANE: " + target_.dane.reason + " for " + t.host;
        else
            err = try_target(t, plan, domain, src, true, out, &tls_failed);
        if (err && tls_failed) {
            record_tlsrpt(t, err);
            // The failed handshake left the session unusable: start over without TLS.
            err = try_target(t, plan, domain, src, false, out, &tls_failed);
        }
        record_tlsrpt(t, err);
        if (!err) {
            conn_target_ = t;
            conn_mx_authenticated_ = t.dnssec || !plan.relay.empty() || target_.sts == StsCheck::enforce;
            log_info("outbound connected domain=" + domain + " host=" + t.host + " ip=" + t.address +
                     " port=" + std::to_string(t.port) + " tls=" + (conn_->tls_active() ? "yes" : "no"));
            return std::nullopt;
        }
        // A host skipped by DANE counts as reached: it is a policy failure, not a network
        // one, and must not start esmtpdelay.
        if (err->rfind("451 4.4.1 cannot connect", 0) != 0) any_contact = true;
        log_info("outbound domain=" + domain + " host=" + t.host + " ip=" + t.address + " error=" + log_safe(*err));
        last = *err;
    }
    *unreachable = !any_contact;
    return last.empty() ? "451 4.4.1 no mail server for " + domain : last;
}

// MTA-STS for mail routed by the domain's own MX (not for esmtproutes relays or
// literals): loads the policy, drops MX hosts outside it under enforce (RFC 8461 4.1).
std::optional<std::string> Deliverer::apply_sts(const std::string& domain, RoutePlan* plan) {
    sts_.reset();
    if (!plan->relay.empty() || plan->security == Security::smtps || !plan->mta_sts) return std::nullopt;
    auto fs = mta_sts::fetch_settings(cfg_, paths().spool, tls_policy_.trustcerts);
    sts_ = mta_sts::current_policy(domain, fs);
    if (!sts_ || sts_->mode == mta_sts::Mode::none) return std::nullopt;
    std::vector<std::string> refused;
    plan->targets = sts_filter_targets(plan->targets, *sts_, &refused);
    for (const auto& host : refused)
        log_info("outbound domain=" + domain + " host=" + host + " mta-sts=" + mta_sts::mode_name(sts_->mode) +
                 " mx-mismatch: not in the policy id=" + sts_->id + (sts_->mode == mta_sts::Mode::enforce ? " (skipped)" : " (testing: used)"));
    if (plan->targets.empty())
        return "451 4.7.5 no MX host of " + domain + " matches its MTA-STS policy (id " + sts_->id + ")";
    return std::nullopt;
}

// DANE for one MX host (RFC 7672 2.2): the TLSA lookup only for a DNSSEC-secure host;
// the decision is logged with the TLSA outcome.
TargetPolicy Deliverer::target_policy(const Target& t, const RoutePlan& plan, const std::string& domain) {
    DaneSetting setting = plan.security == Security::smtps && plan.dane == DaneSetting::automatic
                              ? DaneSetting::off : plan.dane;   // implicit-TLS relays: as configured
    std::optional<dns::Answer<dns::TlsaRecord>> tlsa;
    if (setting != DaneSetting::off && t.dnssec) tlsa = dns::resolver().tlsa(tlsa_name(t.host, t.port));
    DaneDecision d = decide_dane(setting, t.dnssec, tlsa ? &*tlsa : nullptr);
    // Logged wherever DANE could apply: with a trust anchor, or when the route requires it.
    bool validating = !dns::options_from_config(cfg_.dir()).trust_anchor_file.empty();
    if (setting != DaneSetting::off && (validating || setting == DaneSetting::required)) {
        std::string outcome = !tlsa ? "not-looked-up"
                              : tlsa->ok() ? std::to_string(tlsa->records.size()) + "-records"
                              : tlsa->outcome == dns::Outcome::tempfail ? "tempfail"
                              : tlsa->outcome == dns::Outcome::nxdomain ? "nxdomain" : "nodata";
        log_info("outbound dane domain=" + domain + " host=" + t.host + " tlsa=" + tlsa_name(t.host, t.port) +
                 " outcome=" + outcome + (tlsa && tlsa->secure ? " secure" : " insecure") +
                 " decision=" + dane_kind_name(d.kind) + " reason=" + log_safe(d.reason));
    }
    return combine_policies(std::move(d), sts_ ? &*sts_ : nullptr);
}

// RFC 7672 3.2.3: DANE-TA chains must name the MX host (the TLSA base domain) or the
// next-hop domain.
TlsDane Deliverer::dane_params(const Target& t, const std::string& domain) const {
    TlsDane d;
    if (target_.dane.kind != DaneDecision::Kind::authenticate) return d;
    d.records = target_.dane.records;
    d.names = {t.host};
    if (domain != t.host) d.names.push_back(domain);
    return d;
}

// After TLS (or its absence): the DANE verdict, then MTA-STS's certificate checks.
std::optional<std::string> Deliverer::check_secure_channel(const Target& t, const TargetPolicy& tp) {
    const TlsConnection* tls = conn_->tls();
    if (tp.dane.kind == DaneDecision::Kind::authenticate) {
        TlsInfo info = tls->info();
        log_info("outbound dane host=" + t.host + " ip=" + t.address + (info.dane_verified ? " dane=verified usage=" +
                 std::to_string(info.dane_usage) : " dane=failed reason=" + log_safe(info.verify_error)));
        if (!info.dane_verified)
            return "451 4.7.5 DANE: certificate of " + t.host + " [" + t.address +
                   "] does not match its TLSA records: " + info.verify_error;
        return std::nullopt;
    }
    if (tp.sts == StsCheck::none) return std::nullopt;
    std::string problem;
    if (!tls) problem = "no TLS";
    else if (TlsInfo info = tls->info(); !info.peer_verified) problem = "certificate not trusted: " + info.verify_error;
    else if (!tls->peer_name_matches(t.host)) problem = "certificate does not name " + t.host;
    if (problem.empty()) {
        log_info("outbound mta-sts host=" + t.host + " ip=" + t.address + " mode=" + mta_sts::mode_name(sts_->mode) + " check=ok");
        return std::nullopt;
    }
    log_info("outbound mta-sts host=" + t.host + " ip=" + t.address + " mode=" + mta_sts::mode_name(sts_->mode) +
             " check=failed reason=" + log_safe(problem) + (tp.sts == StsCheck::testing ? " (testing: delivering)" : ""));
    if (tp.sts == StsCheck::testing) return std::nullopt;
    return "451 4.7.5 MTA-STS: " + t.host + " [" + t.address + "]: " + problem;
}

// What the server's extensions rule out before MAIL (RFC 1870, 6531, 6152): the reply
// for every recipient, or nullopt. An 8-bit message for a 7-bit server is converted
// into *converted (RFC 6152 3: convert, or return the message).
std::optional<std::string> Deliverer::check_extensions(const QueueEnvelope& env, std::string_view message,
                                                       bool body8, std::string* converted) {
    if (caps_.size && message.size() > caps_.size)
        return "552 5.3.4 message size " + std::to_string(message.size()) +
               " exceeds the limit of the mail server (" + std::to_string(caps_.size) + ")";
    if (env.smtputf8 && !caps_.smtputf8)
        return "553 5.6.7 the mail server does not support SMTPUTF8, which this message needs";
    if (body8 && !caps_.eightbitmime) {
        auto c7 = convert_to_7bit(message);
        if (!c7) return "554 5.6.3 the mail server does not support 8BITMIME and this message cannot be converted to 7 bits";
        *converted = std::move(*c7);
    }
    return std::nullopt;
}

// DATA (dot-stuffed) or BDAT chunks (RFC 3030); the final reply, code 0 when lost.
Reply Deliverer::send_body(std::string_view message) {
    Connection& c = *conn_;
    long t = timeouts_.command;
    Reply final;
    if (caps_.chunking) {
        std::string body = encode_crlf(message);
        size_t off = 0;
        do {
            size_t n = std::min(kChunk, body.size() - off);
            bool last = off + n == body.size();
            std::string cmd = "BDAT " + std::to_string(n) + (last ? " LAST" : "") + "\r\n";
            if (!c.send(cmd, t) || !c.send(std::string_view(body).substr(off, n), timeouts_.data)) return Reply();
            final = c.read_reply(timeouts_.data);
            off += n;
        } while (final.positive() && off < body.size());
        return final;
    }
    if (!c.send("DATA\r\n", t)) return Reply();
    Reply r = c.read_reply(t);
    if (r.code != 354) return r;
    if (!c.send(encode_for_data(message), timeouts_.data)) return Reply();
    return c.read_reply(timeouts_.data);
}

void Deliverer::transaction(const DeliveryRequest& req, const QueueEnvelope& env, std::string_view message,
                            DeliveryOutcome* out) {
    Connection& c = *conn_;
    long t = timeouts_.command;
    bool body8 = env.body == "8BITMIME" || has_8bit(message);
    std::string converted;
    // REQUIRETLS is checked per message: a reused session may not qualify (RFC 8689 4.2.1).
    auto hop = requiretls::next_hop(c.tls(), conn_target_.host, conn_target_.address, caps_.requiretls);
    hop.mx_authenticated = conn_mx_authenticated_;
    if (auto refusal = requiretls::delivery_refusal(env.requiretls, hop)) {
        settle(req, out, DeliveryStatus::fail, *refusal);
        return;
    }
    if (auto refusal = check_extensions(env, message, body8, &converted)) {
        settle(req, out, DeliveryStatus::fail, *refusal);
        return;
    }
    if (!converted.empty()) {
        message = converted;
        body8 = false;
    }
    auto lost = [&](const char* when) {
        settle(req, out, DeliveryStatus::defer, std::string("451 4.4.2 connection lost ") + when + ": " + c.last_error());
        conn_.reset();
    };
    std::vector<std::string> cmds;
    cmds.push_back(mail_command(env, caps_, message.size(), body8));
    for (const auto& r : req.rcpts) {
        const QueueRecipient* qr = r.index < env.rcpts.size() ? &env.rcpts[r.index] : nullptr;
        cmds.push_back(rcpt_command(r.address, qr, caps_));
    }
    std::vector<Reply> replies;
    if (caps_.pipelining) {   // RFC 2920: MAIL and every RCPT in one write
        std::string all;
        for (const auto& x : cmds) all += x;
        if (!c.send(all, t)) return lost("sending MAIL");
        for (size_t i = 0; i < cmds.size(); ++i) replies.push_back(c.read_reply(t));
    } else {
        for (size_t i = 0; i < cmds.size() && (i == 0 || replies[0].positive()); ++i) {
            if (!c.send(cmds[i], t)) return lost("sending RCPT");
            replies.push_back(c.read_reply(t));
        }
    }
    for (const auto& r : replies)
        if (r.code == 0) return lost("during MAIL/RCPT");
    if (!replies[0].positive()) {
        settle(req, out, status_of(replies[0]), replies[0].text());
        return reset_or_drop();
    }
    std::vector<size_t> accepted;
    for (size_t i = 0; i < req.rcpts.size(); ++i) {
        const Reply& r = replies[i + 1];
        if (r.positive()) accepted.push_back(req.rcpts[i].index);
        else out->results.push_back({req.id, req.rcpts[i].index, status_of(r), r.text()});
    }
    if (accepted.empty()) return reset_or_drop();
    Reply final = send_body(message);
    if (final.code == 0) return lost("while sending the message");
    DeliveryStatus st = final.positive() ? accepted_status(caps_) : status_of(final);
    for (size_t idx : accepted) out->results.push_back({req.id, idx, st, final.text()});
    if (!final.positive()) reset_or_drop();
}

DeliveryOutcome Deliverer::deliver(const DeliveryRequest& req) {
    DeliveryOutcome out;
    auto file = read_file(req.queue_file, kMaxQueueFile);
    size_t off = 0;
    auto env = file ? parse_envelope(*file, &off) : Result<QueueEnvelope>(file.error());
    if (!env || off + env->data_size > file->size()) {
        settle(req, &out, DeliveryStatus::defer,
               "451 4.3.0 cannot read the queue file: " + (env ? std::string("truncated") : env.error().text));
        return out;
    }
    std::string_view message = std::string_view(*file).substr(off, env->data_size);
    std::string domain = lowercase_ascii(req.host);
    SourceSettings src = source_settings(cfg_, env->vhost);
    std::string key = domain + "\n" + src.ipout + "\n" + src.ip6out + "\n" + src.helo;
    // A relaxed session (TLS-Required: No) must not carry mail that needs the policies.
    tls_optional_ = requiretls::tls_optional(env->requiretls, message);
    if (tls_optional_) key += "\ntls-optional";
    if (conn_ && conn_key_ != key) close();
    if (conn_) ping();   // a reused connection must still be alive
    if (!conn_) {
        bool unreachable = false;
        if (auto err = open_session(domain, src, &out, &unreachable)) {
            DeliveryStatus st = (*err)[0] == '5' ? DeliveryStatus::fail : DeliveryStatus::defer;
            settle(req, &out, st, *err);
            out.unreachable = unreachable;
            return out;
        }
        conn_key_ = key;
    }
    transaction(req, *env, message, &out);
    return out;
}

}  // namespace outbound
