// Fuzz target: RFC 5321 paths and mailboxes (lib/address.h). Beyond not crashing, a
// parsed mailbox printed with str() must parse back to the same mailbox.
#include <cstdint>
#include <cstdlib>
#include <string>
#include "lib/address.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string in(reinterpret_cast<const char*>(data), size);
    if (auto p = parse_smtp_path(in); p && !p->null_path) {
        auto again = parse_smtp_path("<" + p->mailbox.str() + ">");
        if (!again || again->mailbox.local != p->mailbox.local || again->mailbox.domain != p->mailbox.domain)
            std::abort();
    }
    if (auto m = parse_mailbox(in)) {
        auto again = parse_mailbox(m->str());
        if (!again || again->local != m->local || again->domain != m->domain) std::abort();
    }
    (void)is_valid_domain(in);
    return 0;
}
