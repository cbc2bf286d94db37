// The inside of libsmtpembed: CallbackSink, the MessageSink through which SmtpSession
// asks the embedding program's callbacks instead of submit, and the rules that turn a
// callback's Verdict into the reply smtpd(n) documents (550 Access denied, 553 for a
// refused sender or recipient, 554 Transaction failed, or the callback's own code).
// Pure apart from the callbacks it calls, so unit tests drive it through a real
// SmtpSession without sockets.
#pragma once
#include <ctime>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include "esmtp/embedded_smtp_server.h"
#include "esmtp/smtp_session.h"

namespace smtpembed {

// Which callback a verdict came from: each has its own documented refusal.
enum class Stage { host, sender, recipient, deliver };

// The reply for a refusing verdict (never a 2xx/3xx: a code outside 400-599 is
// replaced by the stage's own). Texts carry an RFC 3463 enhanced code, except at
// the greeting (Stage::host), which RFC 2034 exempts.
SubmitReply refusal_reply(Stage stage, const Verdict& verdict);
// The greeting that replaces 220 for a refused host: "550 Access denied: <reason>".
std::string host_refusal_line(const Verdict& verdict);
// RFC 5321 3.1 and smtpd(n): after a refused greeting the client may only QUIT; every
// other command gets 503.
struct DeniedHostAnswer {
    std::string reply;   // one line, no CRLF
    bool close = false;
};
DeniedHostAnswer answer_denied_host(std::string_view line, std::string_view me);
// RFC 5321 4.5.1: postmaster (any domain, any case) is accepted without asking.
bool is_postmaster(std::string_view address);
// Line ends of a header block made with LF (the queue's form) turned into CRLF.
std::string to_crlf(std::string_view text);

// Runs callbacks one at a time when asked to, and turns an exception into a refusal
// so that none crosses the code that writes SMTP replies.
class CallbackGate {
public:
    explicit CallbackGate(bool serialize) : serialize_(serialize) {}
    template <typename Fn, typename... Args>
    Verdict call(const Fn& fn, Args&&... args) {
        std::unique_lock<std::mutex> lock(mutex_, std::defer_lock);
        if (serialize_) lock.lock();
        try {
            return fn(std::forward<Args>(args)...);
        } catch (const std::exception& e) {
            return Verdict::refuse(e.what());
        } catch (...) {
            return Verdict::refuse("callback failed");
        }
    }

private:
    bool serialize_;
    std::mutex mutex_;
};

struct SinkSettings {
    std::string me;                                   // "by" of the Received: header
    std::function<std::string()> next_id;             // message ids
    std::function<std::time_t()> now = [] { return std::time(nullptr); };
    std::function<void(const std::string&)> log;      // unset: silent
};

class CallbackSink : public MessageSink {
public:
    CallbackSink(const Callbacks& callbacks, CallbackGate& gate, SinkSettings settings)
        : callbacks_(callbacks), gate_(gate), settings_(std::move(settings)) {}

    void set_session(std::string key, std::string value) override;
    SubmitReply mail(std::string_view sender, std::string_view params) override;
    SubmitReply rcpt(std::string_view address, std::string_view params) override;
    Status send_data(std::string_view bytes) override;
    SubmitReply finish() override;
    void reset() override;
    void quit() override {}

private:
    std::string trace_headers(const Message& m) const;
    void log(const std::string& line) const;

    const Callbacks& callbacks_;
    CallbackGate& gate_;
    SinkSettings settings_;
    std::string client_ip_, client_port_, helo_, tls_, protocol_;
    bool sender_accepted_ = false;
    std::string sender_;
    std::vector<std::string> recipients_;
    std::string data_;
};

}  // namespace smtpembed
