// The compiled rules of pcrefilter and the verdict they give a message. Each regex is
// compiled once (PCRE2, JIT when the platform has it) when the rules file is loaded;
// a rules file with a bad regex is refused as a whole with file:line, so a running
// filter keeps its previous rules. Matching works on bytes (no UTF check), so hostile
// 8-bit text cannot make a match fail, and a per-match limit bounds backtracking.
#pragma once
#include <memory>
#include <string>
#include <vector>
#include "filters/pcre/mime_text.h"
#include "filters/pcre/rules.h"
#include "lib/result.h"

namespace pcrefilter {

enum class Outcome { accept, reject, discard, hold };

struct RuleHit {
    std::string origin;        // file:line of the rule
    RuleAction action;
    std::string text;          // the rule's text (reply, header, log text)
    std::string matched;       // the line it matched, cut to 200 bytes, for the log
};

struct Verdict {
    Outcome outcome = Outcome::accept;
    std::string reply;                   // REJECT: the SMTP reply
    std::vector<std::string> prepend;    // PREPEND headers, in the order the rules hit
    std::vector<RuleHit> hits;           // every rule that matched, in order
    std::vector<std::string> errors;     // match errors (limit hit): the rule is skipped
};

class RuleSet {
public:
    static Result<RuleSet> compile(const std::vector<Rule>& rules);
    static Result<RuleSet> load(const std::string& path);   // read, parse, compile
    RuleSet(RuleSet&&) noexcept;
    RuleSet& operator=(RuleSet&&) noexcept;
    ~RuleSet();

    // Each header and then each body line is checked against the rules of its scope in
    // file order; the first rule that matches a line acts for it (Postfix semantics).
    // REJECT and DISCARD end the check; HOLD, WARN and PREPEND let it go on, so a
    // later REJECT still wins over an earlier HOLD.
    Verdict evaluate(const MessageText& text) const;
    size_t size() const;
    bool jit_compiled() const;   // true when every regex runs as JIT code

private:
    struct Compiled;
    RuleSet();
    std::vector<std::unique_ptr<Compiled>> header_rules_, body_rules_;
    bool jit_ = true;
};

std::string_view outcome_name(Outcome outcome);

}  // namespace pcrefilter
