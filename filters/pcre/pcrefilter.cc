// pcrefilter(8): the bundled content filter. A global filter (doc/filters.md) that
// checks every header and decoded text line of a message against the PCRE2 rules in
// <config>/pcrefilter (pcrefilter(5)) and answers REJECT, DISCARD, HOLD, WARN or
// PREPEND. "pcrefilter -check [file]" only checks a rules file and prints file:line.
// SECURITY: runs as the mail user under courierfilter; reads the message submit names
// and its own rules; untrusted MIME goes only through the pure decoders of mime_text.h.
#include <sysexits.h>
#include <cstdio>
#include <string>
#include "config/config.h"
#include "filters/filter_client.h"
#include "filters/pcre/matcher.h"
#include "filters/reloading_config.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/paths.h"

namespace {

using pcrefilter::RuleSet;

// A missing rules file is no rules at all (everything passes): the filter can be
// enabled before its rules are written. A file that exists must be valid.
Result<RuleSet> load_rules(const std::string& path) {
    if (!path_exists(path)) return RuleSet::compile({});
    return RuleSet::load(path);
}

std::string describe(const RuleSet& rules) {
    return "rules=" + std::to_string(rules.size()) + " jit=" + (rules.jit_compiled() ? "yes" : "no");
}

// One log line per rule that matched: which rule, what it did, what it saw.
void log_hits(const pcrefilter::Verdict& v, const courierfilter::FilterMessage& m) {
    std::string who = " from=<" + log_safe(m.envelope.sender) + "> client=" +
                      log_safe(m.envelope.remote_ip.empty() ? "-" : m.envelope.remote_ip);
    for (const auto& hit : v.hits)
        log_info("pcrefilter rule=" + log_safe(hit.origin) + " action=" + std::string(action_name(hit.action)) + who +
                 " text=\"" + log_safe(hit.text) + "\" matched=\"" + log_safe(hit.matched) + "\"");
    for (const auto& e : v.errors) log_warning("pcrefilter match error " + log_safe(e) + who);
}

// The answer submit gets for the verdict.
courierfilter::Verdict answer_for(const pcrefilter::Verdict& v) {
    using courierfilter::Verdict;
    std::string last_text = v.hits.empty() ? "" : v.hits.back().origin + " " + v.hits.back().text;
    switch (v.outcome) {
    case pcrefilter::Outcome::reject: {
        int code = std::stoi(v.reply.substr(0, 3));   // reject_reply() made "NNN C.S.D text"
        std::string text = v.reply.size() > 4 ? v.reply.substr(4) : "";
        return code / 100 == 4 ? Verdict::tempfail(text, code) : Verdict::reject(text, code);
    }
    case pcrefilter::Outcome::discard: return Verdict::discard(last_text);
    case pcrefilter::Outcome::hold:
    case pcrefilter::Outcome::accept: break;
    }
    Verdict out = Verdict::accept();
    if (v.outcome == pcrefilter::Outcome::hold) {
        for (const auto& hit : v.hits)
            if (hit.action == pcrefilter::RuleAction::hold) out = Verdict::hold(hit.origin + " " + hit.text);
    }
    for (const auto& h : v.prepend) out.with_header(h);
    return out;
}

int check_only(const std::string& path) {
    auto rules = RuleSet::load(path);
    if (!rules) {
        std::fprintf(stderr, "%s\n", rules.error().text.c_str());
        return EX_CONFIG;
    }
    std::printf("%s: %s\n", path.c_str(), describe(*rules).c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::string rules_path = paths().config + "/pcrefilter";
    if (argc >= 2 && std::string(argv[1]) == "-check") return check_only(argc >= 3 ? argv[2] : rules_path);
    log_open("pcrefilter");
    ReloadingConfig<RuleSet> rules(rules_path, load_rules, "rules", describe);
    if (Status st = rules.load(); !st) {
        log_error("pcrefilter cannot start: " + log_safe(st.error().text));
        std::fprintf(stderr, "pcrefilter: %s\n", st.error().text.c_str());
        return EX_CONFIG;
    }
    install_reload_signal();
    rules.start_watching();
    int rc = courierfilter::run_filter(argc, argv, [&](const courierfilter::FilterMessage& m) {
        auto text = m.read_message();
        if (!text) {
            log_error("pcrefilter cannot read " + log_safe(m.message_path) + ": " + log_safe(text.error().text));
            return courierfilter::Verdict::tempfail("4.3.0 Content filter cannot read the message");
        }
        auto verdict = rules.current()->evaluate(pcrefilter::extract_text(*text));
        log_hits(verdict, m);
        return answer_for(verdict);
    });
    rules.stop_watching();
    return rc;
}
