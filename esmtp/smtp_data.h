// DataReceiver: the byte-level reader of the SMTP DATA stream (RFC 5321 4.1.4, 4.5.2).
// It finds the end of the message, undoes dot-stuffing and judges the content, but
// never decides alone what is queued: the session asks verdict() at the end.
//
// Policy (SMTP smuggling, CVE-2023-51764/51765/51766): only <CRLF>.<CRLF> ends DATA.
// A lone LF or CR is never a line end here, so "<LF>.<LF>", "<LF>.<CRLF>" and
// "<CR>.<CR>" are message content. Because a relay in front of us may read such bytes
// differently, a message holding any bare LF or bare CR is read to its real end and
// then refused as a whole (550 5.5.2); it is never queued in part or repaired.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

class DataReceiver {
public:
    // What the content looks like once the end was found, worst first.
    enum class Verdict {
        ok,
        bare_line_end,   // a CR or LF that is not part of a CRLF pair: 550 5.5.2
        nul,             // a NUL byte: 550 5.6.0
        long_line,       // a text line over 1000 octets with its CRLF: 552 5.5.2
        too_big,         // more than the size limit: 552 5.3.4
    };

    // RFC 5321 4.5.3.1.6: 1000 octets including CRLF, not counting a stuffing dot.
    static constexpr size_t kMaxTextLine = 998;

    explicit DataReceiver(uint64_t size_limit) : size_limit_(size_limit) {}
    // BDAT (RFC 3030): the same content checks over raw chunks, without dot-stuffing
    // or end marker; end_chunks() marks the end of the LAST chunk.
    static DataReceiver raw(uint64_t size_limit) {
        DataReceiver d(size_limit);
        d.raw_ = true;
        return d;
    }
    void end_chunks();

    // Consumes bytes of the DATA stream. Returns how many were used: all of them, or
    // fewer when the end marker was reached (the rest belongs to the next command).
    size_t feed(std::string_view bytes);
    bool done() const { return done_; }
    Verdict verdict() const;

    // Message bytes (dot-stuffing undone, line ends as received) not yet handed on.
    // Once the verdict is no longer ok, nothing is collected any more.
    std::string take_pending() { return std::exchange(pending_, std::string()); }
    size_t pending_size() const { return pending_.size(); }
    // Message bytes counted so far (after unstuffing), also past the limit.
    uint64_t size() const { return size_; }

private:
    void byte(char c);
    void end_of_line(bool crlf);
    void text(char c);
    void emit(char c);
    bool rejected() const { return bare_ || nul_ || long_line_ || too_big_; }

    uint64_t size_limit_;
    std::string pending_;
    uint64_t size_ = 0;
    size_t line_len_ = 0;       // text octets of the current line, stuffing dot excluded
    bool after_crlf_ = true;    // the current line began after a CRLF (or at DATA)
    bool leading_dot_ = false;  // the current line began with a dot, not yet emitted
    bool at_line_start_ = true;
    bool pending_cr_ = false;   // last byte was CR; decided by the byte after it
    bool done_ = false;
    bool raw_ = false;
    bool bare_ = false, nul_ = false, long_line_ = false, too_big_ = false;
};
