// sendmail: the sendmail-compatible entry for local programs (sendmail(1)). Reads a
// message on stdin and queues it through submit ("local" source), or speaks SMTP on
// stdin/stdout (-bs), reads batched SMTP (-bS), lists the queue (-bp: mailq) or
// flushes it (-q: courier flush). Exit codes from sysexits.h, reasons on stderr.
// SECURITY: runs as the invoking user with no privilege of its own; submit (set-uid
// to the mail user) decides what is accepted and records the real user.
#include <pwd.h>
#include <sysexits.h>
#include <unistd.h>
#include <cstdio>
#include <ctime>
#include <exception>
#include <string>
#include <vector>
#include "config/config.h"
#include "lib/address.h"
#include "lib/fileio.h"
#include "lib/lineio.h"
#include "lib/log.h"
#include "lib/paths.h"
#include "lib/rfc5322.h"
#include "lib/submit_client.h"
#include "lib/xtext.h"
#include "submit/bsmtp.h"
#include "submit/local_headers.h"
#include "submit/received.h"
#include "submit/sendmail_options.h"

namespace {

using submit::SendmailOptions;

constexpr size_t kMaxLine = 1024 * 1024;
constexpr size_t kChunk = 64 * 1024;

int die(int code, const std::string& text) {
    std::fprintf(stderr, "sendmail: %s\n", text.c_str());
    return code;
}

// sysexits code for a refusal from submit.
int exit_for(const SubmitReply& r) { return r.code >= 500 ? EX_DATAERR : EX_TEMPFAIL; }

class ClientQueue : public submit::SmtpQueue {
public:
    explicit ClientQueue(SubmitClient& c) : c_(c) {}
    SubmitReply mail(std::string_view s, std::string_view p) override { return c_.mail(s, p); }
    SubmitReply rcpt(std::string_view a, std::string_view p) override { return c_.rcpt(a, p); }
    Status send_data(std::string_view b) override { return c_.send_data(b); }
    SubmitReply finish() override { return c_.finish(); }
    void reset() override { c_.reset(); }

private:
    SubmitClient& c_;
};

int run_smtp(bool batch, const ConfigDir& cfg) {
    SubmitClient client("local");
    client.set_session("protocol", batch ? "BSMTP" : "ESMTP");
    ClientQueue q(client);
    submit::LocalSmtp smtp(q, cfg.me(), batch);
    LineReader in(0, kMaxLine);
    auto out = [&](const std::string& s) {
        if (!batch && !s.empty()) (void)write_all(1, s);
        else if (batch && !s.empty() && s[0] != '2' && s[0] != '3') std::fputs(s.c_str(), stderr);
    };
    out(smtp.greeting());
    std::string line;
    while (!smtp.done()) {
        auto st = in.read_line(line, 60 * 60 * 1000);
        if (st == LineReader::Status::too_long) {
            out(smtp.on_line("\x7f"));   // counted as a bad command
            continue;
        }
        if (st != LineReader::Status::line) {
            smtp.on_eof();
            break;
        }
        out(smtp.on_line(line));
    }
    client.quit();
    if (batch && smtp.failures() > 0) {
        std::fprintf(stderr, "sendmail: %u message(s) queued, %u refusal(s)\n", smtp.queued(),
                     smtp.failures());
        return EX_DATAERR;
    }
    return EX_OK;
}

int exec_program(const std::string& path, std::vector<std::string> args) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(path.c_str(), argv.data());
    return die(EX_UNAVAILABLE, "cannot run " + path);
}

// Reads the header block of the message on stdin (up to the empty line); the rest
// stays in the reader. A line "." ends the message unless -i.
struct MessageInput {
    LineReader in{0, kMaxLine};
    bool ignore_dots = false;
    bool ended = false;   // "." seen or end of input
    // Next line with its LF; false at the end of the message.
    bool next(std::string& line) {
        if (ended) return false;
        auto st = in.read_line(line, -1);
        if (st == LineReader::Status::too_long) {
            line = "\n";   // an over-long line is dropped rather than split
            return true;
        }
        if (st != LineReader::Status::line) {
            ended = true;
            return false;
        }
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (!ignore_dots && line == ".") {
            ended = true;
            return false;
        }
        line += '\n';
        return true;
    }
};

int deliver(const SendmailOptions& o, const ConfigDir& cfg) {
    const struct passwd* pw = ::getpwuid(::getuid());
    std::string user = pw ? pw->pw_name : "uid" + std::to_string(::getuid());
    std::string domain = cfg.default_domain();
    std::string user_address = user + "@" + domain;
    bool force_from = ::getuid() != 0 && cfg.exists("nochangingfrom");

    MessageInput in;
    in.ignore_dots = o.ignore_dots;
    std::string header_block, line, first_body_line;
    while (in.next(line)) {
        if (line == "\n") {
            first_body_line = line;
            break;
        }
        // A first line that is not a header (mail without headers) starts the body.
        if (header_block.empty() && line.find(':') == std::string::npos && line[0] != ' ') {
            first_body_line = "\n" + line;
            break;
        }
        header_block += line;
        if (header_block.size() > 16 * 1024 * 1024) return die(EX_DATAERR, "header too large");
    }
    if (header_block.rfind("From ", 0) == 0) {
        // An mbox "From " line is not a header.
        header_block.erase(0, header_block.find('\n') + 1);
    }

    submit::LocalHeaderOptions ho;
    ho.user_address = user_address;
    ho.full_name = o.full_name;
    if (ho.full_name.empty() && pw && pw->pw_gecos) {
        std::string gecos = pw->pw_gecos;
        ho.full_name = gecos.substr(0, gecos.find(','));
    }
    auto msgid = cfg.first_line("msgidhost");
    ho.msgid_host = msgid && !msgid->empty() ? *msgid : cfg.me();
    static unsigned counter = 0;
    ho.unique = std::to_string(::time(nullptr)) + "." + std::to_string(::getpid()) + "." +
                std::to_string(++counter);
    ho.date = submit::rfc5322_date(::time(nullptr));
    ho.x_sender = cfg.exists("usexsender");
    ho.force_from = force_from;
    auto headers = submit::prepare_local_headers(header_block, ho);

    std::vector<std::string> rcpts = o.recipients;
    if (o.recipients_from_headers)
        for (auto& r : headers.rcpts) rcpts.push_back(r);
    // "a@x, b@y" as one argument (mailx passes such lists) is split like a header.
    std::vector<std::string> list;
    for (const auto& r : rcpts)
        for (auto& a : parse_address_list(r)) list.push_back(std::move(a));
    if (list.empty()) return die(EX_USAGE, "no recipients");

    std::string sender = o.sender && !force_from ? *o.sender : user_address;
    std::string mail_params;
    if (!o.ret.empty()) mail_params += "RET=" + o.ret;
    if (!o.envid.empty()) mail_params += (mail_params.empty() ? "" : " ") + ("ENVID=" + xtext_encode(o.envid));
    if (!o.body.empty()) mail_params += (mail_params.empty() ? "" : " ") + ("BODY=" + o.body);

    SubmitClient client("local");
    SubmitReply r = client.mail(sender, mail_params);
    if (!r.positive()) return die(exit_for(r), "sender <" + sender + ">: " + r.line());
    size_t accepted = 0, refused = 0;
    std::string rcpt_params = o.notify.empty() ? "" : "NOTIFY=" + o.notify;
    for (const auto& a : list) {
        SubmitReply rr = client.rcpt(a, rcpt_params);
        if (rr.positive()) {
            ++accepted;
        } else {
            ++refused;
            std::fprintf(stderr, "sendmail: <%s>: %s\n", a.c_str(), rr.line().c_str());
        }
    }
    if (accepted == 0) {
        client.quit();
        return die(EX_NOUSER, "no valid recipients, message not sent");
    }
    std::string buf = headers.block + first_body_line;
    Status st = ok_status();
    while (in.next(line)) {
        buf += line;
        if (buf.size() >= kChunk) {
            if (st) st = client.send_data(buf);
            buf.clear();
        }
    }
    if (st && !buf.empty()) st = client.send_data(buf);
    r = client.finish();
    client.quit();
    if (r.code != 250) return die(exit_for(r), "message not queued: " + r.line());
    return refused ? EX_NOUSER : EX_OK;
}

int run(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    std::string error;
    auto o = submit::parse_sendmail_args(args, &error);
    if (!o) return die(EX_USAGE, error);
    const Paths& p = paths();
    ConfigDir cfg(p.config);
    switch (o->mode) {
    case SendmailOptions::Mode::print_queue:
        return exec_program(p.bin + "/mailq", {"mailq"});
    case SendmailOptions::Mode::flush:
        return exec_program(p.sbin + "/courier", {"courier", "flush"});
    case SendmailOptions::Mode::smtp: return run_smtp(false, cfg);
    case SendmailOptions::Mode::batch_smtp: return run_smtp(true, cfg);
    case SendmailOptions::Mode::deliver: break;
    }
    return deliver(*o, cfg);
}

}  // namespace

int main(int argc, char** argv) {
    log_open("sendmail");
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        return die(EX_SOFTWARE, e.what());
    }
}
