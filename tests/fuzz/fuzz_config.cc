// Fuzz target: administrator input (config/config.h): settings files, time intervals
// and the locals matching rule.
#include <cstdint>
#include <string>
#include <vector>
#include "config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string in(reinterpret_cast<const char*>(data), size);
    std::vector<std::string> errors;
    Settings s = Settings::parse(in, &errors, "fuzz");
    for (const auto& [k, v] : s.all()) (void)s.get_long(k, 0);
    (void)parse_interval(in);
    size_t nl = in.find('\n');
    std::string domain = in.substr(0, nl);
    std::vector<std::string> list;
    if (nl != std::string::npos) {
        size_t start = nl + 1;
        while (start < in.size()) {
            size_t e = in.find('\n', start);
            list.push_back(in.substr(start, e == std::string::npos ? std::string::npos : e - start));
            if (e == std::string::npos) break;
            start = e + 1;
        }
    }
    (void)domain_in_list(domain, list);
    return 0;
}
