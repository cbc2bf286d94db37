// RFC 5322 message headers: splitting the header block into fields (unfolding, 2.2.3)
// and reading the addresses of an address-list (3.4: mailboxes, display names, angle
// addresses, groups, comments, quoted strings), for sendmail -t and the From: checks
// of locally submitted mail. Pure functions, no I/O.
#pragma once
#include <string>
#include <string_view>
#include <vector>

struct HeaderField {
    std::string name;    // as written
    std::string raw;     // the whole field, name, colon and folded value, with its LF(s)
    std::string value;   // unfolded value after the colon, CR/LF removed, trimmed
};

// Splits a header block (everything before the first empty line) into fields. A line
// that is neither a field nor a continuation (no colon) is kept as a field with an
// empty name, so that nothing is lost when the block is written back.
std::vector<HeaderField> parse_header_block(std::string_view block);
bool header_name_is(const HeaderField& f, std::string_view name);   // case-insensitive

// The addr-specs of an address-list, in order ("local@domain" or a bare "local");
// display names, comments and group names are dropped. Unparseable items are skipped.
std::vector<std::string> parse_address_list(std::string_view value);
