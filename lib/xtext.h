// xtext (RFC 3461 section 4): the encoding used for every address, path and free-text
// field in the MTA's own records (queue files, pipe protocols), so that a field never
// contains a space, control byte or newline and each record stays one parseable line.
#pragma once
#include <charconv>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

std::string xtext_encode(std::string_view raw);
// nullopt when the input is not valid xtext (bad "+XX" or a forbidden byte).
std::optional<std::string> xtext_decode(std::string_view enc);

// A record line split at single spaces into its fields (a trailing CR is dropped);
// "a  b" has an empty middle field, which the record's parser then refuses.
std::vector<std::string_view> split_record_fields(std::string_view line);

// A whole field as an unsigned or signed decimal number, nothing else.
template <typename N>
bool parse_decimal(std::string_view s, N& out) {
    if (s.empty()) return false;
    auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    return r.ec == std::errc() && r.ptr == s.data() + s.size();
}
