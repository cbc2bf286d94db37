// hosteddomains and esmtpacceptmailfor: parsing, compiling and lookups
// (courier(8); makehosteddomains(8), makeacceptmailfor(8)).
#include "submit/accepted_domains.h"
#include <cctype>
#include "lib/address.h"
#include "lib/fileio.h"
#include "lib/log.h"

namespace submit {

namespace {

// Why a config word is not a domain, for file:line messages.
std::string domain_problem(std::string_view word) {
    if (word.find('@') != std::string_view::npos) return "an address, not a domain: \"" + std::string(word) + "\"";
    return "not a domain name: \"" + std::string(word) + "\"";
}

// A domain of a config line, hostname-dependent entries expanded, in normal form;
// nullopt when it is not a domain name.
std::optional<std::string> config_domain(std::string_view text, std::string_view hostname) {
    std::string d = expand_hostname_entry(text, hostname);
    if (d.empty() || d[0] == '[' || !is_valid_domain(d)) return std::nullopt;
    return normalize_domain(d);
}

std::pair<std::string, std::string> split_value(std::string_view v) {
    size_t tab = v.find('\t');
    if (tab == std::string_view::npos) return {std::string(v), ""};
    return {std::string(v.substr(0, tab)), std::string(v.substr(tab + 1))};
}

std::shared_ptr<DbReader> open_db(const std::string& path) {
    if (!path_exists(path)) return nullptr;
    auto db = DbReader::open(path);
    if (!db) {
        log_error("submit: " + path + ": " + db.error().text);
        return nullptr;
    }
    return std::make_shared<DbReader>(std::move(*db));
}

}  // namespace

CompiledDomains compile_hosteddomains(const std::vector<ConfigLine>& lines, std::string_view hostname) {
    CompiledDomains out;
    for (const auto& l : lines) {
        auto f = split_words(l.text);
        auto domain = f.empty() ? std::nullopt : config_domain(f[0], hostname);
        auto target = f.size() == 2 ? config_domain(f[1], hostname) : std::nullopt;
        if (f.size() > 2) {
            out.errors.push_back(l.where + ": expected \"domain\" or \"alias<TAB>domain\"");
            continue;
        }
        if (!domain || (f.size() == 2 && !target)) {
            out.errors.push_back(l.where + ": expected \"domain\" or \"alias<TAB>domain\": " +
                                 domain_problem(!domain ? f[0] : f[1]));
            continue;
        }
        if (out.table.count(*domain)) {
            out.errors.push_back(l.where + ": " + *domain + " listed twice");
            continue;
        }
        out.table[*domain] = (target ? *target : "") + "\t" + l.where;
    }
    // An alias must name a hosted domain, not another alias or nothing at all.
    for (const auto& [domain, value] : out.table) {
        auto [target, where] = split_value(value);
        if (target.empty()) continue;
        auto it = out.table.find(target);
        if (it == out.table.end() || !split_value(it->second).first.empty())
            out.errors.push_back(where + ": alias " + domain + ": " + target + " is not a hosted domain");
    }
    return out;
}

CompiledDomains compile_acceptmailfor(const std::vector<ConfigLine>& lines, std::string_view hostname) {
    CompiledDomains out;
    for (const auto& l : lines) {
        auto f = split_words(l.text);
        std::string_view entry = f.size() == 1 ? std::string_view(f[0]) : std::string_view();
        bool deny = !entry.empty() && entry[0] == '!';
        if (deny) entry.remove_prefix(1);
        bool wildcard = !entry.empty() && entry[0] == '.';
        if (wildcard) entry.remove_prefix(1);
        auto domain = entry.empty() ? std::nullopt : config_domain(entry, hostname);
        if (!domain) {
            out.errors.push_back(l.where + ": expected \"domain\", \".domain\" or \"!domain\"" +
                                 (f.size() == 1 ? ": " + domain_problem(f[0]) : std::string()));
            continue;
        }
        std::string key = (wildcard ? "." : "") + *domain;
        // As in a list, the first line for a name decides.
        if (!out.table.count(key)) out.table[key] = std::string(deny ? "deny" : "accept") + "\t" + l.where;
    }
    return out;
}

std::optional<HostedMatch> hosted_lookup(std::string_view domain,
                                         const std::function<std::optional<std::string>(std::string_view)>& get) {
    auto v = get(domain);
    if (!v) return std::nullopt;
    auto [target, where] = split_value(*v);
    return HostedMatch{target.empty() ? std::string(domain) : target, where};
}

std::optional<std::pair<bool, std::string>> acceptmailfor_lookup(
    std::string_view domain, const std::function<std::optional<std::string>(std::string_view)>& get) {
    auto decide = [](const std::string& v) {
        auto [verdict, where] = split_value(v);
        return std::make_pair(verdict == "accept", where);
    };
    if (auto v = get(domain)) return decide(*v);
    for (size_t dot = domain.find('.'); dot != std::string_view::npos; dot = domain.find('.', dot + 1))
        if (auto v = get(domain.substr(dot))) return decide(*v);
    return std::nullopt;
}

AcceptedDomains AcceptedDomains::from_lines(std::vector<ConfigLine> locals, std::vector<ConfigLine> hosted,
                                            std::vector<ConfigLine> acceptmailfor, std::string_view hostname) {
    AcceptedDomains a;
    for (auto& l : locals) {
        a.locals_.push_back(expand_hostname_entry(l.text, hostname));
        a.locals_where_.push_back(std::move(l.where));
    }
    // Without a database submit reads the text itself: a bad line is logged and
    // skipped, the other domains stay hosted.
    CompiledDomains compiled = compile_hosteddomains(hosted, hostname);
    for (const auto& e : compiled.errors) log_warning("submit: " + log_safe(e) + " (line ignored)");
    a.hosted_text_ = std::move(compiled.table);
    for (auto& l : acceptmailfor) {
        a.accept_list_.push_back(expand_hostname_entry(l.text, hostname));
        a.accept_where_.push_back(std::move(l.where));
    }
    return a;
}

AcceptedDomains AcceptedDomains::load(const ConfigDir& cfg, std::string_view vhost) {
    std::string host = system_hostname();
    std::vector<ConfigLine> locals;
    if (cfg.exists(cfg.file_for("locals", vhost))) locals = cfg.lines("locals", vhost);
    else locals.push_back({cfg.me(vhost), "me"});
    // A vhost's own hosteddomains.<vhost> text file wins; else the compiled database,
    // else (makehosteddomains never run) the text file itself.
    std::string hosted_file = cfg.file_for("hosteddomains", vhost);
    std::shared_ptr<DbReader> hosted_db;
    std::vector<ConfigLine> hosted;
    if (hosted_file == "hosteddomains") hosted_db = open_db(cfg.path("hosteddomains.dat"));
    if (!hosted_db) hosted = cfg.lines("hosteddomains", vhost);
    AcceptedDomains a = from_lines(std::move(locals), std::move(hosted), cfg.lines("esmtpacceptmailfor", vhost), host);
    a.hosted_db_ = std::move(hosted_db);
    a.accept_db_ = open_db(cfg.path("esmtpacceptmailfor.dat"));
    return a;
}

std::optional<std::string> AcceptedDomains::local(std::string_view domain) const {
    int i = domain_list_match(domain, locals_);
    if (i < 0 || locals_[size_t(i)].front() == '!') return std::nullopt;
    return locals_where_[size_t(i)];
}

std::optional<HostedMatch> AcceptedDomains::hosted(std::string_view domain) const {
    std::string d = normalize_domain(domain);
    if (d.empty() || d[0] == '[') return std::nullopt;
    return hosted_lookup(d, [&](std::string_view key) -> std::optional<std::string> {
        if (hosted_db_) return hosted_db_->get(key);
        auto it = hosted_text_.find(std::string(key));
        if (it == hosted_text_.end()) return std::nullopt;
        return it->second;
    });
}

std::optional<std::string> AcceptedDomains::accepted(std::string_view domain) const {
    std::string d = normalize_domain(domain);
    if (d.empty() || d[0] == '[') return std::nullopt;
    // The esmtpacceptmailfor file first: its "!host" lines can exclude a name that a
    // wildcard of the compiled folder would accept.
    int i = domain_list_match(d, accept_list_);
    if (i >= 0) {
        if (accept_list_[size_t(i)].front() == '!') return std::nullopt;
        return accept_where_[size_t(i)];
    }
    if (!accept_db_) return std::nullopt;
    auto r = acceptmailfor_lookup(d, [&](std::string_view key) { return accept_db_->get(key); });
    if (!r || !r->first) return std::nullopt;
    return r->second;
}

}  // namespace submit
