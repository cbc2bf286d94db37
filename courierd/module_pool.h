// The delivery modules the scheduler keeps running (doc/architecture.md, "courierd and
// the modules"): one process per module.<name> file, requests buffered and written
// without blocking, replies read line by line. A module runs as the mail user when
// courierd is root, except the local module, which must stay root to become each
// recipient (architecture.md, "Privileges").
#pragma once
#include <sys/types.h>
#include <functional>
#include <memory>
#include <string>
#include <vector>
#include "courierd/module_config.h"
#include "lib/lineio.h"
#include "lib/process.h"
#include "lib/result.h"

class ModulePool {
public:
    struct Module {
        ModuleConfig config;
        ChildProcess child;
        std::unique_ptr<LineReader> reader;
        std::string pending_output;   // request bytes the pipe did not take yet
    };

    // Starts each module whose program exists; the others are logged and left out.
    // mail_uid/mail_gid: -1 when not root.
    void start(const std::vector<ModuleConfig>& configs, uid_t mail_uid, gid_t mail_gid);
    std::vector<ModuleConfig> running() const;
    size_t size() const { return modules_.size(); }
    Module& at(size_t i) { return modules_[i]; }

    void send(const std::string& module, const std::string& text);
    // Writes as much pending output as the pipe takes; an error means the module died.
    Status write_pending(size_t i);
    // Hands each complete line the module has written to on_line; an error for EOF (the
    // module exited), an overlong line, or whatever on_line returns.
    Status read_replies(size_t i, const std::function<Status(const std::string&)>& on_line);
    // Closes every module's stdin (the signal to finish), sends SIGTERM, and waits at
    // most timeout_ms before SIGKILL. A module it cannot signal (root, while we are the
    // mail user) is left to the supervisor, which kills the whole process group.
    void shutdown(int timeout_ms);

private:
    std::vector<Module> modules_;
};
