// The compiled rules of pcrefilter: see matcher.h.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "filters/pcre/matcher.h"

#include <pcre2.h>
#include "lib/fileio.h"

namespace pcrefilter {

namespace {
// Backtracking budget of one match: ample for real rules, and a pathological pattern
// on a hostile line costs milliseconds, not minutes.
constexpr uint32_t kMatchLimit = 1'000'000;
constexpr size_t kMaxRulesFile = 16 * 1024 * 1024;
constexpr size_t kLoggedMatchBytes = 200;

struct CodeDeleter { void operator()(pcre2_code* c) const { pcre2_code_free(c); } };
struct MatchDataDeleter { void operator()(pcre2_match_data* m) const { pcre2_match_data_free(m); } };
struct ContextDeleter { void operator()(pcre2_match_context* m) const { pcre2_match_context_free(m); } };

std::string pcre2_message(int code) {
    PCRE2_UCHAR buf[256];
    if (pcre2_get_error_message(code, buf, sizeof buf) < 0) return "error " + std::to_string(code);
    return reinterpret_cast<const char*>(buf);
}
}  // namespace

struct RuleSet::Compiled {
    Rule rule;
    std::unique_ptr<pcre2_code, CodeDeleter> code;
};

RuleSet::RuleSet() = default;
RuleSet::RuleSet(RuleSet&&) noexcept = default;
RuleSet& RuleSet::operator=(RuleSet&&) noexcept = default;
RuleSet::~RuleSet() = default;

std::string_view outcome_name(Outcome outcome) {
    switch (outcome) {
    case Outcome::accept: return "accept";
    case Outcome::reject: return "reject";
    case Outcome::discard: return "discard";
    case Outcome::hold: return "hold";
    }
    return "?";
}

Result<RuleSet> RuleSet::compile(const std::vector<Rule>& rules) {
    RuleSet set;
    for (const auto& rule : rules) {
        uint32_t options = 0;
        if (rule.caseless) options |= PCRE2_CASELESS;
        if (rule.extended) options |= PCRE2_EXTENDED;
        if (rule.dotall) options |= PCRE2_DOTALL;
        int error = 0;
        PCRE2_SIZE offset = 0;
        pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(rule.pattern.data()), rule.pattern.size(),
                                         options, &error, &offset, nullptr);
        if (!code)
            return Error{0, rule.origin + ": bad regex /" + rule.pattern + "/ at offset " + std::to_string(offset) +
                                ": " + pcre2_message(error)};
        auto compiled = std::make_unique<Compiled>(Compiled{rule, std::unique_ptr<pcre2_code, CodeDeleter>(code)});
        // Without JIT support (some platforms) the interpreter gives the same answers.
        if (pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) != 0) set.jit_ = false;
        (rule.scope == RuleScope::header ? set.header_rules_ : set.body_rules_).push_back(std::move(compiled));
    }
    return set;
}

Result<RuleSet> RuleSet::load(const std::string& path) {
    auto text = read_file(path, kMaxRulesFile);
    if (!text) return text.error();
    auto rules = parse_rules(*text, path);
    if (!rules) return rules.error();
    return compile(*rules);
}

size_t RuleSet::size() const { return header_rules_.size() + body_rules_.size(); }
bool RuleSet::jit_compiled() const { return jit_; }

Verdict RuleSet::evaluate(const MessageText& text) const {
    Verdict verdict;
    std::unique_ptr<pcre2_match_data, MatchDataDeleter> match(pcre2_match_data_create(1, nullptr));
    std::unique_ptr<pcre2_match_context, ContextDeleter> context(pcre2_match_context_create(nullptr));
    pcre2_set_match_limit(context.get(), kMatchLimit);
    // Returns true when the check must end (REJECT or DISCARD).
    auto check_line = [&](const std::vector<std::unique_ptr<Compiled>>& rules, const std::string& line) {
        for (const auto& c : rules) {
            int rc = pcre2_match(c->code.get(), reinterpret_cast<PCRE2_SPTR>(line.data()), line.size(), 0, 0,
                                 match.get(), context.get());
            if (rc == PCRE2_ERROR_NOMATCH) continue;
            if (rc < 0) {
                verdict.errors.push_back(c->rule.origin + ": " + pcre2_message(rc));
                continue;
            }
            const Rule& r = c->rule;
            verdict.hits.push_back({r.origin, r.action, r.text, line.substr(0, kLoggedMatchBytes)});
            switch (r.action) {
            case RuleAction::reject:
                verdict.outcome = Outcome::reject;
                verdict.reply = r.text;
                return true;
            case RuleAction::discard:
                verdict.outcome = Outcome::discard;
                return true;
            case RuleAction::hold: verdict.outcome = Outcome::hold; break;
            case RuleAction::prepend: verdict.prepend.push_back(r.text); break;
            case RuleAction::warn: break;
            }
            return false;   // the first matching rule acts for this line
        }
        return false;
    };
    for (const auto& h : text.headers)
        if (check_line(header_rules_, h)) return verdict;
    for (const auto& l : text.body_lines)
        if (check_line(body_rules_, l)) return verdict;
    return verdict;
}

}  // namespace pcrefilter
