// LineReader: bounded line input shared by every line protocol.
#include "lib/lineio.h"
#include <cerrno>
#include <poll.h>
#include <unistd.h>

LineReader::Status LineReader::fill(int timeout_ms) {
    if (pos_ > 0 && pos_ == buf_.size()) {
        buf_.clear();
        pos_ = 0;
    } else if (pos_ > 65536) {
        buf_.erase(0, pos_);
        pos_ = 0;
    }
    if (timeout_ms >= 0 && !read_fn_) {
        struct pollfd p{fd_, POLLIN, 0};
        int r;
        do r = ::poll(&p, 1, timeout_ms); while (r < 0 && errno == EINTR);
        if (r == 0) return Status::timeout;
        if (r < 0) return Status::error;
    }
    char tmp[16384];
    ssize_t n;
    if (read_fn_) {
        n = read_fn_(read_ctx_, tmp, sizeof tmp);
    } else {
        do n = ::read(fd_, tmp, sizeof tmp); while (n < 0 && errno == EINTR);
    }
    if (n < 0) return Status::error;
    if (n == 0) return Status::eof;
    buf_.append(tmp, static_cast<size_t>(n));
    return Status::line;
}

LineReader::Status LineReader::read_line(std::string& line, int timeout_ms) {
    bool overflow = false;
    line.clear();
    for (;;) {
        size_t nl = buf_.find('\n', pos_);
        if (nl != std::string::npos) {
            if (!overflow) line.append(buf_, pos_, nl - pos_);
            pos_ = nl + 1;
            if (overflow || line.size() > max_line_) {
                line.clear();
                return Status::too_long;
            }
            return Status::line;
        }
        // No LF yet: keep what we have unless it is already too long, in which case
        // drop it and remember to discard the rest of this line.
        if (!overflow && buf_.size() - pos_ + line.size() > max_line_) {
            overflow = true;
            line.clear();
        }
        if (overflow) {
            pos_ = buf_.size();
        }
        Status s = fill(timeout_ms);
        if (s != Status::line) {
            if (s == Status::eof && !overflow && pos_ < buf_.size()) {
                // A last line without LF: hand it over; the next call sees EOF.
                line.append(buf_, pos_, std::string::npos);
                pos_ = buf_.size();
                return Status::line;
            }
            return s;
        }
    }
}

bool LineReader::read_exact(std::string& out, size_t n, int timeout_ms) {
    out.clear();
    while (out.size() < n) {
        if (pos_ < buf_.size()) {
            size_t take = std::min(n - out.size(), buf_.size() - pos_);
            out.append(buf_, pos_, take);
            pos_ += take;
            continue;
        }
        if (fill(timeout_ms) != Status::line) return false;
    }
    return true;
}
