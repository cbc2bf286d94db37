// The I/O side of courieresmtpd: runs an SmtpSession over a LineReader (input) and a
// writer (output), applying the idle timeout and the RFC 2920 rule for when buffered
// replies must be written. Both ends are swappable (LineReader::set_reader and the
// ClientWriter), which is where STARTTLS will plug in.
#pragma once
#include <functional>
#include <string_view>
#include "esmtp/smtp_session.h"
#include "lib/lineio.h"

// Writes bytes to the client; false when the client is gone or stopped reading.
using ClientWriter = std::function<bool(std::string_view)>;

// Runs the conversation to its end (QUIT, EOF, timeout, error limit). timeout_ms is the
// longest wait for each command line and for each piece of DATA.
void run_smtp_session(SmtpSession& session, LineReader& in, const ClientWriter& write,
                      int timeout_ms);

// Writes all of data to fd (a socket or, in tests and by hand, a pipe), waiting at most
// timeout_ms each time the peer's window is full. No SIGPIPE on a closed socket.
bool write_to_client(int fd, std::string_view data, int timeout_ms);
