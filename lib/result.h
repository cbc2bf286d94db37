// Result<T>: the value of an expected failure (STYLE.md 4). An Error carries the
// errno (0 when not a system error) and text fit for a log line or an SMTP reply.
// C++20 has no std::expected, so this is the small subset the MTA needs.
#pragma once
#include <string>
#include <utility>
#include <variant>

struct Error {
    int sys_errno = 0;   // errno of the failing call, or 0
    std::string text;    // what failed, for logs and replies
};

Error sys_error(std::string what);  // text + ": " + strerror(errno), keeps errno

template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::move(value)) {}
    Result(Error e) : v_(std::move(e)) {}
    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() { return std::get<0>(v_); }
    const T& value() const { return std::get<0>(v_); }
    T& operator*() { return value(); }
    const T& operator*() const { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    const Error& error() const { return std::get<1>(v_); }

private:
    std::variant<T, Error> v_;
};

// Result<void>: success carries nothing.
struct Ok {};
using Status = Result<Ok>;
inline Status ok_status() { return Ok{}; }
