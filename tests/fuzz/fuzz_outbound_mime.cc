// Fuzz target: the 8bit -> quoted-printable downgrade of courieresmtp
// (esmtp/outbound_mime.h). Invariants: quoted_printable() output is 7-bit, its lines are
// at most 76 characters, and it decodes back to the body exactly; a converted message
// is 7-bit throughout.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include "esmtp/outbound_mime.h"

// outbound_mime.cc uses this one helper of outbound_smtp.cc, which would otherwise drag
// the whole SMTP client (sockets, TLS) into the target. Same definition.
namespace outbound {
bool has_8bit(std::string_view s) {
    for (char c : s)
        if (static_cast<unsigned char>(c) > 127) return true;
    return false;
}
}  // namespace outbound

static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Strict RFC 2045 6.7 decoding of LF-separated lines; false on anything malformed.
static bool qp_decode(std::string_view qp, std::string* out) {
    for (size_t i = 0; i < qp.size(); ++i) {
        char c = qp[i];
        if (c != '=') {
            out->push_back(c);
            continue;
        }
        if (i + 1 < qp.size() && qp[i + 1] == '\n') {   // soft line break
            ++i;
            continue;
        }
        if (i + 1 == qp.size()) return true;           // soft break at the very end
        if (i + 2 >= qp.size()) return false;
        int h = hex(qp[i + 1]), l = hex(qp[i + 2]);
        if (h < 0 || l < 0) return false;
        out->push_back(static_cast<char>(h * 16 + l));
        i += 2;
    }
    return true;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string in(reinterpret_cast<const char*>(data), size);
    std::string qp = outbound::quoted_printable(in);
    size_t line = 0;
    for (char c : qp) {
        if (static_cast<unsigned char>(c) > 127) std::abort();
        if (c == '\n') {
            line = 0;
        } else if (++line > 76) {
            std::abort();
        }
    }
    std::string decoded;
    if (!qp_decode(qp, &decoded) || decoded != in) std::abort();

    if (auto m = outbound::convert_to_7bit(in)) {
        for (char c : *m)
            if (static_cast<unsigned char>(c) > 127) std::abort();
    }
    return 0;
}
