// Fuzz target: xtext (lib/xtext.h). decode(encode(x)) == x for every input, and
// whatever decode accepts re-encodes to input that decodes to the same bytes.
#include <cstdint>
#include <cstdlib>
#include <string>
#include "lib/xtext.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string in(reinterpret_cast<const char*>(data), size);
    auto round = xtext_decode(xtext_encode(in));
    if (!round || *round != in) std::abort();
    if (auto d = xtext_decode(in)) {
        auto again = xtext_decode(xtext_encode(*d));
        if (!again || *again != *d) std::abort();
    }
    (void)split_record_fields(in);
    return 0;
}
