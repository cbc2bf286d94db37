// The ESMTP server state machine (see smtp_session.h). Replies carry RFC 3463 enhanced
// codes except the 220 greeting, the EHLO/HELO replies (RFC 2034 section 3 exempts
// them), 354 and 334, whose class 3 has no enhanced code.
#include "esmtp/smtp_session.h"
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <thread>
#include <utility>
#include "esmtp/requiretls.h"
#include "lib/log.h"

namespace {
// EHLO/HELO argument: one word of visible ASCII (a domain or an address literal; many
// clients send less, so its syntax is not judged further).
bool printable_word(std::string_view s) {
    if (s.empty()) return false;
    for (unsigned char c : s)
        if (c < 0x21 || c > 0x7e) return false;
    return true;
}

// A reply line from submit reaches the client as one line whatever it holds.
std::string one_line(std::string_view line) {
    std::string out(line);
    while (!out.empty() && (out.back() == '\r' || out.back() == '\n')) out.pop_back();
    for (char& c : out)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
    return out;
}

std::string upper(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    return out;
}

bool contains(const std::vector<std::string>& v, std::string_view s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

// "[1.2.3.4]" or "[IPv6:...]" naming ip (an IPv4 client on an IPv6 socket shows
// as ::ffff:a.b.c.d).
bool literal_names(std::string_view domain, std::string_view ip) {
    if (ip.empty() || domain.size() < 3 || domain.front() != '[' || domain.back() != ']') return false;
    std::string lit = lowercase_ascii(domain.substr(1, domain.size() - 2));
    std::string addr = lowercase_ascii(ip);
    if (addr.rfind("::ffff:", 0) == 0 && addr.find('.') != std::string::npos) addr = addr.substr(7);
    if (lit.rfind("ipv6:", 0) == 0) lit = lit.substr(5);
    return lit == addr;
}

constexpr std::string_view kLoginUser = "VXNlcm5hbWU6";       // "Username:"
constexpr std::string_view kLoginPassword = "UGFzc3dvcmQ6";   // "Password:"
}  // namespace

SmtpSession::SmtpSession(SessionConfig config, MessageSink& sink)
    : log([](const std::string& line) { log_info(line); }),
      pause([](int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }),
      cfg_(std::move(config)), sink_(sink) {}

const std::vector<SmtpSession::CommandSpec>& SmtpSession::commands() {
    static const std::vector<CommandSpec> table = {
        {"EHLO", &SmtpSession::cmd_ehlo, true},  {"HELO", &SmtpSession::cmd_helo, true},
        {"MAIL", &SmtpSession::cmd_mail, false}, {"RCPT", &SmtpSession::cmd_rcpt, false},
        {"DATA", &SmtpSession::cmd_data, true},  {"BDAT", &SmtpSession::cmd_bdat, false},
        {"RSET", &SmtpSession::cmd_rset, false}, {"NOOP", &SmtpSession::cmd_noop, true},
        {"QUIT", &SmtpSession::cmd_quit, true},  {"VRFY", &SmtpSession::cmd_vrfy, true},
        {"HELP", &SmtpSession::cmd_help, true},  {"STARTTLS", &SmtpSession::cmd_starttls, true},
        {"AUTH", &SmtpSession::cmd_auth, true},  {"ETRN", &SmtpSession::cmd_etrn, true},
    };
    return table;
}

void SmtpSession::start() {
    const ConnectionFacts& f = cfg_.facts;
    // ZMailer -L: an overloaded host turns connections away before any work is done.
    if (cfg_.max_load > 0 && load_average) {
        if (auto load = load_average(); load && load_too_high(*load, cfg_.max_load)) {
            char text[32];
            std::snprintf(text, sizeof text, "%.2f", *load);
            refuse(std::string("MAXLOADAVER load=") + text,
                   "421 4.3.2 " + cfg_.me + " System load too high, try again later");
            return close();
        }
    }
    // Facts couriertcpd did not give (a run by hand) are left out, not sent empty.
    const std::pair<const char*, const std::string*> facts[] = {
        {"remote-ip", &f.remote_ip}, {"remote-port", &f.remote_port}, {"remote-host", &f.remote_host},
        {"local-ip", &f.local_ip},   {"local-port", &f.local_port},
    };
    for (const auto& [key, value] : facts)
        if (!value->empty()) sink_.set_session(key, *value);
    sink_.set_session("relay", f.relay_client ? "yes" : "no");
    if (f.dnswl) sink_.set_session("dnswl", *f.dnswl);
    reply("220 " + cfg_.greeting);
    flush_due_ = true;
}

std::string SmtpSession::take_output() {
    flush_due_ = false;
    return std::exchange(out_, std::string());
}

void SmtpSession::reply(std::string_view line) {
    // RFC 2034: without the ENHANCEDSTATUSCODES keyword the client expects none.
    out_ += cfg_.switches.no_enhanced_codes ? strip_enhanced_code(one_line(line)) : one_line(line);
    out_ += "\r\n";
}

// Every refusal by a rule of this server is logged with the rule, so that "why was
// this refused?" is answered by the log.
void SmtpSession::refuse(std::string_view rule, std::string_view line) {
    if (log)
        log("policy rule=" + log_safe(std::string(rule)) + " client=" + cfg_.facts.remote_ip +
            " reply=" + one_line(line));
    reply(line);
}

// Each error past errors_before_delay waits a step longer (RFC 5321 does not forbid
// it; it slows down dictionary and fuzzing clients), then the session ends at
// max_errors.
void SmtpSession::error_reply(std::string_view line) {
    ++errors_;
    // A tarpit rule (esmtphelopatterns flag T) delays from the first error on.
    unsigned free_errors = helo_policy_.tarpit ? 0 : cfg_.errors_before_delay;
    if (errors_ > free_errors && cfg_.error_delay_ms > 0 && pause) {
        unsigned steps = std::min(errors_ - free_errors, 10u);
        pause(static_cast<int>(steps) * cfg_.error_delay_ms);
    }
    reply(line);
    if (errors_ >= cfg_.max_errors && !closed()) {
        abort_transaction();
        reply("421 4.7.0 " + cfg_.me + " Too many errors, closing connection");
        close();
    }
}

void SmtpSession::close() {
    mode_ = Mode::closed;
    flush_due_ = true;
    data_.reset();
    sink_.quit();
}

void SmtpSession::abort_transaction() {
    if (tx_.active) sink_.reset();
    tx_ = Transaction{};
    data_.reset();
    if (mode_ == Mode::data) mode_ = Mode::command;
}

int SmtpSession::timeout_ms() const {
    return (mode_ == Mode::data || mode_ == Mode::bdat) ? cfg_.data_timeout_ms : cfg_.command_timeout_ms;
}

void SmtpSession::on_command(std::string_view line) {
    if (mode_ == Mode::auth) {
        if (line.size() + 1 > kMaxAuthLine) return auth_finish(esmtp::AuthBackend::Verdict::bad, "");
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        return auth_step(line);
    }
    if (mode_ != Mode::command) return;
    CommandLine c = split_command(line);
    // A NUL byte would cut the line short for anything that treats it as a C string.
    if (line.find('\0') != std::string_view::npos) return error_reply("500 5.5.2 NUL byte in command");
    if (line.size() + 1 > max_line_for(c.verb)) return error_reply("500 5.5.2 Line too long");
    for (const CommandSpec& spec : commands()) {
        if (spec.verb != c.verb) continue;
        (this->*spec.handler)(c.args);
        if (spec.last_in_group) flush_due_ = true;
        return;
    }
    error_reply("500 5.5.1 Command unrecognized");
}

void SmtpSession::on_command_too_long() {
    if (mode_ == Mode::auth) return auth_finish(esmtp::AuthBackend::Verdict::bad, "");
    if (mode_ == Mode::command) error_reply("500 5.5.2 Line too long");
}

void SmtpSession::on_timeout() {
    if (closed()) return;
    if (mode_ == Mode::data || mode_ == Mode::bdat) log_message("aborted", "timeout in DATA");
    abort_transaction();
    reply("421 4.4.2 " + cfg_.me + " Timeout, closing connection");
    close();
}

void SmtpSession::on_session_limit() {
    if (closed()) return;
    if (mode_ == Mode::data || mode_ == Mode::bdat) log_message("aborted", "session time limit");
    abort_transaction();
    reply("421 4.4.2 " + cfg_.me + " Session time limit exceeded, closing connection");
    close();
}

void SmtpSession::on_eof() {
    if (closed()) return;
    if (mode_ == Mode::data || mode_ == Mode::bdat) log_message("aborted", "connection lost in DATA");
    abort_transaction();
    close();
}

// RFC 3848 and RFC 6531 3.7.3: the "with" keyword of the Received: header.
std::string SmtpSession::protocol() const {
    std::string p = tx_.params.smtputf8 ? "UTF8SMTP" : esmtp_ ? "ESMTP" : "SMTP";
    if (p == "SMTP") return p;
    if (tls_) p += 'S';
    if (!auth_user_.empty()) p += 'A';
    return p;
}

void SmtpSession::send_protocol() { sink_.set_session("protocol", protocol()); }

bool SmtpSession::greet(std::string_view args, bool esmtp) {
    std::string_view name = args.substr(0, args.find(' '));
    if (!printable_word(name)) {
        error_reply(esmtp ? "501 5.5.4 Syntax: EHLO hostname" : "501 5.5.4 Syntax: HELO hostname");
        return false;
    }
    HeloPolicy policy = cfg_.helo_patterns.match(name);
    if (!policy.reject.empty()) {
        abort_transaction();
        helo_seen_ = false;
        refuse("esmtphelopatterns " + policy.rule, "550 5.7.1 " + policy.reject);
        return false;
    }
    if (esmtp && (cfg_.switches.no_ehlo || policy.no_ehlo)) {
        // RFC 5321 4.1.1.1: a client whose EHLO is refused falls back to HELO.
        refuse(cfg_.switches.no_ehlo ? std::string("NoEHLO") : "esmtphelopatterns " + policy.rule,
               "502 5.5.1 EHLO not available, use HELO");
        return false;
    }
    if (policy.strict && !plausible_helo_name(name)) {
        abort_transaction();
        helo_seen_ = false;
        refuse("esmtphelopatterns " + policy.rule, "501 5.5.4 Invalid host name in " +
                                                        std::string(esmtp ? "EHLO" : "HELO"));
        return false;
    }
    abort_transaction();   // RFC 5321 4.1.4: EHLO/HELO also reset the transaction
    helo_policy_ = std::move(policy);
    helo_seen_ = true;
    esmtp_ = esmtp;
    sink_.set_session("helo", std::string(name));
    send_protocol();
    return true;
}

std::vector<std::string> SmtpSession::auth_offered() const {
    if (!auth_backend_) return {};
    std::vector<std::string> out;
    for (const std::string& m : tls_ ? cfg_.auth_tls : cfg_.auth_plain) {
        if (m == "CRAM-MD5" && !auth_backend_->supports_cram()) continue;
        if ((m == "PLAIN" || m == "LOGIN" || m == "CRAM-MD5") && !contains(out, m)) out.push_back(m);
    }
    return out;
}

void SmtpSession::cmd_ehlo(std::string_view args) {
    if (!greet(args, true)) return;
    const EsmtpSwitches& sw = cfg_.switches;
    std::vector<std::string> lines = {cfg_.me};
    if (pipelining_offered()) lines.push_back("PIPELINING");
    if (!sw.no_8bitmime) lines.push_back("8BITMIME");
    lines.push_back("SIZE " + std::to_string(cfg_.size_limit));
    if (!sw.no_enhanced_codes) lines.push_back("ENHANCEDSTATUSCODES");
    if (!sw.no_dsn) lines.push_back("DSN");
    lines.push_back("SMTPUTF8");
    if (!sw.no_chunking) lines.push_back("CHUNKING");
    // ETRN only where there is a queue to flush (request_etrn set: courieresmtpd).
    if (!sw.no_etrn && request_etrn) lines.push_back("ETRN");
    if (cfg_.tls_available && !tls_) lines.push_back("STARTTLS");
    if (tls_) lines.push_back("REQUIRETLS");   // RFC 8689 2: only on a TLS session
    std::vector<std::string> mechs = auth_offered();
    if (!mechs.empty() && auth_user_.empty()) {
        std::string line = "AUTH";
        for (const std::string& m : mechs) line += " " + m;
        lines.push_back(line);
    }
    for (size_t i = 0; i < lines.size(); ++i)
        reply((i + 1 < lines.size() ? "250-" : "250 ") + lines[i]);
}

bool SmtpSession::pipelining_offered() const {
    return !cfg_.switches.no_pipelining && !helo_policy_.no_pipelining;
}

void SmtpSession::cmd_helo(std::string_view args) {
    if (greet(args, false)) reply("250 " + cfg_.me);
}

// RFC 6531: non-ASCII addresses only with SMTPUTF8, domains normalised (smtp_command.h).
std::optional<std::string> SmtpSession::check_address(Mailbox& m, bool utf8, std::string_view what) {
    if (is_ascii(m.local) && is_ascii(m.domain)) return std::nullopt;
    if (!utf8) return "553 5.6.7 Non-ASCII " + std::string(what) + " address requires SMTPUTF8";
    if (!valid_utf8(m.local)) return "553 5.6.7 Malformed UTF-8 in " + std::string(what) + " address";
    auto domain = normalize_idn_domain(m.domain);
    if (!domain) return "553 5.1.2 Invalid internationalized domain in " + std::string(what) + " address";
    m.domain = *domain;
    return std::nullopt;
}

void SmtpSession::cmd_mail(std::string_view args) {
    if (!helo_seen_) return error_reply("503 5.5.1 Send EHLO or HELO first");
    if (tx_.active) return error_reply("503 5.5.1 Sender already specified");
    if (cfg_.auth_required && auth_user_.empty())
        return error_reply("530 5.7.0 Authentication required");
    if (helo_policy_.require_auth && auth_user_.empty() && !cfg_.facts.relay_client)
        return refuse("esmtphelopatterns " + helo_policy_.rule, "530 5.7.0 Authentication required");
    auto rest = strip_keyword(args, "FROM:");
    if (!rest) return error_reply("501 5.5.4 Syntax: MAIL FROM:<address>");
    std::string why;
    auto path = parse_smtp_path(*rest, &why);
    if (!path) return error_reply("501 5.1.7 Bad sender address syntax: " + why);
    if (!esmtp_ && !path->params.empty())
        return error_reply("555 5.5.4 MAIL parameters are not allowed after HELO");
    std::string refusal;
    auto params = check_mail_params(path->params, cfg_.size_limit, &refusal);
    if (!params) return error_reply(refusal);
    if (auto bad = switch_refusal(*params)) return error_reply(*bad);
    if (auto bad = requiretls::mail_refusal(params->requiretls, tls_)) return error_reply(*bad);
    if (auto bad = check_address(path->mailbox, params->smtputf8, "sender")) return error_reply(*bad);
    if (auto full = storage_refusal(params->size.value_or(0))) return refuse("MINAVAILSPACE", *full);
    std::string sender = path->null_path ? std::string() : path->mailbox.str();
    tx_.params.smtputf8 = params->smtputf8;   // for protocol()
    send_protocol();
    SubmitReply r = sink_.mail(sender, submit_mail_params(*params));
    reply(r.line());
    if (!r.positive()) {
        tx_ = Transaction{};
        return;
    }
    tx_ = Transaction{};
    tx_.active = true;
    tx_.sender = std::move(sender);
    tx_.params = *params;
}

void SmtpSession::cmd_rcpt(std::string_view args) {
    if (!tx_.active) return error_reply("503 5.5.1 Need MAIL command first");
    auto rest = strip_keyword(args, "TO:");
    if (!rest) return error_reply("501 5.5.4 Syntax: RCPT TO:<address>");
    std::string why;
    auto path = parse_smtp_path(*rest, &why);
    if (!path || path->null_path)
        return error_reply("501 5.1.3 Bad recipient address syntax" + (why.empty() ? "" : ": " + why));
    std::string refusal;
    auto params = check_rcpt_params(path->params, &refusal);
    if (!params) return error_reply(refusal);
    if (cfg_.switches.no_dsn && (!params->notify.empty() || !params->orcpt.empty()))
        return error_reply("555 5.5.4 NOTIFY and ORCPT are not supported (DSN not offered)");
    if (auto bad = check_address(path->mailbox, tx_.params.smtputf8, "recipient")) return error_reply(*bad);
    // couriertcpd(1): a connection with BLOCK set to text gets no mail in; an
    // authenticated client has shown who it is and is let through.
    if (!cfg_.facts.block.empty() && auth_user_.empty()) {
        ++tx_.rcpts_tried;
        std::string zone = cfg_.facts.block_zone.empty() ? "" : " zone=" + cfg_.facts.block_zone;
        return refuse("BLOCK" + zone, block_reply(cfg_.facts.block));
    }
    // ZMailer max-error-recipients: a bounce goes to one address (its sender's).
    if (tx_.sender.empty() && cfg_.max_null_sender_rcpts > 0 && tx_.rcpts_accepted >= cfg_.max_null_sender_rcpts)
        return refuse("MAXERRORRECIPIENTS", "550 5.5.3 Too many recipients for a message with a null sender");
    // RFC 5321 4.5.3.1.8: the limit is a temporary condition; the client sends the rest later.
    if (tx_.rcpts_tried >= cfg_.max_recipients) return reply("452 4.5.3 Too many recipients");
    Mailbox& m = path->mailbox;
    // RFC 5321 4.5.1: <postmaster> without a domain is always accepted; submit gets
    // the postmaster of this host. user@[our address] is a local address (4.1.3).
    if (is_bare_postmaster(m)) m = Mailbox{"postmaster", lowercase_ascii(cfg_.me)};
    else if (literal_names(m.domain, cfg_.facts.local_ip)) m.domain = lowercase_ascii(cfg_.default_domain);
    ++tx_.rcpts_tried;
    SubmitReply r = sink_.rcpt(m.str(), submit_rcpt_params(*params));
    reply(r.line());
    if (r.positive()) ++tx_.rcpts_accepted;
}

void SmtpSession::cmd_data(std::string_view args) {
    if (!args.empty()) return error_reply("501 5.5.4 Syntax: DATA");
    if (!tx_.active) return error_reply("503 5.5.1 Need MAIL command first");
    if (tx_.bdat_used) return error_reply("503 5.5.1 DATA cannot follow BDAT");
    if (tx_.rcpts_accepted == 0) return error_reply("503 5.5.1 Need RCPT command first (no valid recipients)");
    // The space may have run out since MAIL; the transaction stays for a later DATA.
    if (auto full = storage_refusal(tx_.params.size.value_or(0))) return refuse("MINAVAILSPACE", *full);
    data_.emplace(cfg_.size_limit);
    sink_failed_ = false;
    mode_ = Mode::data;
    reply("354 End data with <CR><LF>.<CR><LF>");
}

// RFC 3030: "BDAT <size> [LAST]". The chunk's bytes follow at once and are read even
// when the command is refused, so the session stays in step with the client.
void SmtpSession::cmd_bdat(std::string_view args) {
    std::string_view size_text = args.substr(0, args.find(' '));
    std::string_view rest = size_text.size() < args.size() ? args.substr(size_text.size() + 1) : "";
    uint64_t n = 0;
    auto r = std::from_chars(size_text.data(), size_text.data() + size_text.size(), n);
    bool good_size = !size_text.empty() && size_text.size() <= 19 && r.ec == std::errc() &&
                     r.ptr == size_text.data() + size_text.size();
    bool last = upper(rest) == "LAST";
    if (!good_size || (!rest.empty() && !last)) {
        // The size is unknown, so the chunk cannot be skipped: the session cannot go on.
        reply("501 5.5.4 Syntax: BDAT <size> [LAST]");
        abort_transaction();
        reply("421 4.5.0 " + cfg_.me + " Lost synchronisation, closing connection");
        return close();
    }
    bdat_remaining_ = n;
    bdat_last_ = last;
    mode_ = Mode::bdat;
    bdat_discard_ = true;
    if (cfg_.switches.no_chunking) error_reply("502 5.5.1 BDAT not available (CHUNKING is not offered)");
    else if (!tx_.active) error_reply("503 5.5.1 Need MAIL command first");
    else if (tx_.rcpts_accepted == 0) error_reply("503 5.5.1 Need RCPT command first (no valid recipients)");
    else bdat_discard_ = false;
    if (closed()) return;
    if (!bdat_discard_ && !tx_.bdat_used) {
        tx_.bdat_used = true;
        data_.emplace(DataReceiver::raw(cfg_.size_limit));
        sink_failed_ = false;
    }
    if (bdat_remaining_ == 0) end_of_bdat(last);
}

void SmtpSession::on_bdat(std::string_view bytes) {
    if (mode_ != Mode::bdat) return;
    bytes = bytes.substr(0, static_cast<size_t>(std::min<uint64_t>(bytes.size(), bdat_remaining_)));
    bdat_remaining_ -= bytes.size();
    if (!bdat_discard_ && data_) {
        size_t used = 0;
        while (used < bytes.size()) {
            used += data_->feed(bytes.substr(used, kDataChunk));
            if (data_->pending_size() < kDataChunk) continue;
            std::string chunk = data_->take_pending();
            if (!sink_failed_ && !sink_.send_data(chunk)) sink_failed_ = true;
        }
    }
    if (bdat_remaining_ == 0) end_of_bdat(bdat_last_);
}

void SmtpSession::end_of_bdat(bool last) {
    mode_ = Mode::command;
    if (bdat_discard_) return;   // the 503 was already given
    uint64_t size = data_ ? data_->size() : 0;
    if (last) {
        data_->end_chunks();
        return finish_message();
    }
    // A chunk that already makes the message unacceptable ends the transaction now.
    if (data_->verdict() != DataReceiver::Verdict::ok) {
        std::string line = data_failure();
        log_message("rejected", line);
        reply(line);
        abort_transaction();
        return;
    }
    reply("250 2.0.0 " + std::to_string(size) + " octets received");
}

// ETRN (RFC 1985): a relay client asks for the mail queued for its domain. The
// flush itself is courierd's (trigger FIFO, "etrn <domain>"); the reply says only
// that it was asked for, which RFC 1985 section 5 allows (250).
void SmtpSession::cmd_etrn(std::string_view args) {
    if (cfg_.switches.no_etrn || !request_etrn) return error_reply("502 5.5.1 ETRN not available");
    if (!helo_seen_) return error_reply("503 5.5.1 Send EHLO or HELO first");
    if (tx_.active) return error_reply("503 5.5.1 ETRN not allowed during a mail transaction");
    if (args.empty()) return error_reply("501 5.5.4 Syntax: ETRN domain");
    std::string node = one_line(args.substr(0, 255));
    if (args.front() == '#')
        return refuse("ETRN queue-name", "458 4.5.0 Unable to queue messages for node " + node +
                                             ": queue names are not supported");
    auto domain = parse_etrn_argument(args);
    if (!domain) return error_reply("501 5.5.4 Syntax error in parameters: ETRN domain");
    if (!cfg_.facts.relay_client && auth_user_.empty())
        return refuse("ETRN not-relay-client", "459 4.7.1 Node " + *domain +
                                                   " not allowed: ETRN is for relay clients only");
    if (!request_etrn(*domain)) {
        if (log) log("etrn status=failed client=" + cfg_.facts.remote_ip + " domain=" + *domain);
        return reply("458 4.3.0 Unable to queue messages for node " + *domain);
    }
    if (log) log("etrn status=started client=" + cfg_.facts.remote_ip + " domain=" + *domain);
    reply("250 2.0.0 Queuing for node " + *domain + " started");
}

// ZMailer min-availspace: MAIL (with its declared SIZE) and DATA wait while the spool
// file system is short of space; 452 4.3.1 is RFC 3463's "mail system full".
std::optional<std::string> SmtpSession::storage_refusal(uint64_t declared_size) {
    if (cfg_.min_avail_kb == 0 || !spool_available_kb) return std::nullopt;
    auto avail = spool_available_kb();
    if (!avail || !spool_space_low(*avail, cfg_.min_avail_kb + declared_size / 1024)) return std::nullopt;
    return std::string("452 4.3.1 Insufficient system storage, try again later");
}

// Parameters of an extension this listener does not offer (RFC 1869 section 6: 555).
std::optional<std::string> SmtpSession::switch_refusal(const MailParams& p) const {
    if (cfg_.switches.no_8bitmime && p.body == "8BITMIME")
        return std::string("555 5.5.4 BODY=8BITMIME is not supported (8BITMIME not offered)");
    if (cfg_.switches.no_dsn && (!p.ret.empty() || !p.envid.empty()))
        return std::string("555 5.5.4 RET and ENVID are not supported (DSN not offered)");
    return std::nullopt;
}

void SmtpSession::cmd_rset(std::string_view args) {
    if (!args.empty()) return error_reply("501 5.5.4 Syntax: RSET");
    abort_transaction();
    reply("250 2.0.0 Ok");
}

void SmtpSession::cmd_noop(std::string_view) { reply("250 2.0.0 Ok"); }   // args allowed (4.1.1.9)

void SmtpSession::cmd_quit(std::string_view args) {
    if (!args.empty()) return error_reply("501 5.5.4 Syntax: QUIT");
    abort_transaction();
    reply("221 2.0.0 " + cfg_.me + " closing connection");
    close();
}

void SmtpSession::cmd_vrfy(std::string_view args) {
    if (args.empty()) return error_reply("501 5.5.4 Syntax: VRFY address");
    reply("252 2.5.2 Cannot VRFY user, but will accept message and attempt delivery");
}

void SmtpSession::cmd_help(std::string_view) {
    std::string verbs;
    for (const CommandSpec& spec : commands()) verbs += " " + std::string(spec.verb);
    reply("214 2.0.0 Commands:" + verbs);
}

// --- STARTTLS (RFC 3207) ---

void SmtpSession::cmd_starttls(std::string_view args) {
    if (!args.empty()) return error_reply("501 5.5.4 Syntax: STARTTLS");
    if (tls_) return error_reply("503 5.5.1 TLS already active");
    // What was proved in the clear would have to be forgotten (RFC 3207 4.2); a client
    // that authenticates first has already sent its password unprotected.
    if (!auth_user_.empty()) return error_reply("503 5.5.1 STARTTLS not allowed after AUTH");
    if (!cfg_.tls_available) return error_reply("454 4.7.0 TLS not available");
    abort_transaction();
    reply("220 2.0.0 Ready to start TLS");
    starttls_requested_ = true;
    flush_due_ = true;
}

// RFC 3207 4.2: all knowledge from before the handshake is discarded: the client must
// greet again, and nothing it said or proved in plaintext counts.
void SmtpSession::on_tls_started(const TlsInfo& info) {
    starttls_requested_ = false;
    tls_ = true;
    tls_info_ = info;
    abort_transaction();
    helo_seen_ = esmtp_ = false;
    helo_policy_ = HeloPolicy{};
    sink_.set_session("tls", info.version + " " + info.cipher + " " + std::to_string(info.bits));
}

void SmtpSession::on_tls_failed() {
    starttls_requested_ = false;
    abort_transaction();
    if (!closed()) close();
}

// --- AUTH (RFC 4954) ---

void SmtpSession::cmd_auth(std::string_view args) {
    if (!helo_seen_ || !esmtp_) return error_reply("503 5.5.1 Send EHLO first");
    if (!auth_user_.empty()) return error_reply("503 5.5.1 Already authenticated");
    if (tx_.active) return error_reply("503 5.5.1 AUTH not allowed during a mail transaction");
    std::string_view mech_text = args.substr(0, args.find(' '));
    std::string mech = upper(mech_text);
    std::string_view initial = mech_text.size() < args.size() ? args.substr(mech_text.size() + 1) : "";
    if (mech.empty()) return error_reply("501 5.5.4 Syntax: AUTH mechanism [initial-response]");
    std::vector<std::string> offered = auth_offered();
    if (!contains(offered, mech)) {
        // Offered under TLS but not in the clear: say so (RFC 4954 6, 538).
        if (!tls_ && auth_backend_ && cfg_.tls_available && contains(cfg_.auth_tls, mech))
            return error_reply("538 5.7.11 Encryption required for requested authentication mechanism");
        return error_reply("504 5.5.4 Unrecognized authentication type");
    }
    auth_ = AuthExchange{mech, 0, "", ""};
    mode_ = Mode::auth;
    if (mech == "CRAM-MD5") {
        if (!initial.empty()) return auth_finish(esmtp::AuthBackend::Verdict::bad, "");
        auth_.challenge = esmtp::cram_challenge(cfg_.me);
        return auth_challenge(esmtp::base64_encode(auth_.challenge));
    }
    if (initial.empty()) return auth_challenge(mech == "LOGIN" ? kLoginUser : "");
    // "=" is an empty initial response (RFC 4954 4).
    auth_step(initial == "=" ? "" : initial);
}

void SmtpSession::auth_challenge(std::string_view text) {
    reply("334 " + std::string(text));
    flush_due_ = true;
}

void SmtpSession::auth_step(std::string_view response) {
    using V = esmtp::AuthBackend::Verdict;
    if (response == "*") {
        mode_ = Mode::command;
        return error_reply("501 5.0.0 Authentication cancelled");
    }
    auto decoded = esmtp::base64_decode(response);
    if (!decoded) {
        mode_ = Mode::command;
        return error_reply("501 5.5.2 Cannot decode response");
    }
    if (auth_.mechanism == "PLAIN") {
        auto creds = esmtp::parse_plain(*decoded);
        if (!creds) return auth_finish(V::bad, "");
        return auth_finish(auth_backend_->check_password(creds->user, creds->password), creds->user);
    }
    if (auth_.mechanism == "LOGIN") {
        if (auth_.step++ == 0) {
            auth_.user = *decoded;
            return auth_challenge(kLoginPassword);
        }
        if (auth_.user.empty()) return auth_finish(V::bad, "");
        return auth_finish(auth_backend_->check_password(auth_.user, *decoded), auth_.user);
    }
    // CRAM-MD5
    auto cram = esmtp::parse_cram_response(*decoded);
    if (!cram) return auth_finish(V::bad, "");
    auto secret = auth_backend_->cram_secret(cram->user);
    bool good = secret && esmtp::constant_time_equal(esmtp::hmac_md5_hex(*secret, auth_.challenge), cram->digest);
    auth_finish(good ? V::ok : V::bad, cram->user);
}

void SmtpSession::auth_finish(esmtp::AuthBackend::Verdict v, const std::string& user) {
    using V = esmtp::AuthBackend::Verdict;
    mode_ = Mode::command;
    std::string mech = auth_.mechanism;
    auth_ = AuthExchange{};
    flush_due_ = true;
    if (v == V::ok) {
        auth_user_ = user;
        sink_.set_session("auth", user);
        sink_.set_session("relay", "yes");   // authenticated clients may relay
        send_protocol();
        if (log) log("auth status=ok client=" + cfg_.facts.remote_ip + " user=" + log_safe(user) + " mech=" + mech);
        return reply("235 2.7.0 Authentication successful");
    }
    if (v == V::temporary_failure) return reply("454 4.7.0 Temporary authentication failure");
    ++auth_failures_;
    if (log) log("auth status=failed client=" + cfg_.facts.remote_ip + " user=" + log_safe(user) + " mech=" + mech);
    if (pause && cfg_.auth_fail_delay_ms > 0) pause(cfg_.auth_fail_delay_ms * static_cast<int>(std::min(auth_failures_, 5u)));
    reply("535 5.7.8 Authentication credentials invalid");
    if (auth_failures_ >= cfg_.max_auth_failures) {
        reply("421 4.7.0 " + cfg_.me + " Too many authentication failures, closing connection");
        close();
    }
}

// --- DATA ---

size_t SmtpSession::on_data(std::string_view bytes) {
    if (mode_ != Mode::data || !data_) return 0;
    size_t used = 0;
    // Fed a slice at a time so that what is held back stays under two chunks.
    while (used < bytes.size() && !data_->done()) {
        used += data_->feed(bytes.substr(used, kDataChunk));
        if (data_->pending_size() < kDataChunk) continue;
        std::string chunk = data_->take_pending();
        // After a failed write submit is gone: keep reading, answer 451 at the end.
        if (!sink_failed_ && !sink_.send_data(chunk)) sink_failed_ = true;
    }
    if (data_->done()) end_of_data();
    return used;
}

std::string SmtpSession::data_failure() const {
    switch (data_->verdict()) {
    case DataReceiver::Verdict::bare_line_end:
        return "550 5.5.2 Message refused: bare CR or LF in the message (lines must end with CRLF)";
    case DataReceiver::Verdict::nul:
        return "550 5.6.0 Message refused: NUL byte in the message";
    case DataReceiver::Verdict::long_line:
        // RFC 5321 4.5.3.1.6 limits a text line to 1000 octets with its CRLF, and
        // 4.5.3.1.10 names 552 for such data. The message is refused, not rewrapped:
        // breaking lines would alter signed content.
        return "552 5.5.2 Message refused: text line longer than 1000 octets";
    case DataReceiver::Verdict::too_big:
        return "552 5.3.4 Message size exceeds fixed maximum message size";
    case DataReceiver::Verdict::ok:
        break;
    }
    return "";
}

void SmtpSession::end_of_data() {
    finish_message();
    flush_due_ = true;
}

// Nothing half-received is queued: a refused message is abandoned with reset() and
// finish() is called only for a complete, acceptable message.
void SmtpSession::finish_message() {
    std::string line;
    bool accepted = false;
    if (data_->verdict() != DataReceiver::Verdict::ok) {
        sink_.reset();
        line = data_failure();
    } else {
        std::string rest = data_->take_pending();
        if (!sink_failed_ && !rest.empty() && !sink_.send_data(rest)) sink_failed_ = true;
        if (sink_failed_) {
            sink_.reset();
            line = "451 4.3.0 Temporary failure in the queue, try again later";
        } else {
            SubmitReply r = sink_.finish();
            line = r.line();
            accepted = r.positive();
        }
    }
    log_message(accepted ? "accepted" : "rejected", line);
    reply(line);
    tx_ = Transaction{};
    data_.reset();
    mode_ = Mode::command;
}

void SmtpSession::log_message(std::string_view status, std::string_view why) const {
    if (!log) return;
    std::string line = "message status=" + std::string(status) + " client=" + cfg_.facts.remote_ip +
                       " from=<" + log_safe(tx_.sender) + "> rcpts=" + std::to_string(tx_.rcpts_accepted) +
                       " size=" + std::to_string(data_ ? data_->size() : 0) + " reply=" + one_line(why);
    if (!auth_user_.empty()) line += " auth=" + log_safe(auth_user_);
    log(line);
}
