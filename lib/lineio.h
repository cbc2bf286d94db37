// LineReader: bounded, buffered line input from a descriptor. Used by every line
// protocol (SMTP, submit, module pipes). A line longer than the limit is reported as
// such and skipped up to its end, so the reader never loses sync with the peer.
#pragma once
#include <string>
#include <string_view>
#include "lib/result.h"

class LineReader {
public:
    enum class Status { line, too_long, eof, error, timeout };

    LineReader(int fd, size_t max_line) : fd_(fd), max_line_(max_line) {}

    // Reads one line into `line` without its LF (a CR before the LF is kept: SMTP
    // callers need to see it). timeout_ms < 0 waits for ever.
    Status read_line(std::string& line, int timeout_ms = -1);
    // Up to max bytes: what is buffered, else one read. Returns the count, 0 at EOF,
    // -1 on error or timeout. For byte-exact streams (SMTP DATA) that must not be
    // split into lines. Must not be called while a partial line is pending.
    long read_some(char* out, size_t max, int timeout_ms = -1);
    // Reads exactly n bytes (used after a chunk header); false on EOF/error/timeout.
    bool read_exact(std::string& out, size_t n, int timeout_ms = -1);
    // True when a complete line or more bytes are already buffered: SMTP PIPELINING
    // uses it to decide when replies must be flushed, and STARTTLS to refuse
    // plaintext sent ahead of the handshake.
    bool has_buffered() const { return pos_ < buf_.size(); }
    void discard_buffered() { buf_.clear(); pos_ = 0; }
    int fd() const { return fd_; }
    // For TLS: replace how bytes are read (returns bytes read, 0 at EOF, -1 error).
    using ReadFn = long (*)(void* ctx, char* buf, size_t len);
    void set_reader(ReadFn fn, void* ctx) { read_fn_ = fn; read_ctx_ = ctx; }

private:
    Status fill(int timeout_ms);
    int fd_;
    size_t max_line_;
    std::string buf_;
    size_t pos_ = 0;
    // Set while discarding the rest of an over-long line; kept across calls so that a
    // read that times out in the middle of such a line does not lose track of it.
    bool skipping_ = false;
    std::string partial_;   // start of a line whose end has not arrived yet
    ReadFn read_fn_ = nullptr;
    void* read_ctx_ = nullptr;
};
