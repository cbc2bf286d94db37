// Logging for every daemon: syslog with the mail facility, or, when COURIER_ROOT is in
// force (tests, sandbox), lines appended to $COURIER_ROOT/log/mail.log. One line per
// event, "key=value" fields, so a queue id can be followed with one grep.
#pragma once
#include <string>
#include <string_view>

enum class LogLevel { debug, info, notice, warning, error, alert };

void log_open(std::string_view program);          // call once in main
void log_line(LogLevel level, std::string_view text);
inline void log_info(std::string_view t) { log_line(LogLevel::info, t); }
inline void log_warning(std::string_view t) { log_line(LogLevel::warning, t); }
inline void log_error(std::string_view t) { log_line(LogLevel::error, t); }
// A broken environment (STYLE.md 4): logs and exits with the sysexits code.
[[noreturn]] void log_fatal(std::string_view text, int exit_code);
// Replaces CR, LF and other control bytes so untrusted text cannot forge log lines.
std::string log_safe(std::string_view text);
