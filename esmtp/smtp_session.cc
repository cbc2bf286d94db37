// The ESMTP server state machine (see smtp_session.h). Replies carry RFC 3463 enhanced
// codes except the 220 greeting, the EHLO/HELO replies (RFC 2034 section 3 exempts
// them) and 354, whose class 3 has no enhanced code.
#include "esmtp/smtp_session.h"
#include <utility>
#include "lib/address.h"
#include "lib/log.h"

namespace {
// EHLO keywords (RFC 5321 4.1.1.1), in the order they are offered. STARTTLS, AUTH, DSN,
// SMTPUTF8 and CHUNKING join this table when they are implemented.
struct EhloKeyword {
    std::string_view keyword;
    std::string (*args)(const SessionConfig&);   // nullptr: the keyword alone
};
std::string size_args(const SessionConfig& c) { return std::to_string(c.size_limit); }
constexpr EhloKeyword kEhloKeywords[] = {
    {"PIPELINING", nullptr},
    {"8BITMIME", nullptr},
    {"SIZE", size_args},
    {"ENHANCEDSTATUSCODES", nullptr},
};

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
}  // namespace

SmtpSession::SmtpSession(SessionConfig config, MessageSink& sink)
    : log([](const std::string& line) { log_info(line); }), cfg_(std::move(config)), sink_(sink) {}

const std::vector<SmtpSession::CommandSpec>& SmtpSession::commands() {
    static const std::vector<CommandSpec> table = {
        {"EHLO", &SmtpSession::cmd_ehlo, true},  {"HELO", &SmtpSession::cmd_helo, true},
        {"MAIL", &SmtpSession::cmd_mail, false}, {"RCPT", &SmtpSession::cmd_rcpt, false},
        {"DATA", &SmtpSession::cmd_data, true},  {"RSET", &SmtpSession::cmd_rset, false},
        {"NOOP", &SmtpSession::cmd_noop, true},  {"QUIT", &SmtpSession::cmd_quit, true},
        {"VRFY", &SmtpSession::cmd_vrfy, true},  {"HELP", &SmtpSession::cmd_help, true},
    };
    return table;
}

void SmtpSession::start() {
    const ConnectionFacts& f = cfg_.facts;
    // Facts couriertcpd did not give (a run by hand) are left out, not sent empty.
    const std::pair<const char*, const std::string*> facts[] = {
        {"remote-ip", &f.remote_ip}, {"remote-port", &f.remote_port}, {"remote-host", &f.remote_host},
        {"local-ip", &f.local_ip},   {"local-port", &f.local_port},
    };
    for (const auto& [key, value] : facts)
        if (!value->empty()) sink_.set_session(key, *value);
    sink_.set_session("relay", f.relay_client ? "yes" : "no");
    reply("220 " + cfg_.greeting);
    flush_due_ = true;
}

std::string SmtpSession::take_output() {
    flush_due_ = false;
    return std::exchange(out_, std::string());
}

void SmtpSession::reply(std::string_view line) {
    out_ += one_line(line);
    out_ += "\r\n";
}

void SmtpSession::error_reply(std::string_view line) {
    reply(line);
    if (++errors_ >= cfg_.max_errors && !closed()) {
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

void SmtpSession::on_command(std::string_view line) {
    if (mode_ != Mode::command) return;
    CommandLine c = split_command(line);
    for (const CommandSpec& spec : commands()) {
        if (spec.verb != c.verb) continue;
        (this->*spec.handler)(c.args);
        if (spec.last_in_group) flush_due_ = true;
        return;
    }
    error_reply("500 5.5.1 Command unrecognized");
}

void SmtpSession::on_command_too_long() {
    if (mode_ == Mode::command) error_reply("500 5.5.2 Line too long");
}

void SmtpSession::on_timeout() {
    if (closed()) return;
    if (mode_ == Mode::data) log_message("aborted", "timeout in DATA");
    abort_transaction();
    reply("421 4.4.2 " + cfg_.me + " Timeout, closing connection");
    close();
}

void SmtpSession::on_eof() {
    if (closed()) return;
    if (mode_ == Mode::data) log_message("aborted", "connection lost in DATA");
    abort_transaction();
    close();
}

bool SmtpSession::greet(std::string_view args, bool esmtp) {
    std::string_view name = args.substr(0, args.find(' '));
    if (!printable_word(name)) {
        error_reply(esmtp ? "501 5.5.4 Syntax: EHLO hostname" : "501 5.5.4 Syntax: HELO hostname");
        return false;
    }
    abort_transaction();   // RFC 5321 4.1.4: EHLO/HELO also reset the transaction
    helo_seen_ = true;
    esmtp_ = esmtp;
    sink_.set_session("helo", std::string(name));
    sink_.set_session("protocol", esmtp ? "ESMTP" : "SMTP");
    return true;
}

void SmtpSession::cmd_ehlo(std::string_view args) {
    if (!greet(args, true)) return;
    std::vector<std::string> lines = {cfg_.me};
    for (const EhloKeyword& k : kEhloKeywords) {
        std::string line(k.keyword);
        if (k.args) line += " " + k.args(cfg_);
        lines.push_back(std::move(line));
    }
    for (size_t i = 0; i < lines.size(); ++i)
        reply((i + 1 < lines.size() ? "250-" : "250 ") + lines[i]);
}

void SmtpSession::cmd_helo(std::string_view args) {
    if (greet(args, false)) reply("250 " + cfg_.me);
}

void SmtpSession::cmd_mail(std::string_view args) {
    if (!helo_seen_) return error_reply("503 5.5.1 Send EHLO or HELO first");
    if (tx_.active) return error_reply("503 5.5.1 Sender already specified");
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
    std::string sender = path->null_path ? std::string() : path->mailbox.str();
    SubmitReply r = sink_.mail(sender, submit_mail_params(*params));
    reply(r.line());
    if (!r.positive()) return;
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
    if (!check_rcpt_params(path->params, &refusal)) return error_reply(refusal);
    if (tx_.rcpts_tried >= cfg_.max_recipients) return reply("452 4.5.3 Too many recipients");
    ++tx_.rcpts_tried;
    SubmitReply r = sink_.rcpt(path->mailbox.str(), "");
    reply(r.line());
    if (r.positive()) ++tx_.rcpts_accepted;
}

void SmtpSession::cmd_data(std::string_view args) {
    if (!args.empty()) return error_reply("501 5.5.4 Syntax: DATA");
    if (!tx_.active) return error_reply("503 5.5.1 Need MAIL command first");
    if (tx_.rcpts_accepted == 0) return error_reply("503 5.5.1 Need RCPT command first (no valid recipients)");
    data_.emplace(cfg_.size_limit);
    sink_failed_ = false;
    mode_ = Mode::data;
    reply("354 End data with <CR><LF>.<CR><LF>");
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

// Nothing half-received is queued: a refused message is abandoned with reset() and
// finish() is called only for a complete, acceptable message.
void SmtpSession::end_of_data() {
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
    flush_due_ = true;
}

void SmtpSession::log_message(std::string_view status, std::string_view why) const {
    if (!log) return;
    std::string line = "message status=" + std::string(status) + " client=" + cfg_.facts.remote_ip +
                       " from=<" + tx_.sender + "> rcpts=" + std::to_string(tx_.rcpts_accepted) +
                       " size=" + std::to_string(data_ ? data_->size() : 0) + " reply=" + one_line(why);
    log(line);
}
