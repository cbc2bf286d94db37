// esmtpd start|stop|restart: the control command of the ESMTP service (courier(8),
// esmtpd). Reads the settings file named after the command (esmtpd, and later
// esmtpd-msa, esmtpd-ssl), exports its NAME=value settings and runs couriertcpd with
// courieresmtpd. Start and restart check the settings and the HELO patterns file
// first and refuse a broken one (file:line), so a running service keeps its last good
// configuration. SECURITY: run by the administrator, usually root; it only reads the
// root-owned configuration and starts couriertcpd, which drops to the mail user.
#include <signal.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "esmtp/smtpd_config.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/paths.h"
#include "lib/process.h"
#include "lib/systemd_handover.h"

namespace {

// How long start and stop wait for couriertcpd to appear or to go away.
constexpr auto k_wait_limit = std::chrono::seconds(10);
constexpr auto k_wait_step = std::chrono::milliseconds(50);

struct Service {
    std::string name;        // basename of argv[0]: esmtpd, esmtpd-msa, esmtpd-ssl
    std::string settings_path;
    Settings settings;
    std::string pid_file;
};

std::string base_name(const char* argv0) {
    std::string s = argv0 && *argv0 ? argv0 : "esmtpd";
    auto slash = s.rfind('/');
    return slash == std::string::npos ? s : s.substr(slash + 1);
}

int fail(const Service& svc, int code, const std::string& text) {
    std::fprintf(stderr, "%s: %s\n", svc.name.c_str(), text.c_str());
    log_error(text);
    return code;
}

Result<Service> load_service(const std::string& name) {
    Service svc;
    svc.name = name;
    svc.settings_path = ConfigDir(paths().config).path(name);
    auto settings = Settings::load(svc.settings_path);
    if (!settings) return settings.error();
    svc.settings = std::move(*settings);
    svc.pid_file = svc.settings.get_or("PIDFILE", "");
    if (svc.pid_file.empty()) svc.pid_file = paths().run + "/" + name + ".pid";
    return svc;
}

bool is_yes(const std::string& v) {
    return v.size() == 3 && (v[0] | 0x20) == 'y' && (v[1] | 0x20) == 'e' && (v[2] | 0x20) == 's';
}

// The couriertcpd command line for this service, as Courier's esmtpd script builds it.
std::vector<std::string> tcpd_command(const Service& svc, bool as_root) {
    const Settings& s = svc.settings;
    std::vector<std::string> argv{paths().sbin + "/couriertcpd", "-pid=" + svc.pid_file};
    auto add_number = [&](const char* setting, const char* option) {
        std::string v = s.get_or(setting, "");
        if (!v.empty()) argv.push_back(std::string(option) + v);
    };
    add_number("MAXDAEMONS", "-maxprocs=");
    add_number("MAXPERIP", "-maxperip=");
    add_number("MAXPERC", "-maxperc=");
    std::string address = s.get_or("ADDRESS", "0");
    if (!address.empty() && address != "0") argv.push_back("-address=" + address);
    // Courier's esmtpd file: ACCESSFILE names the access file makesmtpaccess compiles
    // (default <config>/smtpaccess; empty: none), BLACKLISTS holds -block/-allow options.
    std::string access = s.get_or("ACCESSFILE", ConfigDir(paths().config).path("smtpaccess"));
    if (!access.empty() && (path_exists(access) || path_exists(access + ".dat")))
        argv.push_back("-access=" + access + ".dat");
    for (auto& w : split_words(s.get_or("BLACKLISTS", ""))) argv.push_back(std::move(w));
    for (auto& w : split_words(s.get_or("TCPDOPTS", ""))) argv.push_back(std::move(w));
    if (as_root) {
        argv.push_back(std::string("-user=") + mail_user_name());
        argv.push_back(std::string("-group=") + mail_group_name());
    }
    argv.push_back(s.get_or("PORT", "25"));
    argv.push_back(paths().libexec + "/courieresmtpd");
    return argv;
}

// Runs couriertcpd in the foreground and returns its exit code (or 128 + signal).
Result<int> run_tcpd(std::vector<std::string> argv, std::vector<std::string> env) {
    SpawnOptions o;
    o.argv = std::move(argv);
    o.extra_env = std::move(env);
    auto child = ChildProcess::spawn(o);
    if (!child) return child.error();
    int st = child->wait();
    if (st < 0) return Error{0, "lost couriertcpd"};
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

// Gone, or a zombie its new parent has not reaped yet: either way it serves nothing.
bool process_gone(pid_t pid) {
    if (::kill(pid, 0) < 0) return errno == ESRCH;
    auto stat = read_file("/proc/" + std::to_string(pid) + "/stat", 4096);
    if (!stat) return false;
    auto paren = stat->rfind(')');   // the command name may itself contain ") "
    return paren != std::string::npos && paren + 2 < stat->size() && (*stat)[paren + 2] == 'Z';
}

// Polls until done() holds or the limit passes.
template <typename F> bool wait_until(F done) {
    auto deadline = std::chrono::steady_clock::now() + k_wait_limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(k_wait_step);
    }
    return true;
}

// Values of issue 10's settings (switches, guards) are checked before start and
// restart, not found wrong by each connection later; stop needs no check.
Status check_settings(const Service& svc) {
    auto text = read_file(svc.settings_path, 1 << 20);
    if (!text) return text.error();
    std::vector<std::string> errors = check_listener_settings(*text, svc.settings_path);
    if (errors.empty()) return ok_status();
    std::string all;
    for (const auto& e : errors) all += (all.empty() ? "" : "\n") + e;
    return Error{EINVAL, all};
}

// Checks the listener's HELO patterns file and installs a copy for courieresmtpd
// (ESMTP_HELOPATTERNS_FILE); a broken file leaves the installed copy as it was.
Status install_helo_patterns(const Service& svc) {
    const Settings& s = svc.settings;
    std::string source = ConfigDir(paths().config).path(
        helo_patterns_name([&](const char* n) { return s.get(n); }));
    std::string installed = installed_helo_patterns(svc.name);
    if (!path_exists(source)) {
        ::unlink(installed.c_str());
        return ok_status();
    }
    auto text = read_file(source, 1 << 20);
    if (!text) return text.error();
    std::vector<std::string> errors;
    (void)HeloPatterns::parse(*text, source, &errors);
    if (!errors.empty()) {
        std::string all;
        for (const auto& e : errors) all += (all.empty() ? "" : "\n") + e;
        return Error{EINVAL, all};
    }
    if (Status d = ensure_dir(paths().run, 0755); !d) return d;
    auto slash = installed.rfind('/');
    return write_file_durably(installed.substr(0, slash), installed.substr(slash + 1), *text, 0644);
}

// `courier check -q`: 0 when the configuration has no errors, its exit code otherwise,
// -1 when it cannot run.
int run_config_check() {
    SpawnOptions o;
    o.argv = {paths().sbin + "/courier", "check", "-q"};
    o.stdout_fd = STDERR_FILENO;
    auto child = ChildProcess::spawn(o);
    if (!child) return -1;
    int st = child->wait();
    if (st < 0 || !WIFEXITED(st)) return -1;
    return WEXITSTATUS(st);
}

int start(const Service& svc) {
    if (!is_yes(svc.settings.get_or("ESMTPDSTART", ""))) {
        std::printf("%s: ESMTPDSTART is not YES in %s, not starting\n", svc.name.c_str(),
                    svc.settings_path.c_str());
        return 0;
    }
    // Where systemd runs the machine, <name>.service owns couriertcpd (doc/install.md).
    if (auto handed = hand_to_systemd("start", svc.name + ".service")) return *handed;
    if (pid_t pid = read_live_pid(svc.pid_file); pid > 0 && !process_gone(pid)) {
        std::printf("%s: already running (pid %ld)\n", svc.name.c_str(), static_cast<long>(pid));
        return 0;
    }
    if (Status s = ensure_dir(dir_of(svc.pid_file), 0755); !s)
        return fail(svc, EX_CANTCREAT, s.error().text);
    if (Status s = install_helo_patterns(svc); !s) return fail(svc, EX_CONFIG, s.error().text);
    std::vector<std::string> env;
    for (const auto& [name, value] : svc.settings.all()) env.push_back(name + "=" + value);
    env.push_back("ESMTP_HELOPATTERNS_FILE=" + installed_helo_patterns(svc.name));
    auto code = run_tcpd(tcpd_command(svc, ::geteuid() == 0), std::move(env));
    if (!code) return fail(svc, EX_OSERR, "cannot run couriertcpd: " + code.error().text);
    if (*code != 0)
        return fail(svc, EX_UNAVAILABLE, "couriertcpd failed (exit " + std::to_string(*code) +
                                             "), not started");
    pid_t pid = -1;
    if (!wait_until([&] { return (pid = read_live_pid(svc.pid_file)) > 0; }))
        return fail(svc, EX_UNAVAILABLE, "couriertcpd did not write " + svc.pid_file +
                                             "; see the mail log");
    log_info("started pid=" + std::to_string(pid));
    std::printf("%s: started (pid %ld)\n", svc.name.c_str(), static_cast<long>(pid));
    return 0;
}

int stop(const Service& svc) {
    if (auto handed = hand_to_systemd("stop", svc.name + ".service")) return *handed;
    pid_t pid = read_live_pid(svc.pid_file);
    if (pid <= 0) {
        ::unlink(svc.pid_file.c_str());   // a stale file from a crash, if any
        std::printf("%s: not running\n", svc.name.c_str());
        return 0;
    }
    auto code = run_tcpd({paths().sbin + "/couriertcpd", "-pid=" + svc.pid_file, "-stop"}, {});
    if (!code) return fail(svc, EX_OSERR, "cannot run couriertcpd: " + code.error().text);
    if (*code != 0) return fail(svc, EX_UNAVAILABLE, "couriertcpd -stop failed");
    if (!wait_until([&] { return process_gone(pid); }))
        return fail(svc, EX_UNAVAILABLE, "pid " + std::to_string(pid) + " did not stop");
    // couriertcpd removes it itself unless it no longer had the permission to.
    ::unlink(svc.pid_file.c_str());
    log_info("stopped pid=" + std::to_string(pid));
    return 0;
}

int restart(const Service& svc) {
    if (auto handed = hand_to_systemd("reload", svc.name + ".service")) return *handed;
    if (read_live_pid(svc.pid_file) <= 0)
        return fail(svc, EX_UNAVAILABLE, "not running");
    // New HELO patterns apply to the next connection; a broken file changes nothing.
    if (Status s = install_helo_patterns(svc); !s) return fail(svc, EX_CONFIG, s.error().text);
    auto code = run_tcpd({paths().sbin + "/couriertcpd", "-pid=" + svc.pid_file, "-restart"}, {});
    if (!code) return fail(svc, EX_OSERR, "cannot run couriertcpd: " + code.error().text);
    if (*code != 0) return fail(svc, EX_UNAVAILABLE, "couriertcpd -restart failed");
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::string name = base_name(argc > 0 ? argv[0] : nullptr);
    log_open(name);
    std::string cmd = argc == 2 ? argv[1] : "";
    if (cmd != "start" && cmd != "stop" && cmd != "restart") {
        std::fprintf(stderr, "usage: %s start|stop|restart\n", name.c_str());
        return EX_USAGE;
    }
    auto svc = load_service(name);
    if (!svc) {
        std::fprintf(stderr, "%s: %s\n", name.c_str(), svc.error().text.c_str());
        log_error(svc.error().text);
        return EX_CONFIG;
    }
    if (cmd != "stop") {
        if (Status s = check_settings(*svc); !s) {
            std::fprintf(stderr, "%s: %s\n", name.c_str(), s.error().text.c_str());
            log_error(s.error().text);
            return EX_CONFIG;
        }
        // The configuration check of `courier check` (courierd/config_check.h), run as
        // that command so esmtpd needs none of its parsers; its error lines go to
        // stderr. A refused restart leaves the running service as it is.
        if (int code = run_config_check(); code != 0)
            return fail(*svc, EX_CONFIG, code < 0 ? "cannot run courier check"
                                                  : "configuration errors (courier check), not " +
                                                        std::string(cmd == "start" ? "started" : "restarted"));
    }
    if (cmd == "start") return start(*svc);
    if (cmd == "stop") return stop(*svc);
    return restart(*svc);
}
