// Fuzz target: the aliases text parser and compiler (submit/aliases.h), administrator
// input (with :include: files) compiled by makealiases. Invariants: with no error, each
// recipient of an alias is listed once, keys are lower case, and a value encoded for
// aliases.dat decodes to the same list.
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include "submit/aliases.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string in(reinterpret_cast<const char*>(data), size);
    // The input is split at the first NUL: the aliases file, then the include file.
    std::string text = in.substr(0, in.find('\0'));
    std::string include = text.size() < in.size() ? in.substr(text.size() + 1) : "";
    auto is_local = [](std::string_view d) { return d == "example.com" || d == "localhost"; };
    auto reader = [&](const std::string& path, std::string* why) -> std::optional<std::string> {
        if (path == "/etc/list") return include;
        *why = "no such file";
        return std::nullopt;
    };
    auto c = submit::compile_aliases({{"aliases", text}}, reader, is_local);
    if (c.errors.empty()) {
        for (const auto& [key, rcpts] : c.table) {
            for (char ch : key)
                if (ch >= 'A' && ch <= 'Z') std::abort();
            std::set<std::string> seen(rcpts.begin(), rcpts.end());
            if (seen.size() != rcpts.size()) std::abort();
            bool has_lf = false;
            for (const auto& r : rcpts) has_lf |= r.empty() || r.find('\n') != std::string::npos;
            if (!has_lf && submit::decode_alias_value(submit::encode_alias_value(rcpts)) != rcpts) std::abort();
        }
    }
    (void)submit::alias_key(text, is_local);
    return 0;
}
