// The text a content rule sees (pcrefilter(8)): every header field unfolded, and the
// body lines of every text part decoded from quoted-printable or base64 (RFC 2045 6.7,
// 6.8), walking multipart/* (RFC 2046 5.1) and message/rfc822 parts. Pure functions, no
// I/O: they only read the message, so hostile MIME can at worst yield odd lines.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace pcrefilter {

struct MessageText {
    // Header fields in order: the message's own, then those of each MIME part and
    // attached message as the walk meets them (Postfix applies header_checks to all
    // three kinds by default). Folding removed, CR and LF dropped.
    std::vector<std::string> headers;
    // Decoded lines of text/* parts (and parts without Content-Type, text/plain by
    // default), without line ends. Other parts (images, archives) are skipped.
    std::vector<std::string> body_lines;
};

MessageText extract_text(std::string_view message);

// One folded header field as a single line: the CR/LF pairs of folding are removed and
// the whitespace after them kept (RFC 5322 2.2.3); a trailing line end is dropped.
std::string unfold_header(std::string_view raw);
// Quoted-printable as RFC 2045 6.7 asks a lenient decoder to read it: "=XX" (either
// case) is a byte, "=" at a line end is a soft break, a malformed "=" stays as it is,
// and trailing whitespace of an encoded line is dropped.
std::string decode_quoted_printable(std::string_view text);
// Base64 as RFC 2045 6.8 asks: characters outside the alphabet (line breaks, junk) are
// ignored, decoding ends at the first "="; an incomplete last group keeps its bytes.
std::string decode_base64(std::string_view text);
// The value of a parameter of a Content-Type style header value ("boundary",
// "charset"): quoted or bare, name compared case-insensitively; "" when absent.
std::string mime_parameter(std::string_view header_value, std::string_view name);

}  // namespace pcrefilter
