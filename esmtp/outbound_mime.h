// Downgrading an 8-bit message for a server without 8BITMIME (RFC 6152 section 3:
// the client converts, or returns the message): every MIME part whose body holds 8-bit
// bytes is re-encoded as quoted-printable (RFC 2045 6.7), recursively through
// multipart/* and message/rfc822. Headers with 8-bit bytes, and parts declared
// "binary", cannot be converted.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace outbound {

// The LF-stored message with all 8-bit bodies as quoted-printable; nullopt when it
// cannot be done.
std::optional<std::string> convert_to_7bit(std::string_view message);
// Quoted-printable of one body with LF line ends (soft breaks keep lines <= 76).
std::string quoted_printable(std::string_view body);

}  // namespace outbound
