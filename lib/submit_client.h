// SubmitClient: the caller's side of the submit protocol. courieresmtpd, sendmail,
// courierd's notices and courierlocal's forwarding all enter the queue through this
// one class, which runs the submit program and speaks the protocol of
// doc/architecture.md, "The submit protocol".
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <memory>
#include <vector>
#include "lib/lineio.h"
#include "lib/process.h"
#include "lib/result.h"

// A reply from submit: an SMTP code and the text after it ("2.1.5 Ok" style).
struct SubmitReply {
    int code = 0;
    std::string text;        // enhanced status code and text, e.g. "2.0.0 Ok: queued as X"
    bool positive() const { return code >= 200 && code < 400; }
    std::string line() const { return std::to_string(code) + " " + text; }
};

class SubmitClient {
public:
    // source: esmtp, local, dsn or forward. program: path of submit (default: libexec).
    explicit SubmitClient(std::string source, std::string program = "");

    // Session facts, sent before the first message (and again when they change):
    // remote-ip, remote-host, remote-port, helo, local-ip, local-port, protocol,
    // auth, tls, relay ("yes" or "no").
    void set_session(std::string key, std::string value);

    // Each call returns submit's reply; a submit that cannot be started or dies gives
    // a 451 4.3.0 reply, never an exception, so SMTP callers can pass it on.
    SubmitReply mail(std::string_view sender, std::string_view params);
    SubmitReply rcpt(std::string_view address, std::string_view params);
    // Message bytes are streamed in chunks (the first one also sends "data"); a
    // failed send_data means submit died: call finish() anyway to get the 451. finish() sends the end marker and returns
    // the final reply (250 with the queue id only once the message is durable).
    Status send_data(std::string_view bytes);
    SubmitReply finish();
    void reset();    // abandon the current message ("rset")
    void quit();     // ends the submit process

private:
    Status ensure_started();
    SubmitReply round_trip(const std::string& line);
    SubmitReply broken(const std::string& why);
    SubmitReply settle_lost_reply(const std::string& qid);
    std::string source_, program_;
    std::vector<std::pair<std::string, std::string>> session_;
    bool session_sent_ = false;
    bool in_data_ = false;     // "data" was sent for the message in progress
    ChildProcess child_;
    std::unique_ptr<LineReader> reader_;
};
