// The files that say which domains this server accepts mail for (courier(8)):
// hosteddomains (compiled by makehosteddomains into hosteddomains.dat; lines "domain"
// or "alias<TAB>domain") and esmtpacceptmailfor (read as a list like locals) plus
// esmtpacceptmailfor.dir (compiled by makeacceptmailfor into esmtpacceptmailfor.dat).
// The line parsers and compilers are shared by the tools and by submit, which falls
// back to the text hosteddomains file when no database was built. Every entry keeps
// its file:line, so a decision can name the line that made it.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include "config/config.h"
#include "lib/bdb.h"

namespace submit {

// One compiled table: key -> value, and the bad lines as "file:line: why".
struct CompiledDomains {
    std::map<std::string, std::string> table;
    std::vector<std::string> errors;
};

// hosteddomains: key = domain in normal form; value = "<target>\t<where>", target
// empty for a hosted domain itself, else the hosted domain it is an alias of.
CompiledDomains compile_hosteddomains(const std::vector<ConfigLine>& lines, std::string_view hostname);
// esmtpacceptmailfor.dir: key = domain or ".domain" (normal form); value =
// "accept\t<where>" or "deny\t<where>" (a "!host" line).
CompiledDomains compile_acceptmailfor(const std::vector<ConfigLine>& lines, std::string_view hostname);

// A hosted domain: the mailbox domain mail to it goes to, and the rule.
struct HostedMatch {
    std::string domain;   // the hosted domain (the alias target, or the domain itself)
    std::string where;
};
// Looks `domain` (normal form) up in a compiled hosteddomains table.
std::optional<HostedMatch> hosted_lookup(std::string_view domain,
                                         const std::function<std::optional<std::string>(std::string_view)>& get);
// esmtpacceptmailfor.dat: the exact domain first, then ".parent" keys from the most
// specific up; the first record found decides. nullopt = not listed;
// else {accepted, where}.
std::optional<std::pair<bool, std::string>> acceptmailfor_lookup(
    std::string_view domain, const std::function<std::optional<std::string>(std::string_view)>& get);

// The accepted-domain configuration of one vhost, read once per submit process.
class AcceptedDomains {
public:
    static AcceptedDomains load(const ConfigDir& cfg, std::string_view vhost);
    // For unit tests: lists given directly (hosted and acceptmailfor as text lines).
    static AcceptedDomains from_lines(std::vector<ConfigLine> locals, std::vector<ConfigLine> hosted,
                                      std::vector<ConfigLine> acceptmailfor, std::string_view hostname);

    std::optional<std::string> local(std::string_view domain) const;    // the locals line
    std::optional<HostedMatch> hosted(std::string_view domain) const;
    std::optional<std::string> accepted(std::string_view domain) const; // esmtpacceptmailfor

    const std::vector<std::string>& locals() const { return locals_; }

private:
    std::vector<std::string> locals_;
    std::vector<std::string> locals_where_;
    std::map<std::string, std::string> hosted_text_;   // compiled in memory, no .dat
    std::shared_ptr<DbReader> hosted_db_;
    std::vector<std::string> accept_list_;              // the esmtpacceptmailfor file
    std::vector<std::string> accept_where_;
    std::shared_ptr<DbReader> accept_db_;
};

}  // namespace submit
