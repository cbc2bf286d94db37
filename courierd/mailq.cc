// mailq: lists the messages in the queue (mailq(1)). "--json" gives the same as a JSON
// array, for scripts; "-s" the summary per destination domain and state (like Postfix's
// qshape). Thin main; the listing is queue_listing.cc.
// SECURITY: reads the spool, which only root and the mail user can; changes nothing.
#include <sysexits.h>
#include <unistd.h>
#include <cstdio>
#include <cstring>
#include "courierd/queue_listing.h"
#include "courierd/queue_scan.h"
#include "lib/fileio.h"
#include "lib/paths.h"

int main(int argc, char** argv) {
    bool json = argc == 2 && std::strcmp(argv[1], "--json") == 0;
    bool summary = argc == 2 && std::strcmp(argv[1], "-s") == 0;
    if (argc > 2 || (argc == 2 && !json && !summary)) {
        std::fputs("usage: mailq [--json | -s]\n", stderr);
        return EX_USAGE;
    }
    const Paths& p = paths();
    if (access(p.spool_msgs().c_str(), R_OK | X_OK) != 0) {
        std::fprintf(stderr, "mailq: cannot read the queue %s: %s\n", p.spool_msgs().c_str(),
                     std::strerror(errno));
        return EX_NOPERM;
    }
    std::vector<courierd::ListedMessage> msgs;
    scan_spool(p.spool_msgs(), [&](const QueueId& id) {
        size_t offset = 0;
        auto env = read_envelope(queue_file_path(p.spool, id), &offset);
        if (!env) return true;   // removed meanwhile
        auto log = read_file(status_file_path(p.spool, id), 16u * 1024 * 1024);
        msgs.push_back(courierd::list_message(
            *env, log ? parse_status_log(*log) : std::vector<StatusRecord>{}));
        return true;
    });
    std::string out = summary ? courierd::format_summary_text(courierd::summarize_by_domain(msgs))
                      : json ? courierd::format_listing_json(msgs) : courierd::format_listing_text(msgs);
    std::fwrite(out.data(), 1, out.size(), stdout);
    return EX_OK;
}
