// Drives SmtpSession from a LineReader and writes its replies (see smtp_server.h).
// Commands are read as bounded lines; DATA is read byte-exactly so that only a real
// <CRLF>.<CRLF> ends it (smtp_data.h), never a line end LineReader would accept.
#include "esmtp/smtp_server.h"
#include <cerrno>
#include <chrono>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {
// Replies held back for pipelining are written anyway past this size, so a client that
// pipelines without reading cannot make us buffer without bound.
constexpr size_t kMaxHeldOutput = 16 * 1024;
constexpr size_t kBdatSlice = 64 * 1024;

using Clock = std::chrono::steady_clock;

enum class Wait { ready, timeout, error };

Wait wait_for(int fd, short events, int timeout_ms) {
    struct pollfd p{fd, events, 0};
    int r;
    do r = ::poll(&p, 1, timeout_ms); while (r < 0 && errno == EINTR);
    if (r == 0) return Wait::timeout;
    return r < 0 ? Wait::error : Wait::ready;
}

bool buffered(const SmtpIo& io) { return io.in->has_buffered() || (io.input_pending && io.input_pending()); }

// RFC 2920 3.2: replies may wait while further commands are already in the input
// buffer, and must be sent when it runs dry or after a command that ends a group.
bool flush_replies(SmtpSession& s, const SmtpIo& io) {
    if (s.output().empty()) return true;
    if (!s.flush_due() && buffered(io) && s.output().size() < kMaxHeldOutput) return true;
    return io.write(s.take_output());
}

// A wait cut short by the session cap ends the session as the cap, not as idleness.
void timed_out(SmtpSession& s, bool capped) {
    if (capped) s.on_session_limit();
    else s.on_timeout();
}

void lost(SmtpSession& s, const SmtpIo& io, bool capped) {
    if (io.read_timed_out && io.read_timed_out()) timed_out(s, capped);
    else s.on_eof();
}

// Before a byte-exact read: waits for input on a plain descriptor, so that a timeout
// is told apart from the end of input (a TLS read reports it through read_timed_out).
bool wait_input(SmtpSession& s, const SmtpIo& io, int timeout_ms, bool capped) {
    if (buffered(io) || (io.reader_waits && io.reader_waits())) return true;
    Wait w = wait_for(io.in->fd(), POLLIN, timeout_ms);
    if (w == Wait::timeout) timed_out(s, capped);
    if (w == Wait::error) s.on_eof();
    return w == Wait::ready;
}

// Hands the session DATA bytes up to and including the next LF (or a chunk's worth),
// taking only what is already buffered after the first byte. Stopping at each LF means
// the bytes after the end marker stay in the LineReader for the next command.
void read_data(SmtpSession& s, const SmtpIo& io, int timeout_ms, bool capped) {
    LineReader& in = *io.in;
    if (!wait_input(s, io, timeout_ms, capped)) return;
    std::string chunk, byte;
    if (!in.read_exact(byte, 1, timeout_ms)) return lost(s, io, capped);
    chunk += byte;
    while (chunk.back() != '\n' && chunk.size() < SmtpSession::kDataChunk && in.has_buffered()) {
        if (!in.read_exact(byte, 1, 0)) break;
        chunk += byte;
    }
    s.on_data(chunk);
}

// BDAT: exactly the announced bytes, in slices.
void read_bdat(SmtpSession& s, const SmtpIo& io, int timeout_ms, bool capped) {
    if (!wait_input(s, io, timeout_ms, capped)) return;
    std::string chunk;
    size_t n = static_cast<size_t>(std::min<uint64_t>(s.bdat_remaining(), kBdatSlice));
    if (!io.in->read_exact(chunk, n, timeout_ms)) return lost(s, io, capped);
    s.on_bdat(chunk);
}

void start_tls(SmtpSession& s, SmtpIo& io) {
    // RFC 3207 4.2 / CVE-2011-0411: what the client pipelined behind STARTTLS was sent
    // in plaintext and is dropped, never executed inside the TLS session.
    io.in->discard_buffered();
    auto info = io.start_tls ? io.start_tls() : std::nullopt;
    if (info) s.on_tls_started(*info);
    else s.on_tls_failed();
}
}  // namespace

void run_smtp_session(SmtpSession& s, SmtpIo& io) {
    if (!s.closed() && s.output().empty()) s.start();
    const auto started = Clock::now();
    std::string line;
    while (!s.closed()) {
        if (!flush_replies(s, io)) {
            s.on_eof();
            break;
        }
        if (s.starttls_requested()) {
            start_tls(s, io);
            continue;
        }
        int timeout_ms = io.timeout_override_ms >= 0 ? io.timeout_override_ms : s.timeout_ms();
        bool capped = false;
        if (io.session_limit_ms > 0) {
            auto used = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
            if (used >= io.session_limit_ms) {
                s.on_session_limit();
                break;
            }
            if (io.session_limit_ms - used < timeout_ms) {
                timeout_ms = static_cast<int>(io.session_limit_ms - used);
                capped = true;
            }
        }
        if (io.set_read_timeout) io.set_read_timeout(timeout_ms);
        if (s.mode() == SmtpSession::Mode::data) {
            read_data(s, io, timeout_ms, capped);
            continue;
        }
        if (s.mode() == SmtpSession::Mode::bdat) {
            read_bdat(s, io, timeout_ms, capped);
            continue;
        }
        switch (io.in->read_line(line, timeout_ms)) {
        case LineReader::Status::line: s.on_command(line); break;
        case LineReader::Status::too_long: s.on_command_too_long(); break;
        case LineReader::Status::timeout: timed_out(s, capped); break;
        case LineReader::Status::eof: s.on_eof(); break;
        case LineReader::Status::error: lost(s, io, capped); break;
        }
    }
    // A session limit hit between reads: the 421 is still owed.
    if (!s.output().empty()) (void)io.write(s.take_output());
}

void run_smtp_session(SmtpSession& session, LineReader& in, const ClientWriter& write, int timeout_ms) {
    SmtpIo io;
    io.in = &in;
    io.write = write;
    io.timeout_override_ms = timeout_ms;
    run_smtp_session(session, io);
}

bool write_to_client(int fd, std::string_view data, int timeout_ms) {
    while (!data.empty()) {
        ssize_t n = ::send(fd, data.data(), data.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && errno == ENOTSOCK) n = ::write(fd, data.data(), data.size());
        if (n > 0) {
            data.remove_prefix(static_cast<size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_for(fd, POLLOUT, timeout_ms) != Wait::ready) return false;
            continue;
        }
        return false;
    }
    return true;
}
