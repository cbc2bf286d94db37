// libsmtpembed: an SMTP server a program embeds to receive mail itself, modelled on
// tcllib's smtpd(n) (callbacks validate_host, validate_sender, validate_recipient and
// deliver, with its reply codes) but running courieresmtpd's own protocol engine
// (SmtpSession: ESMTP, PIPELINING, SIZE, 8BITMIME, SMTPUTF8, CHUNKING, STARTTLS).
// Manual: smtpembed(3) and doc/embedding.md. This header is installed and includes
// only the standard library, so programs outside this tree can use it.
//
// THREADING: one thread per connection, plus one that accepts. The engine's I/O layer
// (run_smtp_session) is blocking by design, and a deliver callback may take as long as
// it likes (write files, call other services) without stalling other clients; a poll
// loop would need both to be non-blocking. Callbacks therefore run on session threads;
// with Options::serialize_callbacks (the default) no two run at the same time, so
// lambdas may touch shared state without locks, as smtpd(n)'s callbacks could.
// SECURITY: everything a callback receives comes from the network. The library never
// changes the process's signal dispositions (SIGPIPE is blocked in its own threads).
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace smtpembed {

// A callback's answer. refuse() gives the reply smtpd(n) documents for that callback;
// reply() sends a code (4xx or 5xx) and text of the caller's choosing, as smtpd(n)'s
// deliver may through errorCode. A callback that throws is treated as refuse(what()).
class Verdict {
public:
    static Verdict accept() { return Verdict(0, {}); }
    static Verdict refuse(std::string reason = {}) { return Verdict(-1, std::move(reason)); }
    static Verdict reply(int code, std::string text) { return Verdict(code, std::move(text)); }
    bool accepted() const { return code_ == 0; }
    bool has_own_code() const { return code_ > 0; }
    int code() const { return code_; }
    const std::string& text() const { return text_; }

private:
    Verdict(int code, std::string text) : code_(code), text_(std::move(text)) {}
    int code_;            // 0 accept, -1 the documented refusal, else the reply code
    std::string text_;
};

// One message, as handed to deliver.
struct Message {
    std::string id;                        // also in the 250 reply and the Received: header
    std::string client_ip, client_port;
    std::string helo;                      // the client's EHLO/HELO name
    std::string sender;                    // "" for the null reverse-path <>
    std::vector<std::string> recipients;   // accepted ones only, in RCPT order
    std::string tls;                       // "TLSv1.3 TLS_AES_256_GCM_SHA384 256", "" in clear
    // Return-Path: and Received: headers, then the message as received: CRLF line
    // ends, dot-stuffing undone.
    std::string data;
};

struct Callbacks {
    // Called with the client's address before the greeting (smtpd(n) validate_host).
    std::function<Verdict(const std::string& client_ip)> validate_host;
    // MAIL FROM (smtpd(n) validate_sender); "" for the null sender <>.
    std::function<Verdict(const std::string& sender)> validate_sender;
    // RCPT TO (smtpd(n) validate_recipient); not called for postmaster, which RFC 5321
    // 4.5.1 says must always be accepted.
    std::function<Verdict(const std::string& recipient)> validate_recipient;
    // At the end of DATA (or BDAT LAST). Unset: messages are accepted and dropped.
    std::function<Verdict(const Message& message)> deliver;
};

struct Options {
    std::string address = "127.0.0.1";   // "" = every interface (smtpd(n)'s default)
    uint16_t port = 25;                  // 0 = a free port, see Server::port()
    std::string server_name;             // in the greeting and replies; "" = host name
    std::string banner = "ESMTP";        // greeting text after the server name
    // PEM certificate and key (key "" = inside the certificate file): STARTTLS is
    // offered when set. implicit_tls: TLS from the first byte (RFC 8314, port 465).
    std::string tls_cert_file, tls_key_file;
    bool implicit_tls = false;
    uint64_t size_limit = 10485760;      // SIZE; larger messages get 552
    size_t max_recipients = 1000;
    unsigned max_connections = 20;       // further clients get 421 and are closed
    int command_timeout_ms = 300000;     // RFC 5321 4.5.3.2
    int data_timeout_ms = 180000;
    // Pause before each protocol error past the third (courieresmtpd uses 1000 to slow
    // abusive clients; a test server wants none).
    int error_delay_ms = 0;
    bool serialize_callbacks = true;     // see THREADING above
    // One line per event (connection, message, refusal); unset = silent. Called from
    // the session threads, possibly at the same time (not under serialize_callbacks).
    std::function<void(const std::string&)> log;
};

class Server {
public:
    Server(Options options, Callbacks callbacks);
    ~Server();                           // stop()
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Binds and starts accepting. False (with the reason in *why) when the address
    // cannot be bound, the TLS files cannot be loaded, or the server already runs.
    bool start(std::string* why = nullptr);
    // The port bound (useful after port 0); 0 when not running.
    uint16_t port() const;
    bool running() const;
    size_t active_sessions() const;
    // Stops accepting at once, lets open sessions finish for up to `grace`, then
    // disconnects the rest and waits for their threads (a deliver callback that is
    // running completes first). Safe to call twice; not from inside a callback.
    void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(0));

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace smtpembed
