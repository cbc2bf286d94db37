// RFC 5321 path and mailbox parsing (section 4.1.2), the one parser for addresses.
// Bytes of 0x80 and above are let through in atoms and domain labels so that UTF-8
// addresses (RFC 6531) reach the SMTPUTF8 checks of the caller.
#include "lib/address.h"
#include <cctype>

namespace {
constexpr size_t kMaxLocal = 256;    // RFC 5321 says 64, but asks for tolerance (4.5.3.1)
constexpr size_t kMaxDomain = 255;

bool is_atext(unsigned char c) {
    if (c >= 0x80) return true;
    if (std::isalnum(c)) return true;
    switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '/': case '=': case '?': case '^': case '_': case '`': case '{':
    case '|': case '}': case '~':
        return true;
    }
    return false;
}

bool fail(std::string* why, const char* text) {
    if (why) *why = text;
    return false;
}

// Parses a Local-part at s[i]; on success advances i and fills out.
bool parse_local(std::string_view s, size_t& i, std::string& out, std::string* why) {
    out.clear();
    if (i < s.size() && s[i] == '"') {
        ++i;
        while (i < s.size() && s[i] != '"') {
            unsigned char c = static_cast<unsigned char>(s[i]);
            if (c == '\\') {
                if (i + 1 >= s.size()) return fail(why, "bad quoted pair");
                unsigned char q = static_cast<unsigned char>(s[i + 1]);
                if (q < 32 || q == 127) return fail(why, "bad quoted pair");
                out += static_cast<char>(q);
                i += 2;
                continue;
            }
            if (c < 32 || c == 127) return fail(why, "control character in quoted local part");
            out += static_cast<char>(c);
            ++i;
        }
        if (i >= s.size()) return fail(why, "unterminated quoted local part");
        ++i;
    } else {
        bool need_atom = true;
        while (i < s.size()) {
            unsigned char c = static_cast<unsigned char>(s[i]);
            if (is_atext(c)) {
                out += static_cast<char>(c);
                need_atom = false;
            } else if (c == '.' && !need_atom) {
                out += '.';
                need_atom = true;
            } else {
                break;
            }
            ++i;
        }
        if (out.empty()) return fail(why, "empty local part");
        if (need_atom) return fail(why, "local part ends with a dot");
    }
    if (out.size() > kMaxLocal) return fail(why, "local part too long");
    return true;
}

bool valid_label(std::string_view label) {
    if (label.empty() || label.size() > 63) return false;
    for (unsigned char c : label) {
        if (!(std::isalnum(c) || c == '-' || c >= 0x80)) return false;
    }
    return label.front() != '-' && label.back() != '-';
}

bool valid_address_literal(std::string_view lit) {
    // lit includes the brackets.
    if (lit.size() < 3 || lit.front() != '[' || lit.back() != ']') return false;
    std::string_view in = lit.substr(1, lit.size() - 2);
    if (in.rfind("IPv6:", 0) == 0) {
        std::string_view v6 = in.substr(5);
        if (v6.empty()) return false;
        for (unsigned char c : v6)
            if (!(std::isxdigit(c) || c == ':' || c == '.')) return false;
        return true;
    }
    // IPv4 dotted quad.
    int parts = 0;
    size_t i = 0;
    while (i <= in.size()) {
        size_t j = i;
        int v = 0;
        while (j < in.size() && std::isdigit(static_cast<unsigned char>(in[j])) && j - i < 3) {
            v = v * 10 + (in[j] - '0');
            ++j;
        }
        if (j == i || v > 255) return false;
        ++parts;
        if (j == in.size()) break;
        if (in[j] != '.') return false;
        i = j + 1;
    }
    return parts == 4;
}

// Parses Domain or address-literal at s[i].
bool parse_domain(std::string_view s, size_t& i, std::string& out, std::string* why) {
    out.clear();
    if (i < s.size() && s[i] == '[') {
        size_t close = s.find(']', i);
        if (close == std::string_view::npos) return fail(why, "unterminated address literal");
        std::string_view lit = s.substr(i, close - i + 1);
        if (!valid_address_literal(lit)) return fail(why, "bad address literal");
        out = std::string(lit);
        i = close + 1;
        return true;
    }
    size_t start = i;
    while (i < s.size()) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (std::isalnum(c) || c == '-' || c == '.' || c >= 0x80) ++i;
        else break;
    }
    std::string_view d = s.substr(start, i - start);
    if (!is_valid_domain(d)) return fail(why, "bad domain");
    out = lowercase_ascii(d);
    return true;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}
}  // namespace

std::string lowercase_ascii(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

bool is_valid_domain(std::string_view d) {
    if (d.empty() || d.size() > kMaxDomain) return false;
    if (d.front() == '[') return valid_address_literal(d);
    size_t start = 0;
    for (;;) {
        size_t dot = d.find('.', start);
        std::string_view label = d.substr(start, dot == std::string_view::npos ? d.npos : dot - start);
        if (!valid_label(label)) return false;
        if (dot == std::string_view::npos) return true;
        start = dot + 1;
    }
}

std::string Mailbox::str() const {
    bool dot_string = !local.empty() && local.front() != '.' && local.back() != '.';
    for (size_t k = 0; dot_string && k < local.size(); ++k) {
        unsigned char c = static_cast<unsigned char>(local[k]);
        if (c == '.') {
            if (k + 1 < local.size() && local[k + 1] == '.') dot_string = false;
        } else if (!is_atext(c)) {
            dot_string = false;
        }
    }
    std::string out;
    if (dot_string) {
        out = local;
    } else {
        out = "\"";
        for (char c : local) {
            if (c == '"' || c == '\\') out += '\\';
            out += c;
        }
        out += '"';
    }
    if (!domain.empty()) out += "@" + domain;
    return out;
}

static bool parse_mailbox_at(std::string_view s, size_t& i, Mailbox& m, std::string* why) {
    if (!parse_local(s, i, m.local, why)) return false;
    m.domain.clear();
    if (i < s.size() && s[i] == '@') {
        ++i;
        if (!parse_domain(s, i, m.domain, why)) return false;
    }
    return true;
}

std::optional<ParsedPath> parse_smtp_path(std::string_view text, std::string* why) {
    std::string_view s = trim(text);
    ParsedPath out;
    size_t i = 0;
    if (s.empty() || s[0] != '<') {
        fail(why, "address must be in angle brackets");
        return std::nullopt;
    }
    ++i;
    if (i < s.size() && s[i] == '>') {
        out.null_path = true;
        ++i;
    } else {
        // Source route "@a,@b:" (RFC 5321 4.1.1.3): parsed, then ignored.
        if (i < s.size() && s[i] == '@') {
            size_t colon = s.find(':', i);
            if (colon == std::string_view::npos) {
                fail(why, "bad source route");
                return std::nullopt;
            }
            std::string_view route = s.substr(i, colon - i);
            size_t start = 0;
            while (start <= route.size()) {
                size_t comma = route.find(',', start);
                std::string_view hop = route.substr(start, comma == route.npos ? route.npos : comma - start);
                if (hop.size() < 2 || hop[0] != '@' || !is_valid_domain(hop.substr(1))) {
                    fail(why, "bad source route");
                    return std::nullopt;
                }
                if (comma == route.npos) break;
                start = comma + 1;
            }
            i = colon + 1;
        }
        if (!parse_mailbox_at(s, i, out.mailbox, why)) return std::nullopt;
        if (i >= s.size() || s[i] != '>') {
            fail(why, "junk after address");
            return std::nullopt;
        }
        ++i;
    }
    if (i < s.size() && s[i] != ' ') {
        fail(why, "junk after address");
        return std::nullopt;
    }
    out.params = std::string(trim(s.substr(i)));
    return out;
}

std::optional<Mailbox> parse_mailbox(std::string_view text, std::string* why) {
    std::string_view s = trim(text);
    size_t i = 0;
    Mailbox m;
    if (!parse_mailbox_at(s, i, m, why)) return std::nullopt;
    if (i != s.size()) {
        fail(why, "junk after address");
        return std::nullopt;
    }
    return m;
}

bool is_bare_postmaster(const Mailbox& m) {
    return m.domain.empty() && lowercase_ascii(m.local) == "postmaster";
}
