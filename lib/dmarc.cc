// RFC 7489 DMARC: records, organisational domains, alignment, evaluation (lib/dmarc.h).
#include "lib/dmarc.h"
#include <algorithm>
#include <cctype>
#include "lib/dkim.h"
#include "lib/fileio.h"

namespace dmarc {

namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

std::string normalize(std::string_view d) {
    std::string out = lower(trim(d));
    while (!out.empty() && out.back() == '.') out.pop_back();
    return out;
}

std::vector<std::string> labels_of(std::string_view d) {
    std::vector<std::string> out;
    size_t pos = 0;
    for (;;) {
        size_t dot = d.find('.', pos);
        out.emplace_back(d.substr(pos, dot == std::string_view::npos ? d.npos : dot - pos));
        if (dot == std::string_view::npos) return out;
        pos = dot + 1;
    }
}

std::string join_from(const std::vector<std::string>& labels, size_t first) {
    std::string out;
    for (size_t i = first; i < labels.size(); ++i) out += (out.empty() ? "" : ".") + labels[i];
    return out;
}

std::vector<std::string> comma_list(std::string_view s) {
    std::vector<std::string> out;
    size_t pos = 0;
    for (;;) {
        size_t c = s.find(',', pos);
        std::string_view item = trim(s.substr(pos, c == std::string_view::npos ? s.npos : c - pos));
        if (!item.empty()) out.emplace_back(item);
        if (c == std::string_view::npos) return out;
        pos = c + 1;
    }
}

std::optional<Alignment> parse_alignment(std::string_view v) {
    if (v == "r") return Alignment::relaxed;
    if (v == "s") return Alignment::strict;
    return std::nullopt;
}

Disposition one_step_less(Disposition d) {
    return d == Disposition::reject ? Disposition::quarantine : Disposition::none;
}

}  // namespace

std::string_view disposition_name(Disposition d) {
    switch (d) {
    case Disposition::none: return "none";
    case Disposition::quarantine: return "quarantine";
    case Disposition::reject: return "reject";
    }
    return "none";
}

std::optional<Disposition> parse_disposition(std::string_view word) {
    std::string w = lower(trim(word));
    if (w == "none") return Disposition::none;
    if (w == "quarantine") return Disposition::quarantine;
    if (w == "reject") return Disposition::reject;
    return std::nullopt;
}

std::string_view outcome_name(Outcome o) {
    switch (o) {
    case Outcome::none: return "none";
    case Outcome::pass: return "pass";
    case Outcome::fail: return "fail";
    case Outcome::temperror: return "temperror";
    case Outcome::permerror: return "permerror";
    }
    return "none";
}

Result<Record> parse_record(std::string_view text) {
    std::string_view t = trim(text);
    // 6.3: "v=DMARC1" must come first; the tag list syntax is DKIM's (6.4).
    size_t semi = t.find(';');
    std::string_view first = trim(t.substr(0, semi));
    size_t eq = first.find('=');
    if (eq == std::string_view::npos || trim(first.substr(0, eq)) != "v" || trim(first.substr(eq + 1)) != "DMARC1")
        return Error{0, "not a DMARC1 record"};
    auto tags = dkim::parse_tag_list(t);
    if (!tags) return Error{0, tags.error().text};
    Record r;
    if (auto it = tags->find("rua"); it != tags->end()) r.rua = comma_list(it->second);
    if (auto it = tags->find("ruf"); it != tags->end()) r.ruf = comma_list(it->second);
    auto p = tags->find("p");
    std::optional<Disposition> pd = p == tags->end() ? std::nullopt : parse_disposition(p->second);
    if (!pd) {
        if (r.rua.empty()) return Error{0, p == tags->end() ? "missing p=" : "bad p="};
        pd = Disposition::none;   // 6.6.3: a record with rua= and no valid p= is p=none
    }
    r.p = *pd;
    if (auto it = tags->find("sp"); it != tags->end()) {
        r.sp = parse_disposition(it->second);
        if (!r.sp) return Error{0, "bad sp="};
    }
    for (const char* name : {"adkim", "aspf"}) {
        auto it = tags->find(name);
        if (it == tags->end()) continue;
        auto a = parse_alignment(lower(it->second));
        if (!a) return Error{0, std::string("bad ") + name + "="};
        (std::string_view(name) == "adkim" ? r.adkim : r.aspf) = *a;
    }
    if (auto it = tags->find("pct"); it != tags->end()) {
        const std::string& v = it->second;
        if (v.empty() || v.size() > 3 || !std::all_of(v.begin(), v.end(), ::isdigit) || std::stoi(v) > 100)
            return Error{0, "bad pct="};
        r.pct = std::stoi(v);
    }
    return r;
}

// ---- public suffix list ----------------------------------------------------------

PublicSuffixList PublicSuffixList::parse(std::string_view text) {
    PublicSuffixList l;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        std::string_view line = text.substr(pos, nl == std::string_view::npos ? text.npos : nl - pos);
        pos = nl == std::string_view::npos ? text.size() : nl + 1;
        // A rule is the first word of a line; "//" starts a comment.
        line = trim(line);
        line = line.substr(0, line.find_first_of(" \t"));
        if (line.empty() || line.substr(0, 2) == "//") continue;
        l.rules_.insert(normalize(line));
    }
    return l;
}

const PublicSuffixList& PublicSuffixList::system() {
    static const PublicSuffixList list = [] {
        auto text = read_file(kPublicSuffixFile, 16 * 1024 * 1024);
        return text ? parse(*text) : PublicSuffixList{};
    }();
    return list;
}

std::string PublicSuffixList::organizational_domain(std::string_view domain) const {
    std::string d = normalize(domain);
    std::vector<std::string> labels = labels_of(d);
    // The prevailing rule: an exception wins, else the rule with the most labels, else
    // "*" (the last label is the suffix). suffix_start: index of the suffix's first label.
    size_t suffix_start = labels.size() - 1;
    bool exception = false;
    for (size_t i = 0; i < labels.size() && !exception; ++i)
        if (rules_.count("!" + join_from(labels, i))) {
            suffix_start = i + 1;
            exception = true;
        }
    for (size_t i = 0; i < labels.size() && !exception; ++i)
        if (rules_.count(join_from(labels, i)) ||
            (i + 1 < labels.size() && rules_.count("*." + join_from(labels, i + 1)))) {
            suffix_start = i;
            break;
        }
    if (suffix_start == 0) return d;   // the domain is itself a public suffix
    return join_from(labels, suffix_start - 1);
}

std::string organizational_domain(std::string_view domain, const PublicSuffixList& psl) {
    if (!psl.empty()) return psl.organizational_domain(domain);
    std::vector<std::string> labels = labels_of(normalize(domain));
    return join_from(labels, labels.size() > 2 ? labels.size() - 2 : 0);
}

bool aligned(std::string_view from_domain, std::string_view auth_domain, Alignment mode,
             const OrgDomain& org) {
    std::string a = normalize(from_domain), b = normalize(auth_domain);
    if (a.empty() || b.empty()) return false;
    if (a == b) return true;
    return mode == Alignment::relaxed && org(a) == org(b);
}

// ---- evaluation -------------------------------------------------------------------

namespace {

// The DMARC records at one name: the TXT strings that start with v=DMARC1.
struct Discovery {
    bool tempfail = false;
    std::vector<std::string> records;
};

Discovery discover(const std::string& domain, const TxtLookup& lookup) {
    Discovery d;
    auto answer = lookup("_dmarc." + domain);
    if (answer.outcome == dns::Outcome::tempfail) d.tempfail = true;
    for (const auto& txt : answer.records) {
        std::string_view t = trim(txt);
        if (t.size() >= 8 && lower(t.substr(0, 8)) == "v=dmarc1") d.records.push_back(txt);
    }
    return d;
}

}  // namespace

Evaluation evaluate(const Inputs& in, const TxtLookup& lookup, const OrgDomain& org, int random_percent) {
    Evaluation e;
    std::string from = normalize(in.from_domain);
    if (from.empty()) {
        e.reason = "no From: domain";
        return e;
    }
    std::string org_domain = org(from);
    Discovery d = discover(from, lookup);
    e.policy_domain = from;
    if (!d.tempfail && d.records.empty() && org_domain != from) {
        d = discover(org_domain, lookup);
        e.policy_domain = org_domain;
    }
    if (d.tempfail) {
        e.outcome = Outcome::temperror;
        e.reason = "DMARC record lookup failed";
        return e;
    }
    if (d.records.size() != 1) {
        e.reason = d.records.empty() ? "no DMARC record" : "several DMARC records";
        return e;
    }
    auto rec = parse_record(d.records.front());
    if (!rec) {
        e.outcome = Outcome::permerror;
        e.reason = "bad DMARC record: " + rec.error().text;
        return e;
    }
    e.record = *rec;
    bool subdomain = e.policy_domain != from;
    e.policy = subdomain && rec->sp ? *rec->sp : rec->p;
    e.spf_aligned = in.spf_pass && aligned(from, in.spf_domain, rec->aspf, org);
    e.dkim_aligned = std::any_of(in.dkim_pass_domains.begin(), in.dkim_pass_domains.end(),
                                 [&](const std::string& dd) { return aligned(from, dd, rec->adkim, org); });
    if (e.spf_aligned || e.dkim_aligned) {
        e.outcome = Outcome::pass;
        e.reason = e.dkim_aligned ? "aligned DKIM signature" : "aligned SPF pass";
        return e;
    }
    e.outcome = Outcome::fail;
    e.disposition = random_percent < rec->pct ? e.policy : one_step_less(e.policy);
    e.reason = "neither SPF nor DKIM aligned with the From: domain";
    return e;
}

}  // namespace dmarc
