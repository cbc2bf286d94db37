// Logging: syslog (facility mail), or $COURIER_ROOT/log/mail.log for tests and the
// sandbox. Each line is written with one write() in O_APPEND mode so lines from
// concurrent processes never interleave.
#include "lib/log.h"
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fcntl.h>
#include <string>
#include <sys/time.h>
#include <syslog.h>
#include <unistd.h>
#include "lib/paths.h"

namespace {
std::string g_program = "courier";
int g_fd = -1;
bool g_opened = false;

int syslog_priority(LogLevel l) {
    switch (l) {
    case LogLevel::debug: return LOG_DEBUG;
    case LogLevel::info: return LOG_INFO;
    case LogLevel::notice: return LOG_NOTICE;
    case LogLevel::warning: return LOG_WARNING;
    case LogLevel::error: return LOG_ERR;
    case LogLevel::alert: return LOG_ALERT;
    }
    return LOG_INFO;
}

const char* level_name(LogLevel l) {
    switch (l) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::notice: return "notice";
    case LogLevel::warning: return "warning";
    case LogLevel::error: return "error";
    case LogLevel::alert: return "alert";
    }
    return "info";
}
}  // namespace

void log_open(std::string_view program) {
    g_program = std::string(program);
    g_opened = true;
    const Paths& p = paths();
    if (!p.log.empty()) {
        std::string file = p.log + "/mail.log";
        g_fd = ::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (g_fd >= 0) return;
    }
    ::openlog(g_program.c_str(), LOG_PID | LOG_NDELAY, LOG_MAIL);
}

std::string log_safe(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (unsigned char c : text) {
        if (c < 0x20 || c == 0x7f) {
            static const char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

void log_line(LogLevel level, std::string_view text) {
    if (!g_opened) log_open(g_program);
    std::string safe = log_safe(text);
    if (g_fd < 0) {
        ::syslog(syslog_priority(level), "%s", safe.c_str());
        return;
    }
    struct timeval tv;
    ::gettimeofday(&tv, nullptr);
    struct tm tm;
    ::localtime_r(&tv.tv_sec, &tm);
    char stamp[64];
    std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03ld", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<long>(tv.tv_usec / 1000));
    std::string line = std::string(stamp) + " " + g_program + "[" + std::to_string(::getpid()) +
                       "] " + level_name(level) + ": " + safe + "\n";
    ssize_t n = ::write(g_fd, line.data(), line.size());
    (void)n;
}

void log_fatal(std::string_view text, int exit_code) {
    log_line(LogLevel::error, text);
    std::fprintf(stderr, "%s: %s\n", g_program.c_str(), log_safe(text).c_str());
    std::exit(exit_code);
}
