// courieresmtp: the outbound ESMTP delivery module, kept running by courierd and fed
// requests on stdin (doc/architecture.md, "courierd and the modules"). Real delivery is
// issue 6; until then every recipient is deferred with 4.4.3, so mail to remote
// domains stays queued and is retried instead of being lost or bounced.
// SECURITY: runs as the mail user (drops to it when started as root); trusts only
// courierd, and still refuses a malformed request line rather than guessing.
#include <csignal>
#include <string>
#include <sysexits.h>
#include <unistd.h>
#include "lib/fileio.h"
#include "lib/lineio.h"
#include "lib/log.h"
#include "lib/module_protocol.h"
#include "lib/process.h"

namespace {
constexpr size_t kMaxRequestLine = 64 * 1024;
constexpr const char* kDeferText = "451 4.4.3 outbound ESMTP delivery is not available in this build";

std::string answer(const DeliveryRequest& req) {
    std::string out;
    for (const auto& rcpt : req.rcpts) {
        DeliveryResult r;
        r.id = req.id;
        r.index = rcpt.index;
        r.status = DeliveryStatus::defer;
        r.text = kDeferText;
        out += format_result(r);
    }
    return out + format_done(req.id);
}
}  // namespace

int main() {
    log_open("courieresmtp");
    ::signal(SIGPIPE, SIG_IGN);   // courierd gone: the write fails and we exit
    if (Status s = drop_to_mail_user(); !s) log_fatal("cannot drop to the mail user: " + s.error().text, EX_CONFIG);

    LineReader in(STDIN_FILENO, kMaxRequestLine);
    RequestParser parser;
    std::string line;
    for (;;) {
        switch (in.read_line(line)) {
        case LineReader::Status::line: break;
        case LineReader::Status::eof: return EX_OK;   // courierd closed our stdin
        case LineReader::Status::too_long: log_fatal("request line too long", EX_PROTOCOL);
        case LineReader::Status::error:
        case LineReader::Status::timeout: log_fatal("cannot read requests", EX_IOERR);
        }
        std::string error;
        auto req = parser.feed(line, &error);
        if (!error.empty()) log_fatal("bad request from courierd: " + error, EX_PROTOCOL);
        if (!req) continue;
        if (!write_all(STDOUT_FILENO, answer(*req))) log_fatal("cannot write results", EX_IOERR);
        // courierd logs each recipient's result; this line only says why they wait.
        log_info("outbound id=" + req->qid + " rcpts=" + std::to_string(req->rcpts.size()) +
                 " status=defer reason=not-available");
    }
}
