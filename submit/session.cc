// The submit protocol's state machine (doc/architecture.md, "The submit protocol"):
// one message at a time, any number in sequence, each either queued durably with a
// 250 or refused with the reply the SMTP client should see.
#include "submit/session.h"
#include <sysexits.h>
#include <unistd.h>
#include <algorithm>
#include <ctime>
#include "lib/address.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/xtext.h"
#include "submit/received.h"

namespace submit {

namespace {

constexpr size_t kChunkPiece = 64 * 1024;   // chunk bytes read and converted at once

// Only an IP address may become a vhost file name suffix.
bool plausible_ip(std::string_view s) {
    if (s.empty() || s.size() > 64) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
               c == '.' || c == ':';
    });
}

}  // namespace

bool valid_source(std::string_view source) {
    return source == "esmtp" || source == "local" || source == "dsn" || source == "forward";
}

SubmitSession::SubmitSession(int in_fd, int out_fd, SubmitOptions opts)
    : opts_(std::move(opts)), in_(in_fd, opts_.max_line), out_fd_(out_fd), cfg_(opts_.config_dir),
      vhosts_(cfg_),
      aliases_(opts_.aliases_db.empty() ? cfg_.path("aliases.dat") : opts_.aliases_db),
      spool_(opts_.spool_dir),
      body_(opts_.spool_dir + "/tmp", opts_.memory_limit, opts_.size_limit),
      backscatter_(opts_.spool_dir + "/backscatter.dat") {}

int SubmitSession::run() {
    std::string line;
    for (;;) {
        auto st = in_.read_line(line, opts_.read_timeout_ms);
        if (st == LineReader::Status::eof) return EX_OK;
        if (st != LineReader::Status::line) {
            log_error(st == LineReader::Status::too_long ? "submit: command line too long"
                      : st == LineReader::Status::timeout ? "submit: caller timed out"
                                                          : "submit: cannot read commands");
            return st == LineReader::Status::timeout ? EX_TEMPFAIL : EX_PROTOCOL;
        }
        if (!line.empty() && line.back() == '\r') line.pop_back();
        CommandLine cmd = parse_command(line);
        switch (cmd.verb) {
        case Verb::session: on_session(cmd); break;
        case Verb::mail: if (!send(on_mail(cmd))) return EX_IOERR; break;
        case Verb::rcpt: if (!send(on_rcpt(cmd))) return EX_IOERR; break;
        case Verb::rset: reset_message(); break;
        case Verb::quit: return EX_OK;
        case Verb::data:
            switch (read_data()) {
            case DataEnd::done: if (!send(finish_message())) return EX_IOERR; break;
            case DataEnd::rset: reset_message(); break;
            case DataEnd::quit: return EX_OK;
            case DataEnd::eof:
                log_warning("submit: input ended inside a message, nothing queued");
                return EX_PROTOCOL;
            case DataEnd::protocol_error: return EX_PROTOCOL;
            }
            break;
        default:
            log_error("submit: unknown command: " + log_safe(line.substr(0, 80)));
            return EX_PROTOCOL;
        }
    }
}

void SubmitSession::on_session(const CommandLine& cmd) {
    // A local user must not make its mail look as if it came from elsewhere.
    if (cmd.fields.empty() || !opts_.trusted) return;
    std::string_view key = cmd.fields[0];
    auto value = xtext_decode(cmd.fields.size() > 1 ? cmd.fields[1] : "");
    if (!value) {
        log_warning("submit: session " + log_safe(key) + ": bad xtext, ignored");
        return;
    }
    // Unknown keys are ignored: a newer caller may send facts this submit does not use.
    if (key == "remote-ip") facts_.remote_ip = std::move(*value);
    else if (key == "remote-host") facts_.remote_host = std::move(*value);
    else if (key == "remote-port") facts_.remote_port = std::move(*value);
    else if (key == "helo") facts_.helo = std::move(*value);
    else if (key == "local-ip") facts_.local_ip = std::move(*value);
    else if (key == "local-port") facts_.local_port = std::move(*value);
    else if (key == "protocol") facts_.protocol = std::move(*value);
    else if (key == "auth") facts_.auth = std::move(*value);
    else if (key == "tls") facts_.tls = std::move(*value);
    else if (key == "relay") facts_.relay = *value == "yes";
    else if (key == "dnswl") facts_.dnswl = std::move(*value);
}

// The vhost of a message (courier(8), "Servers with multiple IP addresses"): the
// authenticated user's domain when vhost.<domain> exists, else the receiving address
// when vhost.<local-ip> exists, else none.
std::string SubmitSession::vhost_for(const std::string& local_ip) {
    std::string domain;
    if (size_t at = facts_.auth.rfind('@'); at != std::string::npos) {
        domain = lowercase_ascii(facts_.auth.substr(at + 1));
        if (!is_valid_domain(domain) || domain.front() == '[') domain.clear();
    }
    std::string lookup = domain + "\n" + local_ip;
    if (!vhost_known_ || vhost_ip_ != lookup) {
        vhost_ip_ = lookup;
        if (!domain.empty() && cfg_.exists("vhost." + domain))
            vhost_key_ = domain;
        else
            vhost_key_ = plausible_ip(local_ip) && cfg_.exists("vhost." + local_ip) ? local_ip : "";
        vhost_known_ = true;
    }
    return vhost_key_;
}

SubmitReply SubmitSession::on_mail(const CommandLine& cmd) {
    if (have_mail_) return {503, "5.5.1 Nested MAIL command"};
    AddressAndParams ap = split_address_and_params(cmd.fields);
    auto sender = xtext_decode(ap.address);
    if (!sender) return {501, "5.1.7 Bad sender address syntax"};
    SubmitReply error;
    auto params = parse_mail_params(ap.params, &error);
    if (!params) return error;
    std::string vhost = vhost_for(facts_.local_ip);
    const VhostConfig& vc = vhosts_.get(vhost);
    if (!sender->empty()) {
        auto mbox = parse_mailbox(*sender);
        if (!mbox || mbox->local.empty()) return {501, "5.1.7 Bad sender address syntax"};
        if (mbox->domain.empty()) mbox->domain = vc.default_domain;
        *sender = mbox->str();
    }
    // nochangingfrom: a local user's mail always carries the user's own return address,
    // also when the user talks to submit without sendmail.
    if (!opts_.trusted && cfg_.exists("nochangingfrom") && !opts_.local_user.empty())
        *sender = opts_.local_user + "@" + vc.default_domain;
    if (auto refused = spf_at_mail(*sender, vc.me)) return *refused;   // SPF HELO, MAIL FROM
    if (auto refused = sender_policy(*sender)) return *refused;
    reset_message();
    body_.set_size_limit(opts_.size_limit_fixed || !vc.size_limit ? opts_.size_limit : *vc.size_limit);
    have_mail_ = true;
    env_.sender = std::move(*sender);
    env_.source = opts_.source;
    // RFC 8689 5: a notice about a REQUIRETLS message must not carry its content
    // over a path that may lack TLS, so only its headers are ever returned.
    env_.ret = params->requiretls ? "HDRS" : std::move(params->ret);
    env_.requiretls = params->requiretls;
    env_.envid = std::move(params->envid);
    env_.body = std::move(params->body);
    env_.smtputf8 = params->smtputf8;
    env_.remote_ip = facts_.remote_ip;
    env_.remote_host = facts_.remote_host;
    env_.helo = facts_.helo;
    env_.local_ip = facts_.local_ip;
    env_.auth_user = facts_.auth;
    env_.vhost = std::move(vhost);
    return {250, "2.1.0 Ok"};
}

SubmitReply SubmitSession::on_rcpt(const CommandLine& cmd) {
    if (!have_mail_) return {503, "5.5.1 MAIL first"};
    AddressAndParams ap = split_address_and_params(cmd.fields);
    auto address = xtext_decode(ap.address);
    if (!address) {
        SubmitReply r{501, "5.1.3 Bad recipient address syntax"};
        log_refusal(ap.address, r);
        return r;
    }
    SubmitReply error;
    auto params = parse_rcpt_params(ap.params, &error);
    if (!params) {
        log_refusal(*address, error);
        return error;
    }
    // bofh maxrcpts: the excess is deferred (the client sends it again in another
    // message), or refused for good with "hard".
    if (const BofhConfig& b = bofh(); b.maxrcpts && rcpts_accepted_ >= b.maxrcpts) {
        SubmitReply r = b.maxrcpts_hard ? SubmitReply{550, "5.5.3 Too many recipients"}
                                        : SubmitReply{452, "4.5.3 Too many recipients"};
        log_refusal(*address, r, b.maxrcpts_where + " maxrcpts");
        return r;
    }
    const VhostConfig& vc = vhosts_.get(env_.vhost);
    if (auto mbox = parse_mailbox(*address);
        mbox && (is_local_domain(mbox->domain, vc) || is_hosted_domain(mbox->domain, vc))) {
        auto key = alias_key(*address, [&](std::string_view d) { return is_local_domain(d, vc); });
        if (auto targets = aliases_.lookup(key)) {
            if (auto refused = alias_filter(*address)) {   // aliasfilteracct
                log_refusal(*address, *refused, "maildropfilter");
                return *refused;
            }
            SubmitReply r = add_alias(*address, *targets, *params);
            if (r.code == 250) ++rcpts_accepted_;
            return r;
        }
    }
    bool relay_allowed = opts_.source != "esmtp" || facts_.relay;
    RouteDecision d = route_recipient(*address, vc, relay_allowed, opts_.account_exists);
    if (!d.rcpt) {
        log_refusal(*address, d.reply, d.rule);
        return d.reply;
    }
    if (auto refused = rcpt_filter(*d.rcpt)) {   // the recipient's rcptfilter
        log_refusal(*address, *refused, "maildropfilter");
        return *refused;
    }
    SubmitReply refusal;
    std::string module = d.rcpt->module;
    if (!add_rcpt(std::move(*d.rcpt), *params, &refusal)) {
        log_refusal(*address, refusal);
        return refusal;
    }
    ++rcpts_accepted_;
    log_info("rcpt accepted rcpt=" + log_safe(*address) + " module=" + module + " rule=" + log_safe(d.rule));
    return d.reply;
}

// An alias: every target routed like a recipient of its own (relaying allowed, the
// administrator wrote the list); accepted when at least one target is.
SubmitReply SubmitSession::add_alias(const std::string& address,
                                     const std::vector<std::string>& targets,
                                     const RcptParams& params) {
    const VhostConfig& vc = vhosts_.get(env_.vhost);
    RcptParams p = params;
    // RFC 3461 4.2: the original recipient survives the expansion for DSNs.
    if (p.orcpt.empty()) p.orcpt = "rfc822;" + address;
    size_t accepted = 0;
    SubmitReply last{550, "5.1.1 <" + address + ">: alias without valid recipients"};
    for (const auto& t : targets) {
        RouteDecision d = route_recipient(t, vc, true, opts_.account_exists);
        if (!d.rcpt) {
            log_refusal(t, d.reply);
            continue;
        }
        SubmitReply refusal;
        if (add_rcpt(std::move(*d.rcpt), p, &refusal)) {
            ++accepted;
        } else {
            log_refusal(t, refusal);
            last = refusal;
        }
    }
    if (accepted == 0) {
        log_refusal(address, last);
        return last;
    }
    log_info("alias rcpt=" + log_safe(address) + " targets=" + std::to_string(accepted));
    return {250, "2.1.5 Ok"};
}

// Adds a routed recipient; the same address twice is accepted but delivered once.
bool SubmitSession::add_rcpt(QueueRecipient r, const RcptParams& params, SubmitReply* refusal) {
    if (rcpt_seen_.count(r.address)) return true;
    if (auto trap = spamtrap_for(r.address, r.module == "local" && r.host.find('@') == std::string::npos)) {
        // bofh spamtrap: the whole message is refused at the end of data, too.
        spamtrap_rule_ = *trap + " spamtrap";
        *refusal = {550, "5.7.1 <" + r.address + ">: mail refused"};
        return false;
    }
    if (backscatter_blocked(r.address)) {
        *refusal = {450, "4.7.1 <" + r.address + ">: recent delivery failure; try later"};
        return false;
    }
    if (env_.rcpts.size() >= opts_.max_rcpts) {
        *refusal = {452, "4.5.3 Too many recipients"};
        return false;
    }
    r.notify = params.notify;
    r.orcpt = params.orcpt;
    rcpt_seen_.insert(r.address);
    env_.rcpts.push_back(std::move(r));
    return true;
}

SubmitSession::DataEnd SubmitSession::read_data() {
    std::string line;
    for (;;) {
        auto st = in_.read_line(line, opts_.read_timeout_ms);
        if (st == LineReader::Status::eof || st == LineReader::Status::timeout ||
            st == LineReader::Status::error)
            return DataEnd::eof;
        if (st == LineReader::Status::too_long) {
            log_error("submit: chunk header too long");
            return DataEnd::protocol_error;
        }
        if (!line.empty() && line.back() == '\r') line.pop_back();
        CommandLine cmd = parse_command(line);
        // The caller may abandon a message in the middle (its SMTP client went away).
        if (cmd.verb == Verb::rset) return DataEnd::rset;
        if (cmd.verb == Verb::quit) return DataEnd::quit;
        auto n = cmd.verb == Verb::chunk ? parse_chunk_size(cmd.fields) : std::nullopt;
        if (!n) {
            log_error("submit: expected a chunk, got: " + log_safe(line.substr(0, 80)));
            return DataEnd::protocol_error;
        }
        if (*n == 0) return DataEnd::done;
        DataEnd end = read_chunk(*n);
        if (end != DataEnd::done) return end;
    }
}

SubmitSession::DataEnd SubmitSession::read_chunk(uint64_t n) {
    // A message that will be refused anyway (no MAIL or no recipient) is only read.
    bool keep = have_mail_ && !env_.rcpts.empty();
    while (n > 0) {
        size_t take = n < kChunkPiece ? size_t(n) : kChunkPiece;
        if (!in_.read_exact(piece_, take, opts_.read_timeout_ms)) return DataEnd::eof;
        n -= take;
        if (keep && data_error_) data_error_ = spf_append(piece_);
        if (keep) content_.feed(piece_);
    }
    return DataEnd::done;
}

SubmitReply SubmitSession::finish_message() {
    SubmitReply r;
    if (!have_mail_) {
        r = {503, "5.5.1 MAIL first"};
    } else if (env_.rcpts.empty()) {
        r = {554, "5.5.1 No valid recipients"};
    } else {
        if (data_error_) data_error_ = spf_finish_body();
        if (!data_error_) {
            log_error("submit: " + data_error_.error().text);
            r = {451, "4.3.0 Cannot store the message"};
        } else if (body_.too_big()) {
            r = {552, "5.3.4 Message too big"};
        } else if (auto refused = content_policy()) {
            r = *refused;
        } else if (auto spf_refused = spf_at_data_end()) {   // SPF of the From: address
            r = *spf_refused;
        } else if (auto auth_refused = authenticate()) {   // DKIM, DMARC (message_auth.h)
            r = *auth_refused;
        } else {
            // The global filters (doc/filters.md): the message is complete and nothing
            // is queued yet; a refusal or a discard is the client's reply.
            filtered_ = run_global_filters(cfg_, opts_.spool_dir, env_, body_);
            if (filtered_.reply) r = *filtered_.reply;
            else if (auto lf_refused = content_filters()) r = *lf_refused;   // smtpfilter
            else r = queue_message();
        }
    }
    if (r.code != 250 && have_mail_)
        log_info("rejected from=" + log_safe(env_.sender) + " size=" + std::to_string(body_.size()) +
                 " client=" + log_safe(facts_.remote_ip) + " source=" + opts_.source +
                 " reason=" + log_safe(r.line()));
    reset_message();
    return r;
}

SubmitReply SubmitSession::queue_message() {
    std::time_t now = ::time(nullptr);
    auto file = spool_.begin(now);
    if (!file) {
        log_error("submit: " + file.error().text);
        return {451, "4.3.0 Cannot create the queue file"};
    }
    env_.id = file->id();
    env_.arrival = now;
    ReceivedInfo ri;
    ri.helo = facts_.helo;
    ri.remote_host = facts_.remote_host;
    ri.remote_ip = facts_.remote_ip;
    ri.me = vhosts_.get(env_.vhost).me;
    ri.protocol = received_protocol(facts_.protocol, opts_.source, !facts_.tls.empty(),
                                    !facts_.auth.empty());
    ri.tls = facts_.tls;
    // The authenticated user is private to many sites: shown only when asked for.
    if (cfg_.exists("receivedauth")) ri.auth = facts_.auth;
    if (opts_.source == "local" || opts_.source == "forward") {
        ri.local_user = opts_.local_user;
        ri.local_uid = opts_.local_uid;
        env_.owner_uid = opts_.local_uid;   // the owner who may cancel it (cancelmsg(1))
    }
    ri.qid = env_.id.text;
    if (env_.rcpts.size() == 1) ri.for_rcpt = env_.rcpts[0].address;
    ri.when = now;
    std::string received = spf_headers() + format_received(ri) + auth_.results + auth_.signatures +
                           filtered_.prepended();   // filters' PREPEND
    env_.data_size = received.size() + body_.size();

    std::string head = format_envelope(env_);
    head += received;
    // The usual message never left memory: envelope and message in one write.
    if (!body_.spilled()) head += body_.in_memory();
    Status st = write_all(file->fd(), head);
    if (st && body_.spilled()) st = body_.write_to(file->fd());
    // Name the queue id before the commit: if this process dies between the commit and
    // the 250, the caller can look for the queue file instead of answering 451 for a
    // message that is in the queue (doc/architecture.md, "The submit protocol").
    if (st && !send_line("queue " + env_.id.text + "\n")) st = Error{EPIPE, "caller went away"};
    if (st) st = spool_.commit(*file, initial_status(now) + filtered_.hold_record(now) + auth_.hold_record(now));
    if (!st) {
        log_error("submit: id=" + env_.id.text + ": " + st.error().text);
        return {451, "4.3.0 Cannot write the queue file"};
    }
    spool_.notify(env_.id);
    log_info("accepted id=" + env_.id.text + " from=" + log_safe(env_.sender) +
             " rcpts=" + std::to_string(env_.rcpts.size()) + " size=" +
             std::to_string(env_.data_size) + " client=" + log_safe(facts_.remote_ip) +
             " source=" + opts_.source);
    return {250, "2.0.0 Ok: queued as " + env_.id.text};
}

// submitdelay (courier(8)): the first delivery attempt waits that long, through a
// "retry" record courierd honours like any other.
std::string SubmitSession::initial_status(std::time_t now) {
    if (!submit_delay_) {
        auto text = cfg_.first_line("submitdelay");
        auto v = text ? parse_interval(*text) : std::nullopt;
        submit_delay_ = v && *v > 0 ? *v : 0;
    }
    if (*submit_delay_ <= 0) return "";
    StatusRecord r;
    r.kind = StatusRecord::Kind::retry;
    r.when = now;
    r.next = now + *submit_delay_;
    r.attempts = 0;
    return format_status(r);
}

void SubmitSession::reset_message() {
    have_mail_ = false;
    env_ = QueueEnvelope{};
    rcpt_seen_.clear();
    body_.reset();
    data_error_ = ok_status();
    filtered_ = FilterOutcome{};
    auth_ = AuthOutcome{};
    filter_class_ = 0;
    content_filtered_.clear();
    rcpts_accepted_ = 0;
    spamtrap_rule_.clear();
    content_.reset();
}

bool SubmitSession::send(const SubmitReply& r) { return send_line(format_reply(r)); }

bool SubmitSession::send_line(const std::string& line) {
    Status st = write_all(out_fd_, line);
    if (!st) log_error("submit: cannot reply: " + st.error().text);
    return st.ok();
}

// The backscatter blacklist (courier(8), "courier clear"; bofh, BOFHSUPPRESSBACKSCATTER):
// mail from a listed source to an address that failed permanently in the last two
// hours is refused for now. Checked on the routed address, so alias targets are too.
// An unreadable list blocks nothing: the list only saves bounces, mail must still flow.
bool SubmitSession::backscatter_blocked(const std::string& address) {
    if (!backscatter_sources_) backscatter_sources_ = bofh().suppress_backscatter;
    if (!suppress_backscatter_from(backscatter_source(opts_.source, env_.auth_user),
                                   *backscatter_sources_))
        return false;
    auto blocked = backscatter_.blocked(address, ::time(nullptr));
    if (!blocked) {
        log_error("submit: backscatter list: " + blocked.error().text);
        return false;
    }
    return *blocked;
}

void SubmitSession::log_refusal(std::string_view address, const SubmitReply& r, std::string_view rule) {
    log_info("refused rcpt=" + log_safe(address) + " from=" + log_safe(env_.sender) +
             " client=" + log_safe(facts_.remote_ip) + " source=" + opts_.source +
             (rule.empty() ? "" : " rule=" + log_safe(rule)) + " reason=" + log_safe(r.line()));
}

}  // namespace submit
