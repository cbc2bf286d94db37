// DeliveryDispatcher: courierlocal's long-running parent. Reads module requests from
// courierd, forks one child per delivery, and forwards each child's results (read from
// a pipe the child writes) followed by "done" (architecture.md, "courierd and the
// modules"). Several deliveries run at once; requests beyond the limit are deferred.
// SECURITY: runs as root so that each child can become its recipient; the parent itself
// only looks accounts up and opens queue files, never a file in a home directory.
#pragma once
#include <sys/types.h>
#include <map>
#include <set>
#include <string>
#include <vector>
#include "lib/module_protocol.h"
#include "lib/unique_fd.h"
#include "local/delivery.h"

struct DispatcherOptions {
    int in_fd = 0;                     // requests from courierd
    int out_fd = 1;                    // results to courierd
    size_t max_children = 10;          // MAXDELS of module.local
    unsigned child_timeout_s = 3600;   // a child still running then is killed (SIGALRM)
    std::string hostname;              // for Maildir unique names
    LocalConfig config;                // DEFAULTDELIVERY, dotextension, ...
};

class DeliveryDispatcher {
public:
    explicit DeliveryDispatcher(DispatcherOptions opts);
    DeliveryDispatcher(const DeliveryDispatcher&) = delete;
    DeliveryDispatcher& operator=(const DeliveryDispatcher&) = delete;
    ~DeliveryDispatcher();

    // Serves requests until EOF on in_fd and every child has finished. Returns the
    // exit code: 0, EX_PROTOCOL after a malformed request, EX_IOERR when courierd
    // cannot be written to, EX_OSERR when the SIGCHLD pipe cannot be set up.
    int run();

private:
    struct Child {
        DeliveryRequest req;
        UniqueFd results;          // read end of the child's result pipe
        std::string output;        // what the child wrote so far (bounded)
        bool reaped = false;
        int wait_status = 0;
    };

    void read_requests();
    void handle_request(const DeliveryRequest& req);
    void start_child(const DeliveryRequest& req, const Account& account);
    [[noreturn]] void child_main(const DeliveryRequest& req, const Account& account,
                                 int queue_fd, int result_fd);
    [[noreturn]] void worker_main(const DeliveryRequest& req, const Account& account,
                                  int queue_fd, int result_fd, int forward_fd);
    void record_steps(const Child& child, const std::vector<DeliveryResult>& results);
    void read_child(pid_t pid, Child& child);
    void reap_children();
    void finish_ready_children();
    void finish_child(const Child& child);
    void refuse_all(const DeliveryRequest& req, DeliveryStatus status, const std::string& text);
    void emit(const DeliveryRequest& req, const std::vector<DeliveryResult>& results);

    DispatcherOptions opts_;
    RunningAs self_;
    UniqueFd sigchld_read_, sigchld_write_;
    RequestParser parser_;
    std::string in_buf_;
    bool input_done_ = false;
    bool output_broken_ = false;
    int exit_code_ = 0;
    std::map<pid_t, Child> children_;
    // Steps (program, mbox, forward instructions) done by earlier attempts of a
    // delivery that was then deferred: kept in memory until the recipient's final
    // result, so a retry does not run them again (see courierlocal(8)).
    std::set<std::string> done_steps_;
};
