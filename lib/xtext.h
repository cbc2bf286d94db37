// xtext (RFC 3461 section 4): the encoding used for every address, path and free-text
// field in the MTA's own records (queue files, pipe protocols), so that a field never
// contains a space, control byte or newline and each record stays one parseable line.
#pragma once
#include <optional>
#include <string>
#include <string_view>

std::string xtext_encode(std::string_view raw);
// nullopt when the input is not valid xtext (bad "+XX" or a forbidden byte).
std::optional<std::string> xtext_decode(std::string_view enc);
