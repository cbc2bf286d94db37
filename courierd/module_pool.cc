// Running delivery modules; see module_pool.h.
#include "courierd/module_pool.h"
#include <poll.h>
#include <unistd.h>
#include <cerrno>
#include <csignal>
#include <ctime>
#include "lib/log.h"

namespace {

// A reply line holds ids, an index and an xtext SMTP reply: far below this.
constexpr size_t kMaxReplyLine = 16384;

bool runs_as_root(const ModuleConfig& m) { return m.name == "local"; }

}  // namespace

void ModulePool::start(const std::vector<ModuleConfig>& configs, uid_t mail_uid,
                       gid_t mail_gid) {
    for (const auto& cfg : configs) {
        if (access(cfg.prog.c_str(), X_OK) != 0) {
            log_error("courierd: module " + cfg.name + ": " + cfg.prog + " is not executable");
            continue;
        }
        SpawnOptions o;
        o.argv = {cfg.prog};
        o.pipe_stdin = o.pipe_stdout = true;
        if (!runs_as_root(cfg)) {
            o.uid = mail_uid;
            o.gid = mail_gid;
        }
        auto child = ChildProcess::spawn(o);
        if (!child) {
            log_error("courierd: module " + cfg.name + ": " + child.error().text);
            continue;
        }
        set_nonblock(child->stdin_fd(), true);
        set_nonblock(child->stdout_fd(), true);
        Module m;
        m.config = cfg;
        m.reader = std::make_unique<LineReader>(child->stdout_fd(), kMaxReplyLine);
        m.child = std::move(*child);
        log_info("courierd: started module " + cfg.name + " pid=" +
                 std::to_string(m.child.pid()));
        modules_.push_back(std::move(m));
    }
}

std::vector<ModuleConfig> ModulePool::running() const {
    std::vector<ModuleConfig> out;
    for (const auto& m : modules_) out.push_back(m.config);
    return out;
}

void ModulePool::send(const std::string& module, const std::string& text) {
    for (auto& m : modules_)
        if (m.config.name == module) m.pending_output += text;
}

Status ModulePool::write_pending(size_t i) {
    Module& m = modules_[i];
    while (!m.pending_output.empty()) {
        ssize_t n = write(m.child.stdin_fd(), m.pending_output.data(), m.pending_output.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return ok_status();
        if (n < 0) return sys_error("module " + m.config.name + ": write");
        m.pending_output.erase(0, static_cast<size_t>(n));
    }
    return ok_status();
}

Status ModulePool::read_replies(size_t i,
                                const std::function<Status(const std::string&)>& on_line) {
    Module& m = modules_[i];
    std::string line;
    for (;;) {
        switch (m.reader->read_line(line, 0)) {
        case LineReader::Status::line:
            if (Status s = on_line(line); !s) return s;
            break;
        case LineReader::Status::timeout:
            return ok_status();
        case LineReader::Status::too_long:
            return Error{0, "module " + m.config.name + ": reply line too long"};
        case LineReader::Status::eof:
            return Error{0, "module " + m.config.name + " exited"};
        case LineReader::Status::error:
            return sys_error("module " + m.config.name + ": read");
        }
    }
}

void ModulePool::shutdown(int timeout_ms) {
    for (auto& m : modules_) {
        m.child.close_stdin();
        m.child.kill(SIGTERM);
    }
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (auto& m : modules_) {
        for (;;) {
            int status;
            if (m.child.try_wait(&status)) break;
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            long elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
            if (elapsed >= timeout_ms) {
                m.child.kill(SIGKILL);
                if (!m.child.try_wait(&status)) {
                    usleep(100000);
                    if (!m.child.try_wait(&status)) m.child.release();   // the supervisor's job now
                }
                break;
            }
            usleep(20000);
        }
    }
    modules_.clear();
}
