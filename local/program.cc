// Running a delivery program: spawn, capture output, enforce localtimeout, classify.
#include "local/program.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cerrno>
#include <chrono>
#include "lib/process.h"
#include "lib/unique_fd.h"

namespace local {

std::string clean_output(std::string_view raw, size_t limit) {
    std::string out;
    for (char c : raw) {
        if (out.size() >= limit) break;
        unsigned char u = static_cast<unsigned char>(c);
        if (c == '\n' || c == '\r' || c == '\t') c = ' ';
        else if (u < 0x20 || u == 0x7f) c = '?';
        if (c == ' ' && (out.empty() || out.back() == ' ')) continue;
        out += c;
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
}

Result<ProgramRun> run_program(const std::vector<std::string>& argv,
                               const std::vector<std::string>& env, int stdin_fd,
                               long timeout_s) {
    if (::lseek(stdin_fd, 0, SEEK_SET) < 0) return sys_error("cannot rewind the message");
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return sys_error("pipe");
    UniqueFd out_r(p[0]), out_w(p[1]);
    SpawnOptions so;
    so.argv = argv;
    so.extra_env = env;
    so.stdin_fd = stdin_fd;
    so.stdout_fd = out_w.get();
    so.stderr_fd = out_w.get();
    auto child = ChildProcess::spawn(so);
    if (!child) return child.error();
    out_w.reset();
    ProgramRun run;
    std::string raw;
    using Clock = std::chrono::steady_clock;
    auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
    bool eof = false;
    int status = 0;
    bool exited = false;
    while (!exited) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) {
            run.timed_out = true;
            child->kill(SIGKILL);
            status = child->wait();
            break;
        }
        if (!eof) {
            pollfd pfd{out_r.get(), POLLIN, 0};
            // Short polls: a program that exits while a background child keeps the
            // output pipe open must not make us wait for that child.
            int n = ::poll(&pfd, 1, static_cast<int>(std::min<long long>(left.count(), 200)));
            if (n > 0) {
                char buf[4096];
                ssize_t r = ::read(out_r.get(), buf, sizeof buf);
                if (r > 0 && raw.size() < kProgramOutputLimit * 4)
                    raw.append(buf, static_cast<size_t>(r));
                if (r == 0) eof = true;
            }
        } else {
            ::usleep(20 * 1000);
        }
        exited = child->try_wait(&status);
    }
    // What the program wrote just before it exited is still in the pipe.
    set_nonblock(out_r.get(), true);
    char buf[4096];
    ssize_t r;
    while (!run.timed_out && raw.size() < kProgramOutputLimit * 4 &&
           (r = ::read(out_r.get(), buf, sizeof buf)) > 0)
        raw.append(buf, static_cast<size_t>(r));
    run.wait_status = status;
    run.output = clean_output(raw, kProgramOutputLimit);
    run.outcome = run.timed_out ? ProgramOutcome::temporary : classify_program_exit(status);
    return run;
}

std::string program_reply(const std::string& command, const ProgramRun& run, long timeout_s) {
    std::string what = "program \"" + clean_output(command, 200) + "\"";
    std::string how;
    if (run.timed_out) how = " timed out after " + std::to_string(timeout_s) + "s";
    else if (WIFSIGNALED(run.wait_status))
        how = " killed by signal " + std::to_string(WTERMSIG(run.wait_status));
    else how = " exited with status " + std::to_string(WEXITSTATUS(run.wait_status));
    std::string tail = run.output.empty() ? "" : ": " + run.output;
    if (run.outcome == ProgramOutcome::permanent) return "550 5.3.0 " + what + how + tail;
    return "451 4.3.0 " + what + how + tail;
}

}  // namespace local
