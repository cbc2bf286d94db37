// SmtpSession: the ESMTP server conversation of one connection as a pure state machine
// (RFC 5321, RFC 1869/1870 EHLO and SIZE, RFC 2920 PIPELINING, RFC 2034/3463 enhanced
// status codes, RFC 6152 8BITMIME, RFC 3461 DSN, RFC 6531 SMTPUTF8, RFC 3030 CHUNKING,
// RFC 3207 STARTTLS, RFC 4954 AUTH). It reads command lines and DATA bytes handed to it,
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
#include "esmtp/auth_sasl.h"
#include "esmtp/smtpd_guards.h"
#include "lib/address.h"
#include "lib/submit_client.h"
#include "lib/tls.h"

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
    // couriertcpd's DNS lists (couriertcpd(1)): BLOCK non-empty refuses every RCPT
    // with its text; BLOCK set but empty is an allow-list hit (-allow, or the access
    // file), reported to submit as the session fact "dnswl" (SPF allowok).
    std::string block;
    std::string block_zone;             // BLOCK_ZONE, for the log
    std::optional<std::string> dnswl;   // BLOCK_ZONE, or "-"; nullopt: not allow-listed
};

struct SessionConfig {
    std::string me;                        // our name in replies (ConfigDir::me)
    std::string default_domain;            // for user@[our-ip] (defaultdomain, else me)
    std::string greeting;                  // text after "220 " (esmtpgreeting, or "<me> ESMTP")
    uint64_t size_limit = 10485760;        // SIZELIMIT
    size_t max_recipients = 1000;          // RFC 5321 4.5.3.1.8 asks for at least 100
    unsigned max_errors = 20;              // protocol errors before 421 and hang-up
    // Errors up to this many are answered at once; each further one waits
    // error_delay_ms more than the one before (capped at 10 steps).
    unsigned errors_before_delay = 3;
    int error_delay_ms = 1000;             // ESMTP_ERROR_DELAY
    bool tls_available = false;            // a certificate is loaded: offer STARTTLS
    std::vector<std::string> auth_plain;   // ESMTPAUTH: mechanisms offered without TLS
    std::vector<std::string> auth_tls;     // ESMTPAUTH_TLS: mechanisms offered under TLS
    bool auth_required = false;            // AUTH_REQUIRED (submission, RFC 6409)
    unsigned max_auth_failures = 3;        // failed AUTH attempts before 421
    int auth_fail_delay_ms = 1000;         // ESMTPAUTH_DELAY, times the failure count
    int command_timeout_ms = 300000;       // ESMTP_TIMEOUT (RFC 5321 4.5.3.2.7: 5 min)
    int data_timeout_ms = 180000;          // ESMTP_DATA_TIMEOUT (4.5.3.2.5: 3 min per block)
    ConnectionFacts facts;
    // Issue 10: ZMailer smtpserver(8)'s switches and guards, per listener.
    EsmtpSwitches switches;                // No8BITMIME, NoCHUNKING, ... (smtpd_guards.h)
    uint64_t min_avail_kb = 0;             // MINAVAILSPACE: 452 4.3.1 below it; 0 = off
    size_t max_null_sender_rcpts = 0;      // MAXERRORRECIPIENTS for MAIL FROM:<>; 0 = off
    double max_load = 0;                   // MAXLOADAVER: 421 4.3.2 above it; 0 = off
    HeloPatterns helo_patterns;            // esmtphelopatterns (smtpserver.conf style)
};

class SmtpSession {
public:
    enum class Mode { command, data, bdat, auth, closed };
    // Chunks of message bytes handed to submit during DATA.
    static constexpr size_t kDataChunk = 64 * 1024;

    SmtpSession(SessionConfig config, MessageSink& sink);

    void start();                              // sends the session facts, queues the 220
    void on_command(std::string_view line);    // one line from LineReader (no LF)
    void on_command_too_long();                // LineReader skipped an over-long line
    size_t on_data(std::string_view bytes);    // DATA bytes; returns how many were used
    void on_timeout();                         // idle too long: 421 and close
    void on_session_limit();                   // the whole session took too long
    void on_eof();                             // the client went away
    // BDAT: bytes of the current chunk still to read, and handing them over.
    uint64_t bdat_remaining() const { return bdat_remaining_; }
    void on_bdat(std::string_view bytes);
    // How long to wait for the client's next input in the current state.
    int timeout_ms() const;

    // STARTTLS: after the 220 reply is written, the I/O layer does the handshake
    // (discarding any plaintext the client sent after STARTTLS) and reports it.
    bool starttls_requested() const { return starttls_requested_; }
    void on_tls_started(const TlsInfo& info);   // also for implicit TLS, before start()
    void on_tls_failed();
    bool tls_active() const { return tls_; }

    // Credentials backend for AUTH; without one AUTH is not offered.
    void set_auth_backend(esmtp::AuthBackend* backend) { auth_backend_ = backend; }
    const std::string& authenticated_user() const { return auth_user_; }

    Mode mode() const { return mode_; }
    bool closed() const { return mode_ == Mode::closed; }
    // Replies not yet written. flush_due(): RFC 2920 says they must go out now even if
    // more pipelined commands are waiting (after EHLO, DATA, QUIT, ...).
    const std::string& output() const { return out_; }
    bool flush_due() const { return flush_due_; }
    std::string take_output();

    // One log line per message; log_info by default, replaceable by tests.
    std::function<void(const std::string&)> log;
    // Waits before an error reply (growing delays); sleeps by default.
    std::function<void(int ms)> pause;
    // Probes for the guards; unset, the guard is off. Free space of the spool file
    // system in kilobytes, and the one-minute load average.
    std::function<std::optional<uint64_t>()> spool_available_kb;
    std::function<std::optional<double>()> load_average;
    // ETRN (RFC 1985): asks courierd to flush the mail for a domain ("@d" for its
    // subdomains too); false when the request could not be passed on (458). Unset:
    // ETRN is neither offered nor accepted.
    std::function<bool(const std::string& domain)> request_etrn;

private:
    struct Transaction {
        bool active = false;        // MAIL accepted
        std::string sender;         // "" for <>
        MailParams params;
        size_t rcpts_tried = 0, rcpts_accepted = 0;
        bool bdat_used = false;     // BDAT chunks were sent: DATA is out of order
    };
    // AUTH exchange in progress (Mode::auth).
    struct AuthExchange {
        std::string mechanism;
        int step = 0;
        std::string user, challenge;
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
    void cmd_starttls(std::string_view args);
    void cmd_auth(std::string_view args);
    void cmd_bdat(std::string_view args);
    void cmd_etrn(std::string_view args);

    std::vector<std::string> auth_offered() const;
    void auth_step(std::string_view response);
    void auth_finish(esmtp::AuthBackend::Verdict v, const std::string& user);
    void auth_challenge(std::string_view text);
    std::string protocol() const;
    void send_protocol();
    std::optional<std::string> check_address(Mailbox& m, bool utf8, std::string_view what);
    void end_of_bdat(bool last);

    bool greet(std::string_view args, bool esmtp);
    void end_of_data();
    void finish_message();
    std::string data_failure() const;
    void abort_transaction();
    void log_message(std::string_view status, std::string_view reply) const;
    void reply(std::string_view line);            // one full reply line, CRLF added
    // A policy refusal: logged with the rule that made it, then answered.
    void refuse(std::string_view rule, std::string_view line);
    std::optional<std::string> storage_refusal(uint64_t declared_size);
    std::optional<std::string> switch_refusal(const MailParams& p) const;
    bool pipelining_offered() const;
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
    bool tls_ = false, starttls_requested_ = false;
    TlsInfo tls_info_;
    esmtp::AuthBackend* auth_backend_ = nullptr;
    std::string auth_user_;
    unsigned auth_failures_ = 0;
    AuthExchange auth_;
    uint64_t bdat_remaining_ = 0;
    bool bdat_last_ = false;
    bool bdat_discard_ = false;    // chunk read only to stay in sync (no transaction)
    HeloPolicy helo_policy_;       // what the esmtphelopatterns rule for this name asks
};
