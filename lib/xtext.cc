// xtext (RFC 3461 section 4) encoding of record fields.
#include "lib/xtext.h"

static bool xchar_plain(unsigned char c) { return c >= '!' && c <= '~' && c != '+' && c != '='; }

std::string xtext_encode(std::string_view raw) {
    static const char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(raw.size());
    for (unsigned char c : raw) {
        if (xchar_plain(c)) {
            out += static_cast<char>(c);
        } else {
            out += '+';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

std::optional<std::string> xtext_decode(std::string_view enc) {
    std::string out;
    out.reserve(enc.size());
    for (size_t i = 0; i < enc.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(enc[i]);
        if (c == '+') {
            if (i + 2 >= enc.size()) return std::nullopt;
            int h = hexval(enc[i + 1]), l = hexval(enc[i + 2]);
            if (h < 0 || l < 0) return std::nullopt;
            out += static_cast<char>(h * 16 + l);
            i += 2;
        } else if (c >= '!' && c <= '~' && c != '=') {
            out += static_cast<char>(c);
        } else {
            return std::nullopt;
        }
    }
    return out;
}

std::vector<std::string_view> split_record_fields(std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::vector<std::string_view> out;
    size_t start = 0;
    while (start <= line.size()) {
        size_t sp = line.find(' ', start);
        out.push_back(line.substr(start, sp == line.npos ? line.npos : sp - start));
        if (sp == line.npos) break;
        start = sp + 1;
    }
    return out;
}
