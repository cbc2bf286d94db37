// The I/O side of courieresmtpd: runs an SmtpSession over a LineReader (input) and a
// writer (output), applying the per-state idle timeouts, the total session limit, the
// RFC 2920 rule for when buffered replies must be written, and the STARTTLS switch
// (RFC 3207: the plaintext buffered behind STARTTLS is discarded, never executed).
#pragma once
#include <functional>
#include <optional>
#include <string_view>
#include "esmtp/smtp_session.h"
#include "lib/lineio.h"
#include "lib/tls.h"

// Writes bytes to the client; false when the client is gone or stopped reading.
using ClientWriter = std::function<bool(std::string_view)>;

struct SmtpIo {
    LineReader* in = nullptr;
    ClientWriter write;
    // Does the TLS handshake on the connection and switches `in` and `write` to it;
    // nullopt when it failed. Unset: STARTTLS cannot happen.
    std::function<std::optional<TlsInfo>()> start_tls;
    // Input already read from the socket but held below the LineReader (TLS records).
    std::function<bool()> input_pending;
    // After a read error: was it a timeout (TLS reads report timeouts as errors)?
    std::function<bool()> read_timed_out;
    // True when reads apply their own timeout (TLS), so no poll() is done first.
    std::function<bool()> reader_waits;
    // Tells the TLS layer how long its next read may wait (the LineReader's own
    // timeout applies only to plain descriptors).
    std::function<void(int)> set_read_timeout;
    int timeout_override_ms = -1;   // tests: one timeout for every state
    long session_limit_ms = 0;      // whole-session cap (ESMTP_SESSION_LIMIT); 0 = none
};

// Runs the conversation to its end (QUIT, EOF, timeout, error limit, session limit).
void run_smtp_session(SmtpSession& session, SmtpIo& io);
// The same over a plain descriptor; timeout_ms is the longest wait for each input.
void run_smtp_session(SmtpSession& session, LineReader& in, const ClientWriter& write,
                      int timeout_ms);

// Writes all of data to fd (a socket or, in tests and by hand, a pipe), waiting at most
// timeout_ms each time the peer's window is full. No SIGPIPE on a closed socket.
bool write_to_client(int fd, std::string_view data, int timeout_ms);
