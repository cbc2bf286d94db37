// Fuzz target: the MIME walk and decoders of pcrefilter (filters/pcre/mime_text.h),
// which read every hostile message the content filter sees. Invariants: no crash or
// hang on any input; extracted headers and body lines hold no line ends; decoding never
// grows the text; quoted-printable and base64 written by our encoders decode back to
// the original bytes exactly.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include "esmtp/outbound_mime.h"
#include "filters/pcre/mime_text.h"

// outbound_mime.cc needs this one helper of outbound_smtp.cc (see fuzz_outbound_mime.cc).
namespace outbound {
bool has_8bit(std::string_view s) {
    for (char c : s)
        if (static_cast<unsigned char>(c) > 127) return true;
    return false;
}
}  // namespace outbound

static std::string base64_lines(std::string_view in) {
    static const char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    size_t col = 0;
    for (size_t i = 0; i < in.size(); i += 3) {
        unsigned v = static_cast<unsigned char>(in[i]) << 16;
        if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
        if (i + 2 < in.size()) v |= static_cast<unsigned char>(in[i + 2]);
        out += table[(v >> 18) & 63];
        out += table[(v >> 12) & 63];
        out += i + 1 < in.size() ? table[(v >> 6) & 63] : '=';
        out += i + 2 < in.size() ? table[v & 63] : '=';
        if ((col += 4) >= 76) {
            out += "\r\n";
            col = 0;
        }
    }
    return out;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    auto text = pcrefilter::extract_text(in);
    for (const auto& h : text.headers)
        if (h.find_first_of("\r\n") != std::string::npos) std::abort();
    for (const auto& l : text.body_lines)
        if (l.find('\n') != std::string::npos) std::abort();

    if (pcrefilter::decode_quoted_printable(in).size() > size) std::abort();
    if (pcrefilter::decode_base64(in).size() > size) std::abort();
    if (pcrefilter::decode_quoted_printable(outbound::quoted_printable(in)) != in) std::abort();
    if (pcrefilter::decode_base64(base64_lines(in)) != in) std::abort();
    (void)pcrefilter::mime_parameter(in, "boundary");
    return 0;
}
