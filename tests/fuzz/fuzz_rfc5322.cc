// Fuzz target: RFC 5322 header blocks (lib/rfc5322.h): splitting into fields with
// unfolding, and address lists. Invariants: the fields' raw texts put back together give
// the block exactly (nothing lost or added); unfolded values hold no line feed; a name,
// when present, is followed by a colon in the raw field; addresses hold no line feed.
#include <cstdint>
#include <cstdlib>
#include <string>
#include "lib/rfc5322.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string in(reinterpret_cast<const char*>(data), size);
    std::string back;
    for (const auto& f : parse_header_block(in)) {
        back += f.raw;
        if (f.value.find('\n') != std::string::npos) std::abort();
        if (!f.name.empty() && f.raw.compare(0, f.name.size() + 1, f.name + ":") != 0) std::abort();
        (void)header_name_is(f, "From");
        for (const auto& a : parse_address_list(f.value))
            if (a.find('\n') != std::string::npos) std::abort();
    }
    if (back != in) std::abort();
    for (const auto& a : parse_address_list(in))
        if (a.empty()) std::abort();
    return 0;
}
