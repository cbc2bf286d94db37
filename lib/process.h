// Processes: fork/exec with pipes (ChildProcess owns the pid and reaps it), privilege
// changes, daemonizing and pid files. Every program that starts another goes through
// here, so descriptors are never leaked across exec and zombies never pile up.
#pragma once
#include <sys/types.h>
#include <string>
#include <vector>
#include "lib/result.h"
#include "lib/unique_fd.h"

struct SpawnOptions {
    std::vector<std::string> argv;              // argv[0] is the program path
    std::vector<std::string> extra_env;         // "NAME=value" added to the environment
    bool pipe_stdin = false;                    // parent writes child's stdin
    bool pipe_stdout = false;                   // parent reads child's stdout
    int stdin_fd = -1, stdout_fd = -1, stderr_fd = -1;  // otherwise dup these (-1: inherit)
    uid_t uid = static_cast<uid_t>(-1);         // switch to this user before exec (root only)
    gid_t gid = static_cast<gid_t>(-1);
};

class ChildProcess {
public:
    ChildProcess() = default;
    ChildProcess(ChildProcess&&) noexcept;
    ChildProcess& operator=(ChildProcess&&) noexcept;
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;
    ~ChildProcess();   // kills (SIGTERM) and reaps a child still running

    static Result<ChildProcess> spawn(const SpawnOptions& opts);
    pid_t pid() const { return pid_; }
    int stdin_fd() const { return in_.get(); }
    int stdout_fd() const { return out_.get(); }
    void close_stdin() { in_.reset(); }
    // Waits for exit; returns the wait status. -1 if there is no child.
    int wait();
    // Non-blocking: true once the child has been reaped (status in *status).
    bool try_wait(int* status);
    void kill(int sig);
    pid_t release() { pid_t p = pid_; pid_ = -1; return p; }   // stop owning the pid

private:
    pid_t pid_ = -1;
    UniqueFd in_, out_;
};

// Looks up the mail user; when running as root, switches to it (groups, gid, uid).
// A no-op when not root. Fails if the user is missing while root.
Status drop_to_mail_user();
// Switches to an arbitrary uid/gid with that user's supplementary groups (root only).
Status become_user(uid_t uid, gid_t gid, const std::string& user_name);
Status lookup_mail_user(uid_t* uid, gid_t* gid);

// Detaches from the terminal (fork, setsid, stdio to /dev/null). The parent exits 0.
void daemonize();
Status write_pid_file(const std::string& path);   // atomically, with the current pid
// Pid from a pid file if that process is alive, else -1.
pid_t read_live_pid(const std::string& path);
// True when no process `pid` exists or it is a zombie (EPERM means it is alive).
bool process_exited(pid_t pid);
// Marks fd close-on-exec.
void set_cloexec(int fd);
void set_nonblock(int fd, bool on);
