// SMTP and batched SMTP on standard input (sendmail -bs, -bS).
#include "submit/bsmtp.h"
#include <cctype>
#include "lib/address.h"

namespace submit {

namespace {

constexpr size_t kFlushAt = 64 * 1024;

bool verb_is(std::string_view line, std::string_view verb) {
    if (line.size() < verb.size()) return false;
    for (size_t i = 0; i < verb.size(); ++i)
        if (std::toupper(static_cast<unsigned char>(line[i])) != verb[i]) return false;
    return line.size() == verb.size() || line[verb.size()] == ' ' || line[verb.size()] == ':';
}

std::string upper(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

}  // namespace

bool smtp_params_to_submit(std::string_view smtp, bool mail, std::string* out, SubmitReply* error) {
    out->clear();
    size_t pos = 0;
    while (pos < smtp.size()) {
        size_t sp = smtp.find(' ', pos);
        std::string_view p = smtp.substr(pos, sp == smtp.npos ? smtp.npos : sp - pos);
        pos = sp == smtp.npos ? smtp.size() : sp + 1;
        if (p.empty()) continue;
        size_t eq = p.find('=');
        std::string key = upper(p.substr(0, eq));
        std::string value = eq == p.npos ? "" : std::string(p.substr(eq + 1));
        std::string add;
        if (mail && (key == "SIZE" || key == "AUTH")) continue;
        if (mail && key == "SMTPUTF8" && eq == p.npos) add = "SMTPUTF8=1";
        else if (mail && (key == "RET" || key == "ENVID" || key == "BODY") && eq != p.npos)
            add = key + "=" + value;
        else if (!mail && (key == "NOTIFY" || key == "ORCPT") && eq != p.npos)
            add = key + "=" + value;
        else {
            *error = {555, "5.5.4 Unsupported parameter " + std::string(p.substr(0, 40))};
            return false;
        }
        *out += (out->empty() ? "" : " ") + add;
    }
    return true;
}

LocalSmtp::LocalSmtp(SmtpQueue& queue, std::string me, bool batch)
    : q_(queue), me_(std::move(me)), batch_(batch) {}

std::string LocalSmtp::greeting() const { return batch_ ? "" : "220 " + me_ + " ESMTP\r\n"; }

std::string LocalSmtp::reply(const SubmitReply& r) {
    if (!r.positive()) ++failures_;
    return r.line() + "\r\n";
}

std::string LocalSmtp::fail(std::string_view text) {
    ++failures_;
    return std::string(text) + "\r\n";
}

std::string LocalSmtp::on_line(std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (done_) return "";
    return in_data_ ? data_line(line) : command(line);
}

std::string LocalSmtp::data_line(std::string_view line) {
    if (line == ".") {
        in_data_ = false;
        have_mail_ = false;
        rcpts_ = 0;
        if (!data_failed_ && !pending_.empty()) data_failed_ = !q_.send_data(pending_).ok();
        pending_.clear();
        SubmitReply r = q_.finish();
        if (r.code == 250) ++queued_;
        return reply(r);
    }
    // RFC 5321 4.5.2: a leading dot was doubled by the client.
    if (!line.empty() && line[0] == '.') line.remove_prefix(1);
    pending_.append(line);
    pending_ += '\n';
    if (pending_.size() >= kFlushAt) {
        if (!data_failed_) data_failed_ = !q_.send_data(pending_).ok();
        pending_.clear();
    }
    return "";
}

std::string LocalSmtp::command(std::string_view line) {
    if (verb_is(line, "EHLO"))
        return "250-" + me_ + "\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-DSN\r\n"
               "250-SMTPUTF8\r\n250 ENHANCEDSTATUSCODES\r\n";
    if (verb_is(line, "HELO")) return "250 " + me_ + "\r\n";
    if (verb_is(line, "NOOP")) return "250 2.0.0 Ok\r\n";
    if (verb_is(line, "VRFY")) return "252 2.5.2 Send some mail, I will try my best\r\n";
    if (verb_is(line, "QUIT")) {
        done_ = true;
        if (have_mail_) q_.reset();
        return "221 2.0.0 Bye\r\n";
    }
    if (verb_is(line, "RSET")) {
        if (have_mail_) q_.reset();
        have_mail_ = false;
        rcpts_ = 0;
        return "250 2.0.0 Ok\r\n";
    }
    bool mail = verb_is(line, "MAIL"), rcpt = verb_is(line, "RCPT");
    if (mail || rcpt) {
        std::string_view rest = line.substr(4);
        std::string_view prefix = mail ? " FROM:" : " TO:";
        if (upper(rest.substr(0, prefix.size())) != prefix) return fail("501 5.5.4 Syntax error");
        if (mail && have_mail_) return fail("503 5.5.1 Nested MAIL command");
        if (rcpt && !have_mail_) return fail("503 5.5.1 MAIL first");
        std::string why;
        auto path = parse_smtp_path(rest.substr(prefix.size()), &why);
        if (!path) return fail(std::string(mail ? "501 5.1.7 " : "501 5.1.3 ") + "Bad address syntax");
        if (rcpt && path->null_path) return fail("501 5.1.3 Bad recipient address syntax");
        std::string params;
        SubmitReply err;
        if (!smtp_params_to_submit(path->params, mail, &params, &err)) return reply(err);
        std::string addr = path->null_path ? "" : path->mailbox.str();
        SubmitReply r = mail ? q_.mail(addr, params) : q_.rcpt(addr, params);
        if (r.positive()) {
            if (mail) have_mail_ = true;
            else ++rcpts_;
        }
        return reply(r);
    }
    if (verb_is(line, "DATA")) {
        if (!have_mail_) return fail("503 5.5.1 MAIL first");
        if (rcpts_ == 0) return fail("554 5.5.1 No valid recipients");
        in_data_ = true;
        data_failed_ = false;
        pending_.clear();
        return "354 End data with <CR><LF>.<CR><LF>\r\n";
    }
    if (line.empty() && batch_) return "";
    return fail("500 5.5.2 Command not recognized");
}

std::string LocalSmtp::on_eof() {
    if (!done_ && (have_mail_ || in_data_)) {
        // A message cut off by the end of input is never queued.
        q_.reset();
        if (in_data_) ++failures_;
    }
    done_ = true;
    return "";
}

}  // namespace submit
