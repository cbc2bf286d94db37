// The rules file of pcrefilter: see rules.h.
#include "filters/pcre/rules.h"

#include "config/config.h"
#include "lib/address.h"

namespace pcrefilter {

namespace {
bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
    while (!s.empty() && (is_space(s.front()) || s.front() == '\r')) s.remove_prefix(1);
    while (!s.empty() && (is_space(s.back()) || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

std::string_view next_word(std::string_view& rest) {
    rest = trim(rest);
    size_t end = 0;
    while (end < rest.size() && !is_space(rest[end])) ++end;
    std::string_view word = rest.substr(0, end);
    rest.remove_prefix(end);
    return word;
}

Error line_error(const std::string& origin, std::string_view why) {
    return Error{0, origin + ": " + std::string(why)};
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// "C.S.D" of RFC 3463: class digit, then 1-3 and 1-3 digits.
bool is_enhanced_code(std::string_view s) {
    size_t dot1 = s.find('.'), dot2 = dot1 == std::string_view::npos ? dot1 : s.find('.', dot1 + 1);
    if (dot1 != 1 || dot2 == std::string_view::npos) return false;
    std::string_view subject = s.substr(2, dot2 - 2), detail = s.substr(dot2 + 1);
    auto digits = [](std::string_view d) {
        if (d.empty() || d.size() > 3) return false;
        for (char c : d) if (!is_digit(c)) return false;
        return true;
    };
    return is_digit(s[0]) && digits(subject) && digits(detail);
}

// A header to prepend: "Name: value", the name printable ASCII without colon or space.
bool is_header_line(std::string_view h) {
    size_t colon = h.find(':');
    if (colon == 0 || colon == std::string_view::npos) return false;
    for (unsigned char c : h.substr(0, colon))
        if (c <= 32 || c >= 127) return false;
    return true;
}
}  // namespace

std::string_view action_name(RuleAction action) {
    switch (action) {
    case RuleAction::reject: return "REJECT";
    case RuleAction::discard: return "DISCARD";
    case RuleAction::hold: return "HOLD";
    case RuleAction::warn: return "WARN";
    case RuleAction::prepend: return "PREPEND";
    }
    return "?";
}

Result<std::string> reject_reply(std::string_view text) {
    text = trim(text);
    if (text.empty()) return std::string("550 5.7.1 Message content rejected");
    bool has_code = text.size() >= 3 && is_digit(text[0]) && is_digit(text[1]) && is_digit(text[2]) &&
                    (text.size() == 3 || is_space(text[3]));
    if (!has_code) return "550 5.7.1 " + std::string(text);
    if (text[0] != '4' && text[0] != '5')
        return Error{0, "reply code " + std::string(text.substr(0, 3)) + " is not 4xx or 5xx"};
    std::string code(text.substr(0, 3));
    std::string_view rest = trim(text.substr(3));
    size_t sp = rest.find(' ');
    std::string_view first = rest.substr(0, sp);
    if (is_enhanced_code(first)) {
        if (first[0] != code[0]) return Error{0, "enhanced code " + std::string(first) + " does not match " + code};
        rest = trim(sp == std::string_view::npos ? std::string_view() : rest.substr(sp));
        code += " " + std::string(first);
    } else {
        code += code[0] == '4' ? " 4.7.1" : " 5.7.1";
    }
    return code + " " + std::string(rest.empty() ? std::string_view("Message content rejected") : rest);
}

Result<Rule> parse_rule_line(std::string_view line, const std::string& origin) {
    Rule rule;
    rule.origin = origin;
    for (unsigned char c : line)
        if ((c < 32 && c != '\t' && c != '\r') || c == 127) return line_error(origin, "control character in rule");
    std::string_view rest = line;
    std::string scope = lowercase_ascii(next_word(rest));
    if (scope == "header") rule.scope = RuleScope::header;
    else if (scope == "body") rule.scope = RuleScope::body;
    else return line_error(origin, "expected \"header\" or \"body\", not \"" + scope + "\"");
    rest = trim(rest);
    if (rest.empty() || rest[0] != '/') return line_error(origin, "expected /regex/ after " + scope);
    size_t i = 1;
    for (; i < rest.size() && rest[i] != '/'; ++i)
        if (rest[i] == '\\') ++i;   // "\/" does not end the pattern; PCRE2 reads it as "/"
    if (i >= rest.size()) return line_error(origin, "regex has no closing /");
    rule.pattern = rest.substr(1, i - 1);
    if (rule.pattern.empty()) return line_error(origin, "empty regex");
    for (++i; i < rest.size() && !is_space(rest[i]); ++i) {
        switch (rest[i]) {
        case 'i': rule.caseless = !rule.caseless; break;
        case 'x': rule.extended = true; break;
        case 's': rule.dotall = true; break;
        default: return line_error(origin, std::string("unknown regex flag '") + rest[i] + "'");
        }
    }
    rest.remove_prefix(i);
    std::string action = lowercase_ascii(next_word(rest));
    std::string_view text = trim(rest);
    rule.text = text;
    if (action == "reject") {
        auto reply = reject_reply(text);
        if (!reply) return line_error(origin, reply.error().text);
        rule.action = RuleAction::reject;
        rule.text = *reply;
    } else if (action == "discard") {
        rule.action = RuleAction::discard;
    } else if (action == "hold") {
        rule.action = RuleAction::hold;
    } else if (action == "warn") {
        rule.action = RuleAction::warn;
    } else if (action == "prepend") {
        if (!is_header_line(text)) return line_error(origin, "PREPEND needs a header \"Name: value\"");
        rule.action = RuleAction::prepend;
    } else if (action.empty()) {
        return line_error(origin, "missing action (REJECT, DISCARD, HOLD, WARN or PREPEND)");
    } else {
        return line_error(origin, "unknown action \"" + action + "\"");
    }
    return rule;
}

Result<std::vector<Rule>> parse_rules(std::string_view text, const std::string& file) {
    std::vector<Rule> rules;
    for (const ConfigLine& line : split_config_lines(text, file)) {
        auto rule = parse_rule_line(line.text, line.where);
        if (!rule) return rule.error();
        rules.push_back(std::move(*rule));
    }
    return rules;
}

}  // namespace pcrefilter
