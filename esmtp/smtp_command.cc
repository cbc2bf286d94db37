// SMTP command line and ESMTP parameter parsing (RFC 5321 4.1, RFC 1870, RFC 6152).
// Everything here reads untrusted bytes: no allocation beyond the line itself, and
// every refusal is a complete reply line with its enhanced status code (RFC 3463).
#include "esmtp/smtp_command.h"
#include <charconv>
#include <set>

namespace {
char upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

std::string upper(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = upper(c);
    return out;
}

bool is_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
bool valid_keyword(std::string_view k) {
    if (k.empty() || !is_alnum(k[0])) return false;
    for (char c : k)
        if (!is_alnum(c) && c != '-') return false;
    return true;
}

// esmtp-value = 1*(%d33-60 / %d62-126): no "=", no space, no control or 8-bit byte.
bool valid_value(std::string_view v) {
    if (v.empty()) return false;
    for (unsigned char c : v)
        if (c < 33 || c > 126 || c == '=') return false;
    return true;
}

using ParamFn = bool (*)(const EsmtpParam&, uint64_t size_limit, MailParams&, std::string* reply);

bool apply_size(const EsmtpParam& p, uint64_t size_limit, MailParams& out, std::string* reply) {
    uint64_t n = 0;
    const char* end = p.value.data() + p.value.size();
    auto r = std::from_chars(p.value.data(), end, n);
    bool digits = p.has_value && p.value.size() <= 20 &&
                  p.value.find_first_not_of("0123456789") == std::string::npos;
    if (!digits) {
        *reply = "501 5.5.4 Syntax error in SIZE parameter";
        return false;
    }
    // A 20-digit value can overflow uint64_t: it is certainly too big.
    if (r.ec == std::errc::result_out_of_range || n > size_limit) {
        *reply = "552 5.3.4 Message size exceeds fixed maximum message size";
        return false;
    }
    out.size = n;
    return true;
}

bool apply_body(const EsmtpParam& p, uint64_t, MailParams& out, std::string* reply) {
    std::string v = upper(p.value);
    if (!p.has_value || (v != "7BIT" && v != "8BITMIME")) {
        *reply = "501 5.5.4 BODY must be 7BIT or 8BITMIME";
        return false;
    }
    out.body = v;
    return true;
}

// The MAIL parameters this server offers in EHLO; later extensions (RET, ENVID,
// SMTPUTF8, AUTH) add a line here and a keyword in the EHLO table.
struct MailParamSpec {
    std::string_view keyword;
    ParamFn apply;
};
constexpr MailParamSpec kMailParams[] = {
    {"SIZE", apply_size},
    {"BODY", apply_body},
};
}  // namespace

CommandLine split_command(std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    CommandLine c;
    size_t sp = line.find(' ');
    c.verb = upper(line.substr(0, sp));
    if (sp == std::string_view::npos) return c;
    std::string_view args = line.substr(sp + 1);
    while (!args.empty() && (args.back() == ' ' || args.back() == '\t')) args.remove_suffix(1);
    c.args = std::string(args);
    return c;
}

std::optional<std::string_view> strip_keyword(std::string_view args, std::string_view keyword) {
    if (args.size() < keyword.size()) return std::nullopt;
    for (size_t i = 0; i < keyword.size(); ++i)
        if (upper(args[i]) != upper(keyword[i])) return std::nullopt;
    return args.substr(keyword.size());
}

std::optional<std::vector<EsmtpParam>> parse_esmtp_params(std::string_view text) {
    std::vector<EsmtpParam> out;
    size_t i = 0;
    while (i < text.size()) {
        if (text[i] == ' ') {
            ++i;
            continue;
        }
        size_t end = text.find(' ', i);
        std::string_view word = text.substr(i, end == text.npos ? text.npos : end - i);
        i = (end == text.npos) ? text.size() : end;
        EsmtpParam p;
        size_t eq = word.find('=');
        p.keyword = upper(word.substr(0, eq));
        if (eq != std::string_view::npos) {
            p.has_value = true;
            p.value = std::string(word.substr(eq + 1));
            if (!valid_value(p.value)) return std::nullopt;
        }
        if (!valid_keyword(p.keyword)) return std::nullopt;
        out.push_back(std::move(p));
    }
    return out;
}

std::optional<MailParams> check_mail_params(std::string_view params, uint64_t size_limit,
                                            std::string* reply) {
    auto list = parse_esmtp_params(params);
    if (!list) {
        *reply = "501 5.5.4 Syntax error in MAIL parameters";
        return std::nullopt;
    }
    MailParams out;
    std::set<std::string> seen;
    for (const EsmtpParam& p : *list) {
        if (!seen.insert(p.keyword).second) {
            *reply = "501 5.5.4 Duplicate MAIL parameter " + p.keyword;
            return std::nullopt;
        }
        const MailParamSpec* spec = nullptr;
        for (const auto& s : kMailParams)
            if (s.keyword == p.keyword) spec = &s;
        if (!spec) {
            *reply = "555 5.5.4 Unsupported MAIL parameter " + p.keyword;
            return std::nullopt;
        }
        if (!spec->apply(p, size_limit, out, reply)) return std::nullopt;
    }
    return out;
}

bool check_rcpt_params(std::string_view params, std::string* reply) {
    auto list = parse_esmtp_params(params);
    if (!list) {
        *reply = "501 5.5.4 Syntax error in RCPT parameters";
        return false;
    }
    if (!list->empty()) {
        *reply = "555 5.5.4 Unsupported RCPT parameter " + list->front().keyword;
        return false;
    }
    return true;
}

std::string submit_mail_params(const MailParams& p) {
    return p.body.empty() ? std::string() : "BODY=" + p.body;
}
