// SMTP command line and ESMTP parameter parsing (RFC 5321 4.1, RFC 1870, RFC 6152).
// Everything here reads untrusted bytes: no allocation beyond the line itself, and
// every refusal is a complete reply line with its enhanced status code (RFC 3463).
#include "esmtp/smtp_command.h"
#include <charconv>
#include <set>
#include <idn2.h>

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

bool syntax_error(std::string* reply, std::string_view keyword) {
    *reply = "501 5.5.4 Syntax error in " + std::string(keyword) + " parameter";
    return false;
}

bool apply_ret(const EsmtpParam& p, uint64_t, MailParams& out, std::string* reply) {
    std::string v = upper(p.value);
    if (!p.has_value || (v != "FULL" && v != "HDRS")) return syntax_error(reply, "RET");
    out.ret = v;
    return true;
}

bool apply_envid(const EsmtpParam& p, uint64_t, MailParams& out, std::string* reply) {
    if (!p.has_value || p.value.size() > 100 || !valid_xtext(p.value)) return syntax_error(reply, "ENVID");
    out.envid = p.value;
    return true;
}

bool apply_smtputf8(const EsmtpParam& p, uint64_t, MailParams& out, std::string* reply) {
    if (p.has_value) return syntax_error(reply, "SMTPUTF8");
    out.smtputf8 = true;
    return true;
}

bool apply_requiretls(const EsmtpParam& p, uint64_t, MailParams& out, std::string* reply) {
    if (p.has_value) return syntax_error(reply, "REQUIRETLS");
    out.requiretls = true;
    return true;
}

bool apply_auth(const EsmtpParam& p, uint64_t, MailParams& out, std::string* reply) {
    if (!p.has_value || p.value.size() > 500 || !(p.value == "<>" || valid_xtext(p.value)))
        return syntax_error(reply, "AUTH");
    out.auth = p.value;
    return true;
}

// The MAIL parameters this server offers in EHLO (SIZE, 8BITMIME, DSN, SMTPUTF8, AUTH).
struct MailParamSpec {
    std::string_view keyword;
    ParamFn apply;
};
constexpr MailParamSpec kMailParams[] = {
    {"SIZE", apply_size},   {"BODY", apply_body},         {"RET", apply_ret},
    {"ENVID", apply_envid}, {"SMTPUTF8", apply_smtputf8}, {"AUTH", apply_auth},
    {"REQUIRETLS", apply_requiretls},
};

bool hex_digit(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); }

// NOTIFY = "NEVER" / 1#("SUCCESS" / "FAILURE" / "DELAY"), each at most once.
bool valid_notify(const std::string& v) {
    if (v == "NEVER") return true;
    std::set<std::string> seen;
    size_t i = 0;
    while (i <= v.size()) {
        size_t comma = v.find(',', i);
        std::string item = v.substr(i, comma == std::string::npos ? std::string::npos : comma - i);
        if ((item != "SUCCESS" && item != "FAILURE" && item != "DELAY") || !seen.insert(item).second)
            return false;
        if (comma == std::string::npos) break;
        i = comma + 1;
    }
    return true;
}

// ORCPT = addr-type ";" xtext, addr-type an atom ("rfc822", "utf-8").
bool valid_orcpt(const std::string& v) {
    size_t semi = v.find(';');
    if (semi == 0 || semi == std::string::npos || v.size() > 500) return false;
    for (size_t i = 0; i < semi; ++i)
        if (!is_alnum(v[i]) && v[i] != '-') return false;
    return semi + 1 < v.size() && valid_xtext(std::string_view(v).substr(semi + 1));
}
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

std::optional<RcptParams> check_rcpt_params(std::string_view params, std::string* reply) {
    auto list = parse_esmtp_params(params);
    if (!list) {
        *reply = "501 5.5.4 Syntax error in RCPT parameters";
        return std::nullopt;
    }
    RcptParams out;
    std::set<std::string> seen;
    for (const EsmtpParam& p : *list) {
        if (!seen.insert(p.keyword).second) {
            *reply = "501 5.5.4 Duplicate RCPT parameter " + p.keyword;
            return std::nullopt;
        }
        if (p.keyword == "NOTIFY") {
            out.notify = upper(p.value);
            if (!p.has_value || !valid_notify(out.notify)) return syntax_error(reply, "NOTIFY"), std::nullopt;
        } else if (p.keyword == "ORCPT") {
            if (!p.has_value || !valid_orcpt(p.value)) return syntax_error(reply, "ORCPT"), std::nullopt;
            out.orcpt = p.value;
        } else {
            *reply = "555 5.5.4 Unsupported RCPT parameter " + p.keyword;
            return std::nullopt;
        }
    }
    return out;
}

std::string submit_mail_params(const MailParams& p) {
    std::string out;
    auto add = [&out](std::string_view kv) {
        if (!out.empty()) out += ' ';
        out += kv;
    };
    if (!p.body.empty()) add("BODY=" + p.body);
    if (!p.ret.empty()) add("RET=" + p.ret);
    if (!p.envid.empty()) add("ENVID=" + p.envid);
    if (p.smtputf8) add("SMTPUTF8=1");
    if (p.requiretls) add("REQUIRETLS=1");
    return out;
}

std::string submit_rcpt_params(const RcptParams& p) {
    std::string out;
    if (!p.notify.empty()) out = "NOTIFY=" + p.notify;
    if (!p.orcpt.empty()) out += (out.empty() ? "ORCPT=" : " ORCPT=") + p.orcpt;
    return out;
}

bool valid_xtext(std::string_view s) {
    for (size_t i = 0; i < s.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c == '+') {
            if (i + 2 >= s.size() || !hex_digit(s[i + 1]) || !hex_digit(s[i + 2])) return false;
            i += 2;
        } else if (c < 0x21 || c > 0x7e || c == '=') {
            return false;
        }
    }
    return true;
}

size_t max_line_for(std::string_view verb) {
    if (verb == "MAIL" || verb == "RCPT") return kMaxMailRcptLine;
    if (verb == "AUTH") return kMaxAuthLine;
    return kMaxCommandLine;
}

bool is_ascii(std::string_view s) {
    for (unsigned char c : s)
        if (c >= 0x80) return false;
    return true;
}

bool valid_utf8(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        size_t n;
        uint32_t cp;
        if (c < 0x80) { ++i; continue; }
        if ((c & 0xe0) == 0xc0) n = 1, cp = c & 0x1f;
        else if ((c & 0xf0) == 0xe0) n = 2, cp = c & 0x0f;
        else if ((c & 0xf8) == 0xf0) n = 3, cp = c & 0x07;
        else return false;
        if (i + n >= s.size()) return false;
        for (size_t k = 1; k <= n; ++k) {
            unsigned char d = static_cast<unsigned char>(s[i + k]);
            if ((d & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (d & 0x3f);
        }
        static const uint32_t min_cp[] = {0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        i += n + 1;
    }
    return true;
}

std::optional<std::string> normalize_idn_domain(std::string_view domain) {
    if (is_ascii(domain) || (!domain.empty() && domain.front() == '[')) return std::string(domain);
    if (!valid_utf8(domain) || domain.size() > 1024) return std::nullopt;
    std::string in(domain);
    char* out = nullptr;
    int r = idn2_lookup_u8(reinterpret_cast<const uint8_t*>(in.c_str()), reinterpret_cast<uint8_t**>(&out),
                           IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
    if (r != IDN2_OK || !out) return std::nullopt;
    std::string ace(out);
    idn2_free(out);
    for (char& c : ace) c = upper(c) == c && c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    return ace;
}
