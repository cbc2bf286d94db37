// couriertcpd's session gauge file; see session_stats.h.
#include "tcpd/session_stats.h"
#include <fcntl.h>
#include <unistd.h>
#include <charconv>
#include "lib/paths.h"
#include "lib/unique_fd.h"
#include "lib/xtext.h"

namespace {
std::string file_for(long pid) { return session_stats_dir() + "/couriertcpd." + std::to_string(pid); }

std::optional<uint64_t> number(std::string_view s) {
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return v;
}
}  // namespace

std::string session_stats_dir() { return paths().spool + "/metrics"; }

std::string format_session_stats(const SessionStats& s) {
    return "listener " + xtext_encode(s.listener) + "\nactive " + std::to_string(s.active) +
           "\nconnections " + std::to_string(s.connections) + "\n";
}

std::optional<SessionStats> parse_session_stats(std::string_view text) {
    SessionStats s;
    int seen = 0;
    while (!text.empty()) {
        size_t nl = text.find('\n');
        if (nl == text.npos) return std::nullopt;   // torn file: not ours to trust
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl + 1);
        size_t sp = line.find(' ');
        if (sp == line.npos) return std::nullopt;
        std::string_view key = line.substr(0, sp), value = line.substr(sp + 1);
        if (key == "listener") {
            auto v = xtext_decode(value);
            if (!v) return std::nullopt;
            s.listener = *v;
            seen |= 1;
        } else if (key == "active" || key == "connections") {
            auto n = number(value);
            if (!n) return std::nullopt;
            (key == "active" ? s.active : s.connections) = *n;
            seen |= key == "active" ? 2 : 4;
        }
    }
    if (seen != 7) return std::nullopt;
    return s;
}

SessionStatsFile::SessionStatsFile(std::string listener) { last_.listener = std::move(listener); }

SessionStatsFile::~SessionStatsFile() { remove(); }

void SessionStatsFile::remove() {
    if (written_ && pid_ == ::getpid()) ::unlink(file_for(pid_).c_str());
    written_ = false;
}

void SessionStatsFile::update(uint64_t active, uint64_t connections) {
    long pid = ::getpid();
    if (written_ && pid == pid_ && active == last_.active && connections == last_.connections) return;
    last_.active = active;
    last_.connections = connections;
    pid_ = pid;
    std::string dir = session_stats_dir();
    if (::access(dir.c_str(), W_OK) != 0) return;
    std::string tmp = dir + "/.couriertcpd." + std::to_string(pid) + ".tmp";
    std::string text = format_session_stats(last_);
    {
        UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640));
        if (!fd) return;
        if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
            ::unlink(tmp.c_str());
            return;
        }
    }
    // A gauge needs no fsync: after a crash the next update rewrites it.
    if (::rename(tmp.c_str(), file_for(pid).c_str()) == 0) written_ = true;
    else ::unlink(tmp.c_str());
}
