// courieresmtpd's guards and switches as pure rules (see smtpd_guards.h).
#include "esmtp/smtpd_guards.h"
#include <charconv>
#include <cstdlib>
#include <fnmatch.h>
#include <sys/statvfs.h>
#include "lib/address.h"

namespace {
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string one_line(std::string_view text) {
    std::string out(text);
    while (!out.empty() && (out.back() == '\r' || out.back() == '\n' || out.back() == ' ')) out.pop_back();
    for (char& c : out)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
    return out;
}

// "d.ddd.ddd" at the start of text: the length of the enhanced code, else 0.
size_t enhanced_code_length(std::string_view text) {
    size_t i = 0;
    for (int part = 0; part < 3; ++part) {
        size_t start = i;
        while (i < text.size() && is_digit(text[i]) && i - start < 3) ++i;
        if (i == start) return 0;
        if (part < 2) {
            if (i >= text.size() || text[i] != '.') return 0;
            ++i;
        }
    }
    return (i == text.size() || text[i] == ' ') ? i : 0;
}
}  // namespace

std::string block_reply(std::string_view block_text) {
    std::string text = one_line(block_text);
    bool has_code = text.size() >= 4 && (text[0] == '4' || text[0] == '5') && is_digit(text[1]) &&
                    is_digit(text[2]) && (text[3] == ' ' || text[3] == '-');
    if (!has_code) return "550 5.7.1 " + text;
    std::string code = text.substr(0, 3);
    std::string rest = text.substr(4);
    // The last line of a reply ends with "<code> "; a "-" would leave the client waiting.
    if (enhanced_code_length(rest) > 0) return code + " " + rest;
    return code + " " + std::string(1, code[0]) + ".7.1 " + rest;
}

std::string strip_enhanced_code(std::string_view line) {
    if (line.size() < 4 || !is_digit(line[0]) || (line[3] != ' ' && line[3] != '-')) return std::string(line);
    std::string_view rest = line.substr(4);
    size_t n = enhanced_code_length(rest);
    if (n == 0) return std::string(line);
    rest.remove_prefix(n);
    if (!rest.empty()) rest.remove_prefix(1);
    return std::string(line.substr(0, 4)) + std::string(rest);
}

bool spool_space_low(uint64_t available, uint64_t minimum) { return minimum > 0 && available < minimum; }

bool load_too_high(double load, double maximum) { return maximum > 0 && load > maximum; }

std::optional<double> parse_load_setting(std::string_view text) {
    if (text.empty() || text.size() > 32) return std::nullopt;
    std::string s(text);
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (end != s.c_str() + s.size() || !(v >= 0) || v > 1e6) return std::nullopt;
    return v;
}

HeloPatterns HeloPatterns::parse(std::string_view text, const std::string& origin,
                                 std::vector<std::string>* errors) {
    HeloPatterns p;
    p.origin_ = origin;
    int number = 0;
    size_t pos = 0;
    while (pos <= text.size()) {
        size_t nl = text.find('\n', pos);
        std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
        pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
        ++number;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty() || line[0] == '#' || is_space(line[0])) continue;
        auto fail = [&](const std::string& why) {
            if (errors) errors->push_back(origin + ":" + std::to_string(number) + ": " + why);
        };
        size_t end = 0;
        while (end < line.size() && !is_space(line[end])) ++end;
        HeloRule r;
        r.pattern = std::string(line.substr(0, end));
        r.line = number;
        std::string_view rest = line.substr(end);
        while (!rest.empty() && is_space(rest.front())) rest.remove_prefix(1);
        while (!rest.empty() && is_space(rest.back())) rest.remove_suffix(1);
        if (rest.empty()) {
            fail("missing flags after the pattern");
            continue;
        }
        if (rest[0] == '!') {
            r.reject = one_line(rest.substr(1));
            if (r.reject.empty()) r.reject = "Access denied";
        } else {
            bool good = true;
            for (char c : rest) {
                if (c == 'S' || c == 'P' || c == 'A' || c == 'T' || c == 'E' || c == '-') continue;
                fail(std::string("unknown flag '") + c + "' (known: S P A T E, or !text)");
                good = false;
                break;
            }
            if (!good) continue;
            r.flags = std::string(rest);
        }
        p.rules_.push_back(std::move(r));
    }
    return p;
}

HeloPolicy HeloPatterns::match(std::string_view helo_name) const {
    HeloPolicy policy;
    std::string name(helo_name);
    for (const HeloRule& r : rules_) {
        if (::fnmatch(r.pattern.c_str(), name.c_str(), FNM_CASEFOLD) != 0) continue;
        policy.matched = true;
        policy.rule = origin_ + ":" + std::to_string(r.line) + " " + r.pattern;
        policy.reject = r.reject;
        for (char c : r.flags) {
            if (c == 'S') policy.strict = true;
            if (c == 'P') policy.no_pipelining = true;
            if (c == 'A') policy.require_auth = true;
            if (c == 'T') policy.tarpit = true;
            if (c == 'E') policy.no_ehlo = true;
        }
        return policy;   // the first matching line decides (ZMailer)
    }
    return policy;
}

bool plausible_helo_name(std::string_view name) {
    if (name.size() >= 2 && name.front() == '[' && name.back() == ']') return is_valid_domain(name);
    return name.find('.') != std::string_view::npos && name.back() != '.' && is_valid_domain(name);
}

std::optional<std::string> parse_etrn_argument(std::string_view args) {
    while (!args.empty() && is_space(args.back())) args.remove_suffix(1);
    bool subdomains = !args.empty() && args.front() == '@';
    std::string_view domain = subdomains ? args.substr(1) : args;
    if (domain.empty() || domain.size() > 253 || domain.front() == '[' || !is_valid_domain(domain))
        return std::nullopt;
    return (subdomains ? "@" : "") + lowercase_ascii(domain);
}

std::optional<uint64_t> available_kb(const std::string& path) {
    struct statvfs st;
    if (::statvfs(path.c_str(), &st) != 0) return std::nullopt;
    return static_cast<uint64_t>(st.f_bavail) * st.f_frsize / 1024;
}

std::optional<double> one_minute_load() {
    double load[1];
    if (::getloadavg(load, 1) != 1) return std::nullopt;
    return load[0];
}
