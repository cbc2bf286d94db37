// Fuzz target: the access file's text lines and record values (tcpd/access_file.h),
// administrator input compiled by makesmtpaccess. Invariants: a line never expands to
// more than k_max_cidr_expansion records; every compiled value parses as a rule;
// access keys end with "*" and the IPv6 access form is ":hhhh" x 8 in lower case.
#include <cstdint>
#include <cstdlib>
#include <string>
#include "tcpd/access_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string in(reinterpret_cast<const char*>(data), size);
    if (auto recs = tcpd::compile_access_line(in)) {
        if (recs->size() > tcpd::k_max_cidr_expansion) std::abort();
        for (const auto& [key, value] : *recs) {
            if (key.empty()) std::abort();
            (void)tcpd::parse_access_value(value);
        }
    }
    if (auto rule = tcpd::parse_access_value(in)) (void)rule->max_per_ip();
    auto keys = tcpd::access_keys(in);
    if (!keys.empty() && keys.back() != "*") std::abort();
    if (auto v6 = tcpd::ipv6_access_form(in)) {
        if (v6->size() != 40) std::abort();
        for (size_t i = 0; i < v6->size(); ++i) {
            char c = (*v6)[i];
            bool ok = i % 5 == 0 ? c == ':' : ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
            if (!ok) std::abort();
        }
    }
    (void)tcpd::access_local_keys(in, 25);
    return 0;
}
