// DataReceiver: end-of-data detection, dot-unstuffing and content checks for DATA
// (RFC 5321 4.1.4, 4.5.2, 4.5.3.1.6). See smtp_data.h for the bare CR/LF policy.
#include "esmtp/smtp_data.h"

size_t DataReceiver::feed(std::string_view bytes) {
    for (size_t i = 0; i < bytes.size(); ++i) {
        if (done_) return i;
        byte(bytes[i]);
    }
    return bytes.size();
}

void DataReceiver::byte(char c) {
    if (pending_cr_) {
        pending_cr_ = false;
        if (c == '\n') {
            end_of_line(true);
            return;
        }
        bare_ = true;   // a CR that does not start a CRLF
        text('\r');
    }
    if (c == '\n') {
        bare_ = true;   // an LF without its CR
        end_of_line(false);
        return;
    }
    if (at_line_start_) {
        at_line_start_ = false;
        // RFC 5321 4.5.2: a leading dot is removed; a dot alone may be the end marker.
        // Only a line that began after CRLF counts, so "<LF>." is never special.
        if (!raw_ && after_crlf_ && c == '.') {
            leading_dot_ = true;
            return;
        }
    }
    if (c == '\r') {
        pending_cr_ = true;
        return;
    }
    text(c);
}

void DataReceiver::end_of_line(bool crlf) {
    if (crlf && after_crlf_ && leading_dot_ && line_len_ == 0) {
        done_ = true;
        return;
    }
    if (crlf) emit('\r');
    emit('\n');
    after_crlf_ = crlf;
    leading_dot_ = false;
    at_line_start_ = true;
    line_len_ = 0;
}

void DataReceiver::text(char c) {
    if (c == '\0') nul_ = true;
    if (++line_len_ > kMaxTextLine) long_line_ = true;
    emit(c);
}

void DataReceiver::emit(char c) {
    if (++size_ > size_limit_) too_big_ = true;
    // A message that will be refused is still read to its end, but not kept.
    if (rejected()) {
        pending_.clear();
        return;
    }
    pending_.push_back(c);
}

DataReceiver::Verdict DataReceiver::verdict() const {
    if (bare_) return Verdict::bare_line_end;
    if (nul_) return Verdict::nul;
    if (long_line_) return Verdict::long_line;
    if (too_big_) return Verdict::too_big;
    return Verdict::ok;
}

void DataReceiver::end_chunks() {
    if (pending_cr_) {   // a CR as the very last byte has no LF after it
        pending_cr_ = false;
        bare_ = true;
        text('\r');
    }
    // A last line without its CRLF is left as it is (RFC 3030 does not require one).
    done_ = true;
}
