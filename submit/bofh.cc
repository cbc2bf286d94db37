// Parser and pure rules of the `bofh` file (courier(8), bofh). One line per keyword;
// a bad line is reported as file:line and skipped, so the rest of the file stays in
// force and submit keeps accepting mail.
#include "submit/bofh.h"
#include <algorithm>
#include <cctype>
#include "lib/address.h"
#include "lib/backscatter.h"
#include "lib/log.h"

namespace submit {

namespace {

std::optional<size_t> parse_count(std::string_view s) {
    if (s.empty() || s.size() > 9) return std::nullopt;
    size_t n = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + size_t(c - '0');
    }
    return n;
}

// "domain" ends with "parent" at a label boundary (or is it, when allow_equal).
bool domain_within(std::string_view domain, std::string_view parent, bool allow_equal) {
    if (domain == parent) return allow_equal;
    return domain.size() > parent.size() + 1 && domain.substr(domain.size() - parent.size()) == parent &&
           domain[domain.size() - parent.size() - 1] == '.';
}

// Splits "local@domain" at the last '@', the domain in normal form.
std::pair<std::string, std::string> split_address(std::string_view address) {
    size_t at = address.rfind('@');
    if (at == std::string_view::npos) return {std::string(address), ""};
    return {std::string(address.substr(0, at)), normalize_domain(address.substr(at + 1))};
}

bool parse_badfrom(const std::string& arg, const std::string& where, BofhConfig& out) {
    size_t at = arg.rfind('@');
    if (at == std::string::npos || at + 1 >= arg.size()) return false;
    BadFromRule r;
    r.local = arg.substr(0, at);
    std::string domain = arg.substr(at + 1);
    if (domain[0] == '.') {
        r.subdomains = true;
        domain.erase(0, 1);
    }
    r.domain = normalize_domain(domain);
    if (r.domain.empty() || (r.domain[0] != '[' && !is_valid_domain(domain))) return false;
    r.where = where;
    out.badfrom.push_back(std::move(r));
    return true;
}

void interpret_opts(BofhConfig& b) {
    auto bad = [&](std::string_view name, std::string_view why) {
        b.errors.push_back(b.where(name) + ": opt " + std::string(name) + ": " + std::string(why));
    };
    if (auto v = b.opt("BOFHCHECKHELO")) {
        if (*v == "0" || *v == "1" || *v == "2") b.check_helo = (*v)[0] - '0';
        else bad("BOFHCHECKHELO", "must be 0, 1 or 2");
    }
    if (auto v = b.opt("BOFHHEADERLIMIT")) {
        if (auto n = parse_count(*v)) b.header_limit = *n;
        else bad("BOFHHEADERLIMIT", "must be a number of bytes");
    }
    if (auto v = b.opt("BOFHNOBASE64TEXT")) b.no_base64_text = *v == "1";
    if (auto v = b.opt("BOFHSUPPRESSBACKSCATTER"))
        b.suppress_backscatter = parse_backscatter_sources({"opt BOFHSUPPRESSBACKSCATTER=" + *v});
}

}  // namespace

std::optional<std::string> BofhConfig::opt(std::string_view name) const {
    auto it = opts.find(name);
    if (it == opts.end()) return std::nullopt;
    return it->second;
}

std::string BofhConfig::opt_or(std::string_view name, std::string fallback) const {
    auto v = opt(name);
    return v ? *v : fallback;
}

std::string BofhConfig::where(std::string_view opt_name) const {
    auto it = opt_where.find(opt_name);
    return it == opt_where.end() ? "default" : it->second;
}

void BofhConfig::parse(std::string_view text, const std::string& origin) {
    size_t pos = 0;
    int lineno = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        std::string_view line = text.substr(pos, nl == text.npos ? text.npos : nl - pos);
        pos = nl == text.npos ? text.size() : nl + 1;
        parse_line(line, origin + ":" + std::to_string(++lineno));
    }
    interpret_opts(*this);
}

void BofhConfig::parse_line(std::string_view line, const std::string& where) {
    auto w = split_words(line);
    if (w.empty() || w[0][0] == '#') return;
    auto bad = [&](std::string_view why) { errors.push_back(where + ": " + std::string(why)); };
    const std::string& kw = w[0];
    if (kw == "badfrom") {
        if (w.size() != 2 || !parse_badfrom(w[1], where, *this))
            bad("badfrom needs one of user@domain, @domain, @.domain, user@.domain");
    } else if (kw == "badmx") {
        if (w.size() != 2) bad("badmx needs one IP address");
        else badmx.push_back({lowercase_ascii(w[1]), where});
    } else if (kw == "freemail") {
        if (w.size() < 2) return bad("freemail needs at least one domain");
        FreemailRule r;
        for (size_t i = 1; i < w.size(); ++i) r.domains.push_back(normalize_domain(w[i]));
        r.where = where;
        freemail.push_back(std::move(r));
    } else if (kw == "spamtrap") {
        auto [local, domain] = split_address(w.size() == 2 ? w[1] : "");
        if (w.size() != 2 || local.empty() || domain.empty()) bad("spamtrap needs user@domain");
        else spamtraps.push_back({local + "@" + domain, where});
    } else if (kw == "maxrcpts") {
        auto n = w.size() >= 2 ? parse_count(w[1]) : std::nullopt;
        if (!n || *n == 0 || w.size() > 3 || (w.size() == 3 && w[2] != "hard"))
            return bad("maxrcpts needs a positive number, optionally followed by \"hard\"");
        maxrcpts = *n;
        maxrcpts_hard = w.size() == 3;
        maxrcpts_where = where;
    } else if (kw == "opt") {
        size_t eq = w.size() == 2 ? w[1].find('=') : std::string::npos;
        if (eq == std::string::npos || eq == 0) return bad("opt needs NAME=value");
        opts[w[1].substr(0, eq)] = w[1].substr(eq + 1);
        opt_where[w[1].substr(0, eq)] = where;
    } else {
        bad("unknown keyword \"" + kw + "\"");
    }
}

BofhConfig BofhConfig::load(const ConfigDir& cfg) {
    BofhConfig b;
    for (const auto& l : cfg.lines("bofh")) b.parse_line(l.text, l.where);
    interpret_opts(b);
    for (const auto& e : b.errors) log_warning("bofh: " + log_safe(e) + " (line ignored)");
    return b;
}

std::optional<std::string> match_badfrom(std::string_view sender, const BofhConfig& bofh) {
    auto [local, domain] = split_address(sender);
    if (domain.empty()) return std::nullopt;
    std::string local_lc = lowercase_ascii(local);
    for (const auto& r : bofh.badfrom) {
        if (!r.local.empty() && lowercase_ascii(r.local) != local_lc) continue;
        // "@.domain" names the subdomains; "@domain" only the domain itself.
        if (r.subdomains ? domain_within(domain, r.domain, false) : domain == r.domain) return r.where;
    }
    return std::nullopt;
}

std::optional<std::string> match_freemail(std::string_view sender, std::string_view relay_host,
                                          const BofhConfig& bofh) {
    auto [local, domain] = split_address(sender);
    if (domain.empty()) return std::nullopt;
    std::string relay = normalize_domain(relay_host);
    for (const auto& r : bofh.freemail) {
        if (domain != r.domains.front()) continue;
        bool relay_ok = !relay.empty() && std::any_of(r.domains.begin(), r.domains.end(), [&](const std::string& d) {
            return domain_within(relay, d, true);
        });
        if (!relay_ok) return r.where;
    }
    return std::nullopt;
}

std::optional<std::string> match_spamtrap(std::string_view address, const BofhConfig& bofh) {
    auto [local, domain] = split_address(address);
    std::string key = lowercase_ascii(local) + "@" + domain;
    for (const auto& r : bofh.spamtraps) {
        auto [tl, td] = split_address(r.address);
        if (lowercase_ascii(tl) + "@" + td == key) return r.where;
    }
    return std::nullopt;
}

std::optional<std::string> match_badmx(const std::vector<std::string>& mx_ips, const BofhConfig& bofh) {
    for (const auto& r : bofh.badmx) {
        std::string rule_ip = r.ip;
        if (rule_ip.size() > 2 && rule_ip.front() == '[' && rule_ip.back() == ']')
            rule_ip = rule_ip.substr(1, rule_ip.size() - 2);
        for (const auto& ip : mx_ips)
            if (lowercase_ascii(ip) == rule_ip) return r.where;
    }
    return std::nullopt;
}

}  // namespace submit

namespace submit {

namespace {

std::string trim_copy(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return std::string(s);
}

// Appends the A and AAAA answers for `name`; the outcome of the A query is returned,
// or tempfail when either query failed temporarily.
dns::Outcome addresses_of(std::string_view name, dns::Resolver& r, std::vector<std::string>& out) {
    auto a = r.a(name);
    auto aaaa = r.aaaa(name);
    out.insert(out.end(), a.records.begin(), a.records.end());
    out.insert(out.end(), aaaa.records.begin(), aaaa.records.end());
    if (!out.empty()) return dns::Outcome::ok;
    if (a.outcome == dns::Outcome::tempfail || aaaa.outcome == dns::Outcome::tempfail) return dns::Outcome::tempfail;
    return a.outcome;
}

}  // namespace

std::optional<HeloRefusal> check_helo_name(std::string_view helo, std::string_view client_ip, int level,
                                           dns::Resolver& resolver) {
    if (level <= 0) return std::nullopt;
    if (helo.empty()) return HeloRefusal{false, "no HELO/EHLO name"};
    if (helo.front() == '[') {
        std::string lit(helo.substr(1, helo.size() - 2));
        if (lit.rfind("IPv6:", 0) == 0 || lit.rfind("ipv6:", 0) == 0) lit = lit.substr(5);
        if (helo.back() == ']' && lowercase_ascii(lit) == lowercase_ascii(client_ip)) return std::nullopt;
        return HeloRefusal{false, "HELO/EHLO address literal is not the client's address"};
    }
    if (!is_valid_domain(helo) || helo.find('.') == std::string_view::npos)
        return HeloRefusal{false, "HELO/EHLO name is not a fully qualified domain name"};
    std::vector<std::string> ips;
    dns::Outcome o = addresses_of(helo, resolver, ips);
    if (o == dns::Outcome::tempfail) return HeloRefusal{true, "cannot look up the HELO/EHLO name"};
    if (level >= 2) {
        for (const auto& ip : ips)
            if (lowercase_ascii(ip) == lowercase_ascii(client_ip)) return std::nullopt;
        return HeloRefusal{false, "HELO/EHLO name does not resolve to the client's address"};
    }
    if (!ips.empty()) return std::nullopt;
    auto mx = resolver.mx(helo);
    if (mx.outcome == dns::Outcome::tempfail) return HeloRefusal{true, "cannot look up the HELO/EHLO name"};
    if (mx.ok()) return std::nullopt;
    return HeloRefusal{false, "HELO/EHLO name does not exist in DNS"};
}

std::vector<std::string> mail_host_ips(std::string_view domain, dns::Resolver& resolver) {
    std::vector<std::string> ips;
    auto mx = resolver.mx(domain);
    if (mx.ok()) {
        for (const auto& m : mx.records)
            if (!m.host.empty()) addresses_of(m.host, resolver, ips);
    } else if (mx.outcome == dns::Outcome::nodata) {
        addresses_of(domain, resolver, ips);   // RFC 5321 5.1: the implicit MX
    }
    return ips;
}

void ContentScanner::feed(std::string_view bytes) {
    while (!bytes.empty()) {
        size_t nl = bytes.find('\n');
        std::string_view piece = bytes.substr(0, nl);
        partial_bytes_ += piece.size() + (nl == std::string_view::npos ? 0 : 1);
        if (partial_.size() < 998) partial_.append(piece.substr(0, 998 - partial_.size()));
        if (nl == std::string_view::npos) break;
        if (!partial_.empty() && partial_.back() == '\r') partial_.pop_back();
        line(partial_);
        partial_.clear();
        partial_bytes_ = 0;
        bytes.remove_prefix(nl + 1);
    }
}

void ContentScanner::finish() {
    if (!partial_.empty() || partial_bytes_) line(partial_);
    partial_.clear();
    if (in_part_header_) end_of_headers();
}

void ContentScanner::line(std::string_view l) {
    if (in_part_header_) {
        // The header ends at the empty line, or at the first line that is neither a
        // field nor a continuation (a message without a header at all).
        bool continuation = !l.empty() && (l[0] == ' ' || l[0] == '\t');
        if (l.empty() || (!continuation && !is_field_start(l))) {
            if (in_top_header_ && l.empty()) header_bytes_ += partial_bytes_;
            end_of_headers();
            return;
        }
        if (in_top_header_) header_bytes_ += partial_bytes_;
        if (continuation && !field_.empty()) {
            field_ += " " + trim_copy(l);
        } else {
            if (!field_.empty()) header_field(field_);
            field_ = std::string(l);
        }
        return;
    }
    if (l.size() < 3 || l[0] != '-' || l[1] != '-') return;
    for (size_t i = boundaries_.size(); i-- > 0;) {
        const std::string& b = boundaries_[i];
        std::string_view rest = l.substr(2);
        if (rest.substr(0, b.size()) != b) continue;
        std::string tail = trim_copy(rest.substr(b.size()));
        boundaries_.resize(tail == "--" ? i : i + 1);   // closing: that level ends
        if (tail != "--") {
            in_part_header_ = true;
            content_type_.clear();
            encoding_.clear();
        }
        return;
    }
}

// RFC 5322 2.2: a field name is printable ASCII other than ':' followed by ':'.
bool ContentScanner::is_field_start(std::string_view l) {
    size_t colon = l.find(':');
    if (colon == 0 || colon == std::string_view::npos) return false;
    for (char c : l.substr(0, colon))
        if (c <= ' ' || c > '~') return false;
    return true;
}

void ContentScanner::header_field(std::string_view field) {
    size_t colon = field.find(':');
    if (colon == std::string_view::npos) return;
    std::string name = lowercase_ascii(trim_copy(field.substr(0, colon)));
    std::string value = trim_copy(field.substr(colon + 1));
    if (name == "content-type") content_type_ = value;
    else if (name == "content-transfer-encoding") encoding_ = lowercase_ascii(value);
}

void ContentScanner::end_of_headers() {
    if (!field_.empty()) header_field(field_);
    field_.clear();
    in_part_header_ = false;
    in_top_header_ = false;
    std::string type = lowercase_ascii(content_type_.substr(0, content_type_.find(';')));
    type = trim_copy(type);
    // RFC 2045 5.2: no Content-Type means text/plain.
    if ((type.empty() || type.rfind("text/", 0) == 0) && encoding_ == "base64") base64_text_ = true;
    if (type.rfind("multipart/", 0) == 0) {
        std::string lower = lowercase_ascii(content_type_);
        size_t p = lower.find("boundary=");
        if (p != std::string::npos && boundaries_.size() < 20) {
            std::string b = content_type_.substr(p + 9);
            if (!b.empty() && b[0] == '"') b = b.substr(1, b.find('"', 1) - 1);
            else b = b.substr(0, b.find_first_of("; \t"));
            if (!b.empty()) boundaries_.push_back(b);
        }
    }
}

}  // namespace submit
