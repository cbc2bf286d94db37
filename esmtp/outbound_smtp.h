// The SMTP client side of courieresmtp: one connection (plain, STARTTLS or SMTPS),
// reply parsing (RFC 5321 4.2), EHLO keywords, the MAIL/RCPT parameters passed on
// (SIZE, BODY, SMTPUTF8 and DSN: RFC 1870, 6152, 6531, 3461), message encoding for
// DATA (CRLF, dot-stuffing) and BDAT (RFC 3030), and the SASL client mechanisms
// (PLAIN, LOGIN, CRAM-MD5) for esmtpauthclient.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include "lib/lineio.h"
#include "lib/module_protocol.h"
#include "lib/queue.h"
#include "lib/result.h"
#include "lib/tls.h"
#include "lib/unique_fd.h"

namespace outbound {

struct Reply {
    int code = 0;                      // 0: no reply (connection lost / timeout)
    std::vector<std::string> lines;    // text after "NNN-" / "NNN "
    // "NNN text" with the lines joined by "; " (one log/notice line).
    std::string text() const;
    bool positive() const { return code >= 200 && code < 400; }
    bool transient() const { return code >= 400 && code < 500; }
};

// Incremental multi-line reply parser: feed lines (without CRLF) until done.
class ReplyParser {
public:
    // true when `line` completed the reply; false if more lines follow. Malformed
    // lines set *bad.
    bool feed(std::string_view line, bool* bad);
    Reply take();
private:
    Reply cur_;
};

struct Capabilities {
    bool esmtp = false, pipelining = false, starttls = false, eightbitmime = false;
    bool dsn = false, smtputf8 = false, chunking = false;
    bool requiretls = false;           // RFC 8689 (meaningful after STARTTLS)
    bool size_ext = false;             // SIZE offered
    uint64_t size = 0;                 // SIZE limit, 0 = none given
    std::vector<std::string> auth;     // mechanisms, upper case
};
Capabilities parse_ehlo(const Reply& r);
// The result of a recipient the peer accepted: a peer without DSN takes no responsibility
// for success notices, so this MTA owes a "relayed" one (RFC 3461 5.2.2).
DeliveryStatus accepted_status(const Capabilities& peer);

// LF-stored message → DATA payload: CRLF lines, leading dots doubled, a final CRLF
// when missing, and the terminating ".\r\n".
std::string encode_for_data(std::string_view message);
// LF-stored message → CRLF lines (BDAT, no dot-stuffing).
std::string encode_crlf(std::string_view message);
bool has_8bit(std::string_view s);

// "MAIL FROM:<...> ..." and "RCPT TO:<...> ..." with the parameters the peer accepts.
std::string mail_command(const QueueEnvelope& env, const Capabilities& caps, uint64_t size, bool body8);
std::string rcpt_command(const std::string& address, const QueueRecipient* rcpt, const Capabilities& caps);

// esmtpauthclient: "relay userid password" lines; the entry for any of the names.
struct AuthEntry { std::string relay, user, password; };
std::optional<AuthEntry> find_auth_entry(const std::vector<std::string>& lines,
                                         const std::vector<std::string>& names);
// The mechanism to use: CRAM-MD5, then PLAIN, then LOGIN; "" when none is shared.
std::string choose_auth_mechanism(const std::vector<std::string>& offered);
std::string base64_encode(std::string_view in);
std::optional<std::string> base64_decode(std::string_view in);
// CRAM-MD5 (RFC 2195): base64("user hex(hmac-md5(password, challenge)))").
std::string cram_md5_response(std::string_view user, std::string_view password, std::string_view challenge);

// A TCP connection to address:port (from `source` when not empty) within timeout_s;
// the descriptor is left blocking. Also used for the MTA-STS policy fetch.
Result<UniqueFd> connect_tcp(const std::string& address, unsigned port, const std::string& source,
                             long timeout_s);

// One connection to a mail server.
class Connection {
public:
    // Connects to address:port, from `source` when not empty, within timeout_s.
    static Result<Connection> open(const std::string& address, unsigned port, const std::string& source,
                                   long timeout_s);
    Connection(Connection&&) noexcept;
    Connection& operator=(Connection&&) noexcept;
    ~Connection();

    Status send(std::string_view data, long timeout_s);
    Reply read_reply(long timeout_s);               // code 0 on loss/timeout/garbage
    // TLS handshake (after "220" to STARTTLS, or at once for SMTPS); with `dane`, the
    // peer is checked against its TLSA records (the verdict is in tls()->info()).
    Status start_tls(const TlsContext& ctx, const std::string& sni, long timeout_s,
                     const TlsDane* dane = nullptr);
    bool tls_active() const { return tls_ != nullptr; }
    const TlsConnection* tls() const { return tls_.get(); }
    bool has_buffered_input() const { return reader_->has_buffered(); }
    std::string local_address() const;
    const std::string& last_error() const { return error_; }
    void close(long quit_timeout_s);                 // QUIT (best effort) and close

private:
    Connection() = default;
    UniqueFd fd_;
    std::unique_ptr<TlsConnection> tls_;
    std::unique_ptr<LineReader> reader_;
    std::string error_;
};

}  // namespace outbound
