// The rules file of pcrefilter (pcrefilter(5)), in the spirit of Postfix's
// header_checks and body_checks: one rule a line, "header|body /regex/flags ACTION
// [text]". Parsing only; the regexes are compiled by matcher.h. Every error names
// file:line, so an administrator can find the rule that was refused.
#pragma once
#include <string>
#include <string_view>
#include <vector>
#include "lib/result.h"

namespace pcrefilter {

enum class RuleScope { header, body };
enum class RuleAction { reject, discard, hold, warn, prepend };

struct Rule {
    RuleScope scope = RuleScope::header;
    std::string pattern;        // between the slashes, as written ("\/" stays escaped)
    bool caseless = true;       // Postfix's default; the "i" flag toggles it
    bool extended = false;      // "x": whitespace and # comments in the pattern ignored
    bool dotall = false;        // "s": "." also matches a line end
    RuleAction action = RuleAction::warn;
    std::string text;           // REJECT: the full reply; PREPEND: the header; others: log text
    std::string origin;         // "file:line", named in every log line about this rule
};

// Parses the whole file; the first bad line makes it an error "file:line: why".
Result<std::vector<Rule>> parse_rules(std::string_view text, const std::string& file);
// Parses one line that is not blank or a comment (file:line already in origin).
Result<Rule> parse_rule_line(std::string_view line, const std::string& origin);
// The SMTP reply of REJECT [text]: a leading "4xx"/"5xx" code (and enhanced code) is
// kept; otherwise 550 5.7.1 goes before the text. nullopt-like error when the code is
// not a 4xx or 5xx reply.
Result<std::string> reject_reply(std::string_view text);
std::string_view action_name(RuleAction action);

}  // namespace pcrefilter
