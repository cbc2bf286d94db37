// Processes: spawning with pipes, reaping, privilege changes, daemonizing, pid files.
#include "lib/process.h"
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "lib/fileio.h"
#include "lib/paths.h"

extern char** environ;

void set_cloexec(int fd) {
    int f = ::fcntl(fd, F_GETFD);
    if (f >= 0) ::fcntl(fd, F_SETFD, f | FD_CLOEXEC);
}

void set_nonblock(int fd, bool on) {
    int f = ::fcntl(fd, F_GETFL);
    if (f < 0) return;
    ::fcntl(fd, F_SETFL, on ? (f | O_NONBLOCK) : (f & ~O_NONBLOCK));
}

ChildProcess::ChildProcess(ChildProcess&& o) noexcept
    : pid_(o.pid_), in_(std::move(o.in_)), out_(std::move(o.out_)) {
    o.pid_ = -1;
}

ChildProcess& ChildProcess::operator=(ChildProcess&& o) noexcept {
    if (this != &o) {
        if (pid_ > 0) { kill(SIGTERM); wait(); }
        pid_ = o.pid_;
        o.pid_ = -1;
        in_ = std::move(o.in_);
        out_ = std::move(o.out_);
    }
    return *this;
}

ChildProcess::~ChildProcess() {
    in_.reset();
    out_.reset();
    if (pid_ > 0) {
        int st;
        if (!try_wait(&st)) {
            kill(SIGTERM);
            wait();
        }
    }
}

// Runs in the child between fork and exec: only async-signal-safe calls.
[[noreturn]] static void exec_child(const SpawnOptions& o, int in_fd, int out_fd, char** argv, char** envp) {
    if (in_fd >= 0 && in_fd != 0) { ::dup2(in_fd, 0); }
    if (out_fd >= 0 && out_fd != 1) { ::dup2(out_fd, 1); }
    if (o.stderr_fd >= 0 && o.stderr_fd != 2) ::dup2(o.stderr_fd, 2);
    ::signal(SIGPIPE, SIG_DFL);
    ::signal(SIGCHLD, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (o.gid != static_cast<gid_t>(-1) && ::getuid() == 0) {
        if (::setgroups(1, &o.gid) < 0 || ::setgid(o.gid) < 0) ::_exit(71);
    }
    if (o.uid != static_cast<uid_t>(-1) && ::getuid() == 0) {
        if (::setuid(o.uid) < 0) ::_exit(71);
    }
    ::execve(argv[0], argv, envp);
    ::_exit(127);
}

Result<ChildProcess> ChildProcess::spawn(const SpawnOptions& o) {
    if (o.argv.empty()) return Error{EINVAL, "spawn: no program"};
    int inp[2] = {-1, -1}, outp[2] = {-1, -1};
    if (o.pipe_stdin && ::pipe2(inp, O_CLOEXEC) < 0) return sys_error("pipe");
    UniqueFd in_r(inp[0]), in_w(inp[1]);
    if (o.pipe_stdout && ::pipe2(outp, O_CLOEXEC) < 0) return sys_error("pipe");
    UniqueFd out_r(outp[0]), out_w(outp[1]);

    // Build argv and envp before fork: the child must not allocate.
    std::vector<std::string> env_store;
    for (char** e = environ; e && *e; ++e) {
        std::string_view kv(*e);
        bool overridden = false;
        for (const auto& x : o.extra_env) {
            auto eq = x.find('=');
            if (kv.substr(0, kv.find('=')) == std::string_view(x).substr(0, eq)) overridden = true;
        }
        if (!overridden) env_store.emplace_back(kv);
    }
    for (const auto& x : o.extra_env) env_store.push_back(x);
    std::vector<char*> argv, envp;
    for (const auto& a : o.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (auto& e : env_store) envp.push_back(e.data());
    envp.push_back(nullptr);

    int child_in = o.pipe_stdin ? in_r.get() : o.stdin_fd;
    int child_out = o.pipe_stdout ? out_w.get() : o.stdout_fd;
    pid_t pid = ::fork();
    if (pid < 0) return sys_error("fork");
    if (pid == 0) exec_child(o, child_in, child_out, argv.data(), envp.data());
    ChildProcess c;
    c.pid_ = pid;
    c.in_ = std::move(in_w);
    c.out_ = std::move(out_r);
    return c;
}

int ChildProcess::wait() {
    if (pid_ <= 0) return -1;
    int st = 0;
    while (::waitpid(pid_, &st, 0) < 0) {
        if (errno != EINTR) { st = -1; break; }
    }
    pid_ = -1;
    return st;
}

bool ChildProcess::try_wait(int* status) {
    if (pid_ <= 0) return true;
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) {
        if (status) *status = st;
        pid_ = -1;
        return true;
    }
    return false;
}

void ChildProcess::kill(int sig) {
    if (pid_ > 0) ::kill(pid_, sig);
}

Status lookup_mail_user(uid_t* uid, gid_t* gid) {
    struct passwd* pw = ::getpwnam(mail_user_name());
    if (!pw) return Error{ENOENT, std::string("mail user ") + mail_user_name() + " does not exist"};
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    if (struct group* gr = ::getgrnam(mail_group_name())) *gid = gr->gr_gid;
    return ok_status();
}

Status become_user(uid_t uid, gid_t gid, const std::string& user_name) {
    if (::getuid() != 0 && ::geteuid() != 0) {
        if (::getuid() == uid) return ok_status();
        return Error{EPERM, "cannot switch to " + user_name + ": not running as root"};
    }
    if (::initgroups(user_name.c_str(), gid) < 0) return sys_error("initgroups " + user_name);
    if (::setgid(gid) < 0) return sys_error("setgid");
    if (::setuid(uid) < 0) return sys_error("setuid");
    if (::getuid() != uid || ::geteuid() != uid || (uid != 0 && ::setuid(0) == 0))
        return Error{EPERM, "privileges were not dropped"};
    return ok_status();
}

Status drop_to_mail_user() {
    if (::geteuid() != 0) return ok_status();
    uid_t uid;
    gid_t gid;
    Status s = lookup_mail_user(&uid, &gid);
    if (!s) return s;
    if (::setgroups(1, &gid) < 0) return sys_error("setgroups");
    if (::setgid(gid) < 0) return sys_error("setgid");
    if (::setuid(uid) < 0) return sys_error("setuid");
    if (uid != 0 && ::setuid(0) == 0) return Error{EPERM, "privileges were not dropped"};
    return ok_status();
}

void daemonize() {
    pid_t pid = ::fork();
    if (pid < 0) std::exit(71);
    if (pid > 0) std::_Exit(0);
    ::setsid();
    if (::chdir("/") < 0) std::_Exit(71);
    int fd = ::open("/dev/null", O_RDWR);
    if (fd >= 0) {
        ::dup2(fd, 0);
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        if (fd > 2) ::close(fd);
    }
    // Descriptors inherited from whoever started us must not reach our children.
    ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
}

Status write_pid_file(const std::string& path) {
    std::string dir = dir_of(path);
    std::string name = path.substr(dir.size() + 1);
    return write_file_durably(dir, name, std::to_string(::getpid()) + "\n", 0644);
}

pid_t read_live_pid(const std::string& path) {
    auto text = read_file(path, 64);
    if (!text) return -1;
    long pid = std::strtol(text->c_str(), nullptr, 10);
    if (pid <= 1 || process_exited(static_cast<pid_t>(pid))) return -1;
    return static_cast<pid_t>(pid);
}

bool process_exited(pid_t pid) {
    if (::kill(pid, 0) < 0 && errno == ESRCH) return true;
    // A zombie has exited; only its parent has not reaped it yet (a parent that was
    // itself killed leaves it to init, which in a container may never reap it).
    if (auto stat = read_file("/proc/" + std::to_string(pid) + "/stat", 4096)) {
        auto paren = stat->rfind(')');
        if (paren != std::string::npos && paren + 2 < stat->size() && (*stat)[paren + 2] == 'Z') return true;
    }
    return false;
}
