// CallbackSink and the verdict-to-reply rules of libsmtpembed (see embedded_callbacks.h).
// The codes follow tcllib smtpd(n) and its source: 550 for a refused host, 553 for a
// refused sender or recipient (whose reason is logged, not sent), 554 "Transaction
// failed: <reason>" for a failed delivery.
#include "esmtp/embedded_callbacks.h"
#include <cctype>
#include "lib/log.h"
#include "submit/received.h"

namespace smtpembed {
namespace {
// A callback's text reaches the client as one line of printable ASCII.
std::string reply_text(std::string_view s) {
    std::string out;
    for (char c : s.substr(0, 400)) {
        auto u = static_cast<unsigned char>(c);
        out.push_back(u >= 0x20 && u < 0x7f ? c : ' ');
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
}

// "5.1.1 text": the text already starts with an RFC 3463 code of the reply's class.
bool has_enhanced_code(std::string_view text, int code) {
    if (text.size() < 6 || text[0] != static_cast<char>('0' + code / 100) || text[1] != '.') return false;
    size_t i = 2, dots = 0;
    for (; i < text.size() && text[i] != ' '; ++i) {
        if (text[i] == '.') ++dots;
        else if (!std::isdigit(static_cast<unsigned char>(text[i]))) return false;
    }
    return dots == 1 && text[i - 1] != '.';
}

SubmitReply stage_default(Stage stage, const std::string& reason) {
    switch (stage) {
    case Stage::host:
        return {550, reason.empty() ? "Access denied" : "Access denied: " + reason};
    case Stage::sender:
    case Stage::recipient:
        // smtpd(n): "The content of any error message will not be passed back".
        return {553, "5.7.1 Requested action not taken: mailbox name not allowed"};
    case Stage::deliver:
        return {554, reason.empty() ? "5.0.0 Transaction failed" : "5.0.0 Transaction failed: " + reason};
    }
    return {554, "5.0.0 Transaction failed"};
}
}  // namespace

SubmitReply refusal_reply(Stage stage, const Verdict& verdict) {
    std::string text = reply_text(verdict.text());
    if (!verdict.has_own_code() || verdict.code() < 400 || verdict.code() > 599)
        return stage_default(stage, text);
    int code = verdict.code();
    if (text.empty()) text = code < 500 ? "Try again later" : "Refused";
    if (stage != Stage::host && !has_enhanced_code(text, code))
        text = std::to_string(code / 100) + ".0.0 " + text;
    return {code, text};
}

std::string host_refusal_line(const Verdict& verdict) { return refusal_reply(Stage::host, verdict).line(); }

DeniedHostAnswer answer_denied_host(std::string_view line, std::string_view me) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    std::string verb;
    for (char c : line) verb.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    if (verb == "QUIT") return {"221 2.0.0 " + std::string(me) + " closing connection", true};
    return {"503 5.5.1 Bad sequence of commands: access denied", false};
}

bool is_postmaster(std::string_view address) {
    std::string_view local = address.substr(0, address.rfind('@'));
    if (local.size() != 10) return false;
    std::string lower;
    for (char c : local) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    return lower == "postmaster";
}

std::string to_crlf(std::string_view text) {
    std::string out;
    out.reserve(text.size() + text.size() / 40);
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) out += '\r';
        out += text[i];
    }
    return out;
}

void CallbackSink::set_session(std::string key, std::string value) {
    if (key == "remote-ip") client_ip_ = std::move(value);
    else if (key == "remote-port") client_port_ = std::move(value);
    else if (key == "helo") helo_ = std::move(value);
    else if (key == "tls") tls_ = std::move(value);
    else if (key == "protocol") protocol_ = std::move(value);
}

void CallbackSink::log(const std::string& line) const {
    if (settings_.log) settings_.log(line);
}

SubmitReply CallbackSink::mail(std::string_view sender, std::string_view) {
    reset();
    std::string who(sender);
    Verdict v = callbacks_.validate_sender ? gate_.call(callbacks_.validate_sender, who) : Verdict::accept();
    if (!v.accepted()) {
        SubmitReply r = refusal_reply(Stage::sender, v);
        log("sender refused client=" + client_ip_ + " from=<" + log_safe(who) + "> reason=" + log_safe(v.text()) +
            " reply=" + std::to_string(r.code));
        return r;
    }
    sender_accepted_ = true;
    sender_ = std::move(who);
    return {250, "2.1.0 Sender ok"};
}

SubmitReply CallbackSink::rcpt(std::string_view address, std::string_view) {
    if (!sender_accepted_) return {503, "5.5.1 Need MAIL command first"};
    std::string rcpt(address);
    Verdict v = Verdict::accept();
    if (callbacks_.validate_recipient && !is_postmaster(rcpt)) v = gate_.call(callbacks_.validate_recipient, rcpt);
    if (!v.accepted()) {
        SubmitReply r = refusal_reply(Stage::recipient, v);
        log("recipient refused client=" + client_ip_ + " to=<" + log_safe(rcpt) + "> reason=" + log_safe(v.text()) +
            " reply=" + std::to_string(r.code));
        return r;
    }
    recipients_.push_back(std::move(rcpt));
    return {250, "2.1.5 Recipient ok"};
}

Status CallbackSink::send_data(std::string_view bytes) {
    data_.append(bytes);
    return ok_status();
}

// RFC 5321 4.4: a server that takes the message in adds its Received: line; this one
// also delivers it, so Return-Path: records the envelope sender, as smtpd(n) does.
std::string CallbackSink::trace_headers(const Message& m) const {
    submit::ReceivedInfo info;
    info.helo = helo_;
    info.remote_ip = client_ip_;
    info.me = settings_.me;
    info.protocol = submit::received_protocol(protocol_, "esmtp", !tls_.empty(), false);
    info.qid = m.id;
    if (m.recipients.size() == 1) info.for_rcpt = m.recipients.front();
    info.tls = tls_;
    info.when = settings_.now();
    return "Return-Path: <" + m.sender + ">\r\n" + to_crlf(submit::format_received(info));
}

SubmitReply CallbackSink::finish() {
    Message m;
    m.id = settings_.next_id ? settings_.next_id() : "0";
    m.client_ip = client_ip_;
    m.client_port = client_port_;
    m.helo = helo_;
    m.sender = sender_;
    m.recipients = recipients_;
    m.tls = tls_;
    m.data = trace_headers(m) + data_;
    size_t size = data_.size();
    reset();
    Verdict v = callbacks_.deliver ? gate_.call(callbacks_.deliver, m) : Verdict::accept();
    std::string facts = "client=" + client_ip_ + " id=" + m.id + " from=<" + log_safe(m.sender) +
                        "> rcpts=" + std::to_string(m.recipients.size()) + " size=" + std::to_string(size);
    if (!v.accepted()) {
        SubmitReply r = refusal_reply(Stage::deliver, v);
        log("delivery failed " + facts + " reason=" + log_safe(v.text()) + " reply=" + std::to_string(r.code));
        return r;
    }
    log("delivered " + facts);
    return {250, "2.0.0 " + m.id + " Message accepted for delivery"};
}

void CallbackSink::reset() {
    sender_accepted_ = false;
    sender_.clear();
    recipients_.clear();
    data_.clear();
}

}  // namespace smtpembed
