// Drives SmtpSession from a LineReader and writes its replies (see smtp_server.h).
// Commands are read as bounded lines; DATA is read byte-exactly so that only a real
// <CRLF>.<CRLF> ends it (smtp_data.h), never a line end LineReader would accept.
#include "esmtp/smtp_server.h"
#include <cerrno>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {
// Replies held back for pipelining are written anyway past this size, so a client that
// pipelines without reading cannot make us buffer without bound.
constexpr size_t kMaxHeldOutput = 16 * 1024;

enum class Wait { ready, timeout, error };

Wait wait_for(int fd, short events, int timeout_ms) {
    struct pollfd p{fd, events, 0};
    int r;
    do r = ::poll(&p, 1, timeout_ms); while (r < 0 && errno == EINTR);
    if (r == 0) return Wait::timeout;
    return r < 0 ? Wait::error : Wait::ready;
}

// RFC 2920 3.2: replies may wait while further commands are already in the input
// buffer, and must be sent when it runs dry or after a command that ends a group.
bool flush_replies(SmtpSession& s, const LineReader& in, const ClientWriter& write) {
    if (s.output().empty()) return true;
    if (!s.flush_due() && in.has_buffered() && s.output().size() < kMaxHeldOutput) return true;
    return write(s.take_output());
}

// Hands the session DATA bytes up to and including the next LF (or a chunk's worth),
// taking only what is already buffered after the first byte. Stopping at each LF means
// the bytes after the end marker stay in the LineReader for the next command.
// LineReader has no "read what is available" call, so bytes are taken one at a time
// with read_exact; they come from its buffer, so this costs no system calls.
void read_data(SmtpSession& s, LineReader& in, int timeout_ms) {
    if (!in.has_buffered()) {
        Wait w = wait_for(in.fd(), POLLIN, timeout_ms);
        if (w == Wait::timeout) return s.on_timeout();
        if (w == Wait::error) return s.on_eof();
    }
    std::string chunk, byte;
    if (!in.read_exact(byte, 1, timeout_ms)) return s.on_eof();
    chunk += byte;
    while (chunk.back() != '\n' && chunk.size() < SmtpSession::kDataChunk && in.has_buffered()) {
        if (!in.read_exact(byte, 1, 0)) break;
        chunk += byte;
    }
    s.on_data(chunk);
}
}  // namespace

void run_smtp_session(SmtpSession& s, LineReader& in, const ClientWriter& write, int timeout_ms) {
    s.start();
    std::string line;
    while (!s.closed()) {
        if (!flush_replies(s, in, write)) {
            s.on_eof();
            break;
        }
        if (s.mode() == SmtpSession::Mode::data) {
            read_data(s, in, timeout_ms);
            continue;
        }
        switch (in.read_line(line, timeout_ms)) {
        case LineReader::Status::line: s.on_command(line); break;
        case LineReader::Status::too_long: s.on_command_too_long(); break;
        case LineReader::Status::timeout: s.on_timeout(); break;
        case LineReader::Status::eof:
        case LineReader::Status::error: s.on_eof(); break;
        }
    }
    if (!s.output().empty()) (void)write(s.take_output());
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
