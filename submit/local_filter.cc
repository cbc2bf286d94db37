// Local mail filtering (localmailfilter(7)): the rules that build a filter's command
// line and environment and read its answer, and the runner that starts it as the mail
// user with a deadline. See local_filter.h for the privilege boundary.
#include "submit/local_filter.h"
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>
#include <cerrno>
#include <chrono>
#include "lib/log.h"
#include "lib/process.h"
#include "lib/unique_fd.h"

namespace submit {

namespace {

constexpr size_t kMaxOutput = 4096;   // bytes of filter output kept; the rest is drained
constexpr int kExitContentFilter = 99;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// "NNN" at the start of s with N in [45]xx: the code, else 0.
int leading_code(std::string_view s) {
    if (s.size() < 3 || !is_digit(s[0]) || !is_digit(s[1]) || !is_digit(s[2])) return 0;
    if (s.size() > 3 && s[3] != ' ' && s[3] != '-') return 0;
    int code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
    return code >= 400 && code <= 599 ? code : 0;
}

// "C.x.y" at the start of text, C being the reply's class: true (RFC 3463).
bool has_enhanced_code(std::string_view text, int code) {
    if (text.size() < 5 || text[0] != char('0' + code / 100) || text[1] != '.') return false;
    size_t i = 2, dots = 0, digits = 0;
    for (; i < text.size() && text[i] != ' '; ++i) {
        if (text[i] == '.') {
            if (digits == 0) return false;
            ++dots;
            digits = 0;
        } else if (is_digit(text[i])) {
            ++digits;
        } else {
            return false;
        }
    }
    return dots == 1 && digits > 0;
}

std::string first_line(std::string_view output) {
    size_t pos = 0;
    while (pos < output.size()) {
        size_t end = output.find('\n', pos);
        if (end == std::string_view::npos) end = output.size();
        std::string_view line = output.substr(pos, end - pos);
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
            line.remove_suffix(1);
        if (!line.empty()) return std::string(line);
        pos = end + 1;
    }
    return "";
}

std::string env_entry(const char* name, const std::string& value) {
    return std::string(name) + "=" + value;
}

}  // namespace

std::string filter_mode(FilterPhase phase, std::string_view ext) {
    std::string mode = phase == FilterPhase::rcpt ? "rcptfilter" : "smtpfilter";
    if (!ext.empty()) mode += "-" + std::string(ext);
    return mode;
}

std::string address_extension(std::string_view local_part, std::string_view account) {
    if (local_part.size() <= account.size() + 1) return "";
    if (local_part[account.size()] != '-') return "";
    for (size_t i = 0; i < account.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(local_part[i])) !=
            std::tolower(static_cast<unsigned char>(account[i])))
            return "";
    return std::string(local_part.substr(account.size() + 1));
}

std::vector<std::string> filter_argv(const std::string& program, const FilterAccount& acct,
                                     FilterPhase phase, const FilterFacts& facts) {
    size_t slash = program.rfind('/');
    std::string name = slash == std::string::npos ? program : program.substr(slash + 1);
    return {name, "-D", std::to_string(acct.uid) + "/" + std::to_string(acct.gid), "-M",
            filter_mode(phase, acct.ext), facts.remote_host, facts.remote_ip, facts.sender,
            "", ""};
}

std::vector<std::string> filter_env(const FilterAccount& acct, const FilterFacts& facts) {
    return {"PATH=/usr/local/bin:/usr/bin:/bin", "SHELL=/bin/sh", env_entry("HOME", acct.home),
            env_entry("SENDER", facts.sender), "DEFAULT=", "MAILDIRQUOTA=",
            env_entry("TCPREMOTEHOST", facts.remote_host), env_entry("TCPREMOTEIP", facts.remote_ip)};
}

std::string bounded_filter_text(std::string_view output) {
    std::string line = first_line(output);
    if (leading_code(line)) line.erase(0, line.size() > 3 ? 4 : 3);
    std::string out;
    for (char c : line) {
        if (out.size() >= kMaxFilterText) break;
        unsigned char u = static_cast<unsigned char>(c);
        out += (u < 0x20 || u == 0x7f) ? ' ' : c;
    }
    return out;
}

FilterResult filter_verdict(int wait_status, std::string_view output, FilterPhase phase,
                            const std::string& address) {
    FilterResult r;
    if (!WIFEXITED(wait_status)) {
        r.verdict = FilterVerdict::refuse;
        r.why = WIFSIGNALED(wait_status) ? "signal " + std::to_string(WTERMSIG(wait_status)) : "abnormal exit";
        r.reply = {451, "4.3.0 <" + address + ">: local mail filter failed; try later"};
        return r;
    }
    int status = WEXITSTATUS(wait_status);
    r.why = "exit " + std::to_string(status);
    if (status == 0) return r;
    if (phase == FilterPhase::rcpt && status == kExitContentFilter) {
        r.verdict = FilterVerdict::content_filter;
        return r;
    }
    r.verdict = FilterVerdict::refuse;
    int code = leading_code(first_line(output));
    if (!code) code = status == EX_TEMPFAIL ? 450 : 550;
    std::string text = bounded_filter_text(output);
    if (text.empty()) text = "<" + address + ">: delivery not authorized, message refused";
    if (!has_enhanced_code(text, code)) text = (code >= 500 ? "5.7.1 " : "4.7.1 ") + text;
    r.reply = {code, text};
    return r;
}

LocalFilterConfig load_local_filter_config(const ConfigDir& cfg) {
    LocalFilterConfig c;
    if (auto p = cfg.first_line("maildropfilter"); p && !p->empty()) {
        if ((*p)[0] == '/')
            c.program = *p;
        else
            log_warning("submit: " + cfg.path("maildropfilter") +
                        ":1: not an absolute path, local mail filtering is off");
    }
    if (auto a = cfg.first_line("aliasfilteracct"); a && !a->empty()) c.alias_account = *a;
    return c;
}

std::optional<FilterAccount> alias_filter_account(const std::string& dir, const std::string& alias) {
    struct stat st{};
    if (::stat(dir.c_str(), &st) != 0) return std::nullopt;
    return FilterAccount{st.st_uid, st.st_gid, dir, "alias-" + alias};
}

std::optional<FilterAccount> recipient_filter_account(const std::string& account,
                                                      const std::string& address) {
    struct passwd* pw = ::getpwnam(account.c_str());
    if (!pw) return std::nullopt;
    size_t at = address.rfind('@');
    std::string local = address.substr(0, at == std::string::npos ? address.size() : at);
    return FilterAccount{pw->pw_uid, pw->pw_gid, pw->pw_dir ? pw->pw_dir : "/",
                         address_extension(local, account)};
}

namespace {

// The child side: never returns. Runs as the mail user with real ids equal to the
// effective ones, so the invoking user of a set-uid submit cannot signal or trace it.
[[noreturn]] void exec_filter(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                              const std::string& program, int stdin_fd, int out_fd) {
    ::setsid();   // its own process group: the timeout kills everything it started
    if (::geteuid() == 0 && !drop_to_mail_user()) _exit(EX_TEMPFAIL);   // never run as root
    gid_t egid = ::getegid();
    uid_t euid = ::geteuid();
    if (::setresgid(egid, egid, egid) != 0 || ::setresuid(euid, euid, euid) != 0) _exit(EX_TEMPFAIL);
    int in = stdin_fd >= 0 ? stdin_fd : ::open("/dev/null", O_RDONLY);
    if (in < 0 || ::dup2(in, 0) < 0 || ::dup2(out_fd, 1) < 0 || ::dup2(out_fd, 2) < 0)
        _exit(EX_TEMPFAIL);
    if (stdin_fd >= 0) ::lseek(0, 0, SEEK_SET);
    ::close_range(3, ~0U, 0);
    std::vector<char*> av, ev;
    for (const auto& a : argv) av.push_back(const_cast<char*>(a.c_str()));
    av.push_back(nullptr);
    for (const auto& e : env) ev.push_back(const_cast<char*>(e.c_str()));
    ev.push_back(nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::execve(program.c_str(), av.data(), ev.data());
    _exit(0);   // Courier: a filter that cannot be started is treated as not installed
}

// Reaps the child on every path; kills its process group first when still running.
struct FilterChild {
    pid_t pid = -1;
    ~FilterChild() {
        if (pid > 0) {
            ::kill(-pid, SIGKILL);
            while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {}
        }
    }
};

}  // namespace

FilterResult run_local_filter(const std::string& program, const FilterAccount& acct,
                              FilterPhase phase, const FilterFacts& facts, int stdin_fd,
                              int timeout_ms, const std::string& address) {
    FilterResult failed;
    failed.verdict = FilterVerdict::refuse;
    failed.reply = {451, "4.3.0 <" + address + ">: local mail filter failed; try later"};
    // The effective ids decide: a set-uid submit's real uid is its caller's.
    if (::faccessat(AT_FDCWD, program.c_str(), X_OK, AT_EACCESS) != 0) {
        // As Courier: a filter program that is not there accepts (logged for the admin).
        log_error("submit: maildropfilter " + program + ": not executable, recipient not filtered");
        return FilterResult{FilterVerdict::accept, {}, "not executable"};
    }
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) {
        failed.why = "pipe failed";
        return failed;
    }
    UniqueFd rd(p[0]), wr(p[1]);
    auto argv = filter_argv(program, acct, phase, facts);
    auto env = filter_env(acct, facts);
    FilterChild child;
    child.pid = ::fork();
    if (child.pid < 0) {
        failed.why = "fork failed";
        return failed;
    }
    if (child.pid == 0) exec_filter(argv, env, program, stdin_fd, wr.get());
    wr.reset();

    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    auto left_ms = [&] {
        auto d = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        return d.count() > 0 ? int(d.count()) : 0;
    };
    std::string output;
    char buf[1024];
    bool timed_out = false;
    for (;;) {
        pollfd pfd{rd.get(), POLLIN, 0};
        int n = ::poll(&pfd, 1, left_ms());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            timed_out = true;
            break;
        }
        ssize_t got = ::read(rd.get(), buf, sizeof buf);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        if (output.size() < kMaxOutput) output.append(buf, std::min<size_t>(size_t(got), kMaxOutput - output.size()));
    }
    int status = 0;
    while (!timed_out) {
        pid_t w = ::waitpid(child.pid, &status, WNOHANG);
        if (w == child.pid) {
            child.pid = -1;
            break;
        }
        if (w < 0 && errno != EINTR) {
            failed.why = "waitpid failed";
            return failed;
        }
        if (left_ms() == 0) timed_out = true;
        else ::usleep(10000);
    }
    if (timed_out) {
        failed.why = "timeout";
        return failed;   // FilterChild kills and reaps it
    }
    return filter_verdict(status, output, phase, address);
}

}  // namespace submit
