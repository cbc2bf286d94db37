// SmtpSession: the ESMTP server conversation of one connection as a pure state machine
// (RFC 5321, RFC 1869/1870 EHLO and SIZE, RFC 2920 PIPELINING, RFC 2034/3463 enhanced
// status codes, RFC 6152 8BITMIME). It reads command lines and DATA bytes handed to it,
// produces replies into an output buffer and talks to submit through MessageSink, so
// unit tests drive it without sockets or processes. esmtp/smtp_server.h does the I/O.
// SECURITY: every byte it receives is from the network; the recipient policy (local,
// unknown user, relaying) is submit's, whose replies are passed on unchanged.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include "esmtp/smtp_command.h"
#include "esmtp/smtp_data.h"
#include "lib/submit_client.h"

// "submit" as the session sees it: SubmitClient in the program, a fake in tests.
class MessageSink {
public:
    virtual ~MessageSink() = default;
    virtual void set_session(std::string key, std::string value) = 0;
    virtual SubmitReply mail(std::string_view sender, std::string_view params) = 0;
    virtual SubmitReply rcpt(std::string_view address, std::string_view params) = 0;
    virtual Status send_data(std::string_view bytes) = 0;
    virtual SubmitReply finish() = 0;
    virtual void reset() = 0;
    virtual void quit() = 0;
};

// Facts about the connection, from couriertcpd's environment.
struct ConnectionFacts {
    std::string remote_ip, remote_port, remote_host;
    std::string local_ip, local_port;
    bool relay_client = false;   // RELAYCLIENT was set: submit may accept relaying
    std::string vhost;           // key of the vhost.<key> file in force, or ""
};

struct SessionConfig {
    std::string me;                        // our name in replies (ConfigDir::me)
    std::string greeting;                  // text after "220 " (esmtpgreeting, or "<me> ESMTP")
    uint64_t size_limit = 10485760;        // SIZELIMIT
    size_t max_recipients = 1000;          // RFC 5321 4.5.3.1.8 asks for at least 100
    unsigned max_errors = 20;              // protocol errors before 421 and hang-up
    ConnectionFacts facts;
};

class SmtpSession {
public:
    enum class Mode { command, data, closed };
    // Chunks of message bytes handed to submit during DATA.
    static constexpr size_t kDataChunk = 64 * 1024;

    SmtpSession(SessionConfig config, MessageSink& sink);

    void start();                              // sends the session facts, queues the 220
    void on_command(std::string_view line);    // one line from LineReader (no LF)
    void on_command_too_long();                // LineReader skipped an over-long line
    size_t on_data(std::string_view bytes);    // DATA bytes; returns how many were used
    void on_timeout();                         // idle too long: 421 and close
    void on_eof();                             // the client went away

    Mode mode() const { return mode_; }
    bool closed() const { return mode_ == Mode::closed; }
    // Replies not yet written. flush_due(): RFC 2920 says they must go out now even if
    // more pipelined commands are waiting (after EHLO, DATA, QUIT, ...).
    const std::string& output() const { return out_; }
    bool flush_due() const { return flush_due_; }
    std::string take_output();

    // One log line per message; log_info by default, replaceable by tests.
    std::function<void(const std::string&)> log;

private:
    struct Transaction {
        bool active = false;        // MAIL accepted
        std::string sender;         // "" for <>
        MailParams params;
        size_t rcpts_tried = 0, rcpts_accepted = 0;
    };
    struct CommandSpec {
        std::string_view verb;
        void (SmtpSession::*handler)(std::string_view args);
        bool last_in_group;         // RFC 2920 3.1: its reply is flushed at once
    };
    static const std::vector<CommandSpec>& commands();

    void cmd_ehlo(std::string_view args);
    void cmd_helo(std::string_view args);
    void cmd_mail(std::string_view args);
    void cmd_rcpt(std::string_view args);
    void cmd_data(std::string_view args);
    void cmd_rset(std::string_view args);
    void cmd_noop(std::string_view args);
    void cmd_quit(std::string_view args);
    void cmd_vrfy(std::string_view args);
    void cmd_help(std::string_view args);

    bool greet(std::string_view args, bool esmtp);
    void end_of_data();
    std::string data_failure() const;
    void abort_transaction();
    void log_message(std::string_view status, std::string_view reply) const;
    void reply(std::string_view line);            // one full reply line, CRLF added
    void error_reply(std::string_view line);      // a protocol error: counted
    void close();

    SessionConfig cfg_;
    MessageSink& sink_;
    Mode mode_ = Mode::command;
    std::string out_;
    bool flush_due_ = false;
    bool helo_seen_ = false, esmtp_ = false;
    unsigned errors_ = 0;
    Transaction tx_;
    std::optional<DataReceiver> data_;
    bool sink_failed_ = false;     // send_data failed during this DATA
};
