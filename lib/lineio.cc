// LineReader: bounded line input shared by every line protocol.
#include "lib/lineio.h"
#include <algorithm>
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
    line.clear();
    for (;;) {
        size_t nl = buf_.find('\n', pos_);
        if (nl != std::string::npos) {
            bool was_skipping = skipping_;
            if (!skipping_) partial_.append(buf_, pos_, nl - pos_);
            pos_ = nl + 1;
            skipping_ = false;
            if (was_skipping || partial_.size() > max_line_) {
                partial_.clear();
                return Status::too_long;
            }
            line.swap(partial_);
            partial_.clear();
            return Status::line;
        }
        // No LF yet: keep the partial line unless it is already too long, in which
        // case drop it and discard the rest of the line as it arrives.
        if (!skipping_) {
            partial_.append(buf_, pos_, std::string::npos);
            if (partial_.size() > max_line_) {
                skipping_ = true;
                partial_.clear();
            }
        }
        pos_ = buf_.size();
        Status s = fill(timeout_ms);
        if (s != Status::line) {
            if (s == Status::eof && !skipping_ && !partial_.empty()) {
                // A last line without LF: hand it over; the next call sees EOF.
                line.swap(partial_);
                partial_.clear();
                return Status::line;
            }
            return s;
        }
    }
}

long LineReader::read_some(char* out, size_t max, int timeout_ms) {
    if (pos_ >= buf_.size()) {
        Status s = fill(timeout_ms);
        if (s == Status::eof) return 0;
        if (s != Status::line) return -1;
    }
    size_t n = std::min(max, buf_.size() - pos_);
    buf_.copy(out, n, pos_);
    pos_ += n;
    return static_cast<long>(n);
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
