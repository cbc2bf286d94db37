// libcourierfilter: the library for writing a global mail filter in C++ (doc/filters.md).
// A FilterServer listens on the filter's Unix socket, reads each request and envelope
// submit sends, calls the handler once per message and writes its Verdict back.
// SECURITY: runs as the mail user under courierfilter. Only the mail user can reach the
// socket (its folder is 0750); requests are still bounded and checked (absolute paths,
// line lengths, the envelope's version) before the handler sees them.
#pragma once
#include <functional>
#include <string>
#include <vector>
#include "filters/filter_protocol.h"
#include "lib/result.h"

namespace courierfilter {

// One message to judge.
struct FilterMessage {
    Envelope envelope;
    std::string message_path;    // the message file (LF line ends, no Received: of ours)
    std::string envelope_path;
    // The whole message file; an error when it is larger than limit bytes.
    Result<std::string> read_message(size_t limit = 64 * 1024 * 1024) const;
};

// What the handler decides. Build it with the named constructors; add headers with
// with_header(). The text of reject/tempfail may start with an enhanced status code
// ("5.7.1 ..."); one is added when it does not.
struct Verdict {
    Answer answer;

    static Verdict accept();                              // 250, next filter runs
    static Verdict accept_skip_rest();                    // 200, no further filter
    static Verdict reject(std::string text, int code = 550);
    static Verdict tempfail(std::string text, int code = 451);
    static Verdict discard(std::string reason = "", std::string client_text = "2.0.0 Ok");
    static Verdict hold(std::string reason = "");
    Verdict& with_header(std::string header_line);       // prepend "Name: value"
};

using Handler = std::function<Verdict(const FilterMessage&)>;

struct FilterServerOptions {
    size_t max_concurrent = 16;     // connections served at once, one thread each
    int read_timeout_ms = 30000;    // for submit's request lines
    // courierfilter's "stop" signal. Set it false when stdin is not courierfilter's
    // pipe (a filter run by hand with stdin on /dev/null would stop at once).
    bool stop_on_stdin_eof = true;
};

class FilterServer {
public:
    FilterServer(std::string socket_path, Handler handler, FilterServerOptions opts = {});
    ~FilterServer();
    FilterServer(const FilterServer&) = delete;
    FilterServer& operator=(const FilterServer&) = delete;

    // Binds "<dir>/.<name>", listens, renames to the socket path (mode 0660).
    Status listen();
    // Serves until stdin ends (when stop_on_stdin_eof), SIGTERM/SIGINT, or stop();
    // waits for connections in progress, removes the socket. Returns 0, or 1 on error.
    int run();
    void stop();   // from another thread or a signal-safe context: wakes run()

    // Serves one accepted connection (also what tests call with a socketpair).
    void serve_connection(int fd);

private:
    struct Impl;
    Impl* impl_;
};

// A filter's whole main: socket from argv[1], else $FILTERSOCKET; logs to stderr.
// Returns the exit code.
int run_filter(int argc, char** argv, Handler handler, FilterServerOptions opts = {});

}  // namespace courierfilter
