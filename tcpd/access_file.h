// The access file of couriertcpd(1), "ACCESS FILE": which keys a connection is looked
// up under (most specific first), what a record's value means, and the text lines
// makesmtpaccess(8) compiles (netblocks, the ":hhhh" IPv6 form, CIDR expanded here).
// Pure: no file or database is touched, so every rule is unit-tested.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>
#include "lib/result.h"

namespace tcpd {

// The keys to try for a remote address (its text form as in TCPREMOTEIP), most
// specific first: "1.2.3.4", "1.2.3", "1.2", "1", "*"; for IPv6
// ":2001:0db8:0000:...:0001" down to ":2001", then "*". IPv4-mapped IPv6 addresses are
// looked up as IPv4. Empty for text that is not an address.
std::vector<std::string> access_keys(std::string_view ip);

// -accesslocal: "1.2.3.4.25", "1.2.3.4", "*.25" for the local address and port.
std::vector<std::string> access_local_keys(std::string_view ip, unsigned port);

// The full ":hhhh:...:hhhh" spelling of an IPv6 address (lowercase, zero-padded).
std::optional<std::string> ipv6_access_form(std::string_view ip);

// A record's value: "deny", or "allow" followed by ",NAME" / ",NAME=value" items.
struct AccessRule {
    bool allow = true;
    std::vector<std::pair<std::string, std::string>> variables;   // NAME without '=' -> ""
    std::optional<unsigned> max_per_ip() const;                   // MAXCPERIP, when a number
};
Result<AccessRule> parse_access_value(std::string_view value);

// One line of the text file, as makesmtpaccess compiles it: the database records it
// stands for (a CIDR block becomes several), none for blank lines and comments.
// The error text is the reason only; the caller adds file:line.
using AccessRecords = std::vector<std::pair<std::string, std::string>>;
Result<AccessRecords> compile_access_line(std::string_view line);

// Most records one CIDR line may expand to (an IPv6 prefix not on a 16-bit boundary
// needs up to 2^15 of them: refuse what no administrator means).
constexpr unsigned k_max_cidr_expansion = 256;

}  // namespace tcpd
