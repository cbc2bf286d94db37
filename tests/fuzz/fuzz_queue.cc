// Fuzz target: the queue file envelope and status log (lib/queue.h), the records
// courierd reads after a crash. A parsed envelope formatted again must parse to the
// same envelope; the status log parser must never crash on torn or hostile input.
#include <cstdint>
#include <cstdlib>
#include <string>
#include "lib/queue.h"

static bool same(const QueueEnvelope& a, const QueueEnvelope& b) {
    if (a.id.text != b.id.text || a.arrival != b.arrival || a.sender != b.sender ||
        a.source != b.source || a.ret != b.ret || a.envid != b.envid || a.body != b.body ||
        a.smtputf8 != b.smtputf8 || a.remote_ip != b.remote_ip || a.helo != b.helo ||
        a.auth_user != b.auth_user || a.vhost != b.vhost || a.data_size != b.data_size ||
        a.rcpts.size() != b.rcpts.size())
        return false;
    for (size_t i = 0; i < a.rcpts.size(); ++i) {
        const auto& x = a.rcpts[i];
        const auto& y = b.rcpts[i];
        if (x.address != y.address || x.module != y.module || x.host != y.host || x.orcpt != y.orcpt ||
            x.notify != y.notify)
            return false;
    }
    return true;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string in(reinterpret_cast<const char*>(data), size);
    size_t off = 0;
    if (auto env = parse_envelope(in, &off)) {
        if (off > in.size()) std::abort();
        std::string again = format_envelope(*env);
        size_t off2 = 0;
        auto env2 = parse_envelope(again, &off2);
        if (!env2 || !same(*env, *env2) || off2 != again.size()) std::abort();
    }
    for (const auto& r : parse_status_log(in)) {
        auto back = parse_status_log(format_status(r));
        if (back.size() != 1) std::abort();
    }
    (void)QueueId::parse(in);
    return 0;
}
