// 8-bit to 7-bit conversion for courieresmtp: see outbound_mime.h.
#include "esmtp/outbound_mime.h"

#include <vector>
#include "esmtp/outbound_smtp.h"
#include "lib/address.h"

namespace outbound {

namespace {
constexpr int kMaxDepth = 20;

struct Header { std::string name, line; };   // line: the whole (folded) field, with LFs

// Splits the header block into fields (continuation lines kept with their field).
std::vector<Header> split_headers(std::string_view head) {
    std::vector<Header> out;
    size_t pos = 0;
    while (pos < head.size()) {
        size_t end = head.find('\n', pos);
        end = end == std::string_view::npos ? head.size() : end + 1;
        std::string_view line = head.substr(pos, end - pos);
        if ((line[0] == ' ' || line[0] == '\t') && !out.empty()) {
            out.back().line += line;
        } else {
            size_t colon = line.find(':');
            out.push_back({lowercase_ascii(line.substr(0, colon == std::string_view::npos ? 0 : colon)),
                           std::string(line)});
        }
        pos = end;
    }
    return out;
}

std::string field_value(const std::vector<Header>& hs, const char* name) {
    for (const auto& h : hs) {
        if (h.name != name) continue;
        std::string v = h.line.substr(h.line.find(':') + 1);
        for (auto& c : v) if (c == '\n' || c == '\t') c = ' ';
        return v;
    }
    return "";
}

std::string trim(std::string s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\r')) s.erase(0, 1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\r')) s.pop_back();
    return s;
}

// The boundary parameter of a Content-Type value, "" when absent.
std::string boundary_of(const std::string& ctype) {
    std::string lower = lowercase_ascii(ctype);
    size_t p = lower.find("boundary=");
    if (p == std::string::npos) return "";
    std::string v = ctype.substr(p + 9);
    if (!v.empty() && v[0] == '"') {
        size_t q = v.find('"', 1);
        return q == std::string::npos ? "" : v.substr(1, q - 1);
    }
    size_t e = v.find_first_of("; \r");
    return v.substr(0, e);
}

std::optional<std::string> convert_entity(std::string_view entity, int depth);

std::optional<std::string> convert_multipart(std::string_view body, const std::string& boundary, int depth) {
    std::string delim = "--" + boundary;
    std::string out;
    size_t pos = 0;
    size_t part_start = std::string_view::npos;
    while (pos <= body.size()) {
        size_t end = body.find('\n', pos);
        size_t next = end == std::string_view::npos ? body.size() : end + 1;
        std::string_view line = body.substr(pos, (end == std::string_view::npos ? body.size() : end) - pos);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        bool is_delim = line.substr(0, delim.size()) == delim;
        std::string_view rest = is_delim ? line.substr(delim.size()) : std::string_view();
        if (is_delim && rest.substr(0, 2) != "--" && rest.find_first_not_of(" \t") != std::string_view::npos)
            is_delim = false;   // "--boundaryX" is a different (longer) boundary
        if (is_delim) {
            bool closing = rest.substr(0, 2) == "--";
            if (part_start != std::string_view::npos) {
                // The LF before the delimiter belongs to the delimiter (RFC 2046 5.1.1).
                size_t len = pos - part_start;
                std::string_view part = body.substr(part_start, len > 0 ? len - 1 : 0);
                auto conv = convert_entity(part, depth + 1);
                if (!conv) return std::nullopt;
                out += *conv;
                out += '\n';
            }
            // The delimiter line is copied as it is: junk after the boundary must be 7-bit.
            if (has_8bit(body.substr(pos, next - pos))) return std::nullopt;
            out += body.substr(pos, next - pos);
            if (closing) {
                out += body.substr(next);   // epilogue, unchanged (must be 7-bit anyway)
                return has_8bit(body.substr(next)) ? std::nullopt : std::optional<std::string>(out);
            }
            part_start = next;
        } else if (part_start == std::string_view::npos) {
            // The preamble is copied as it is, so, like the epilogue, it must already
            // be 7-bit (found by fuzzing: tests/fuzz/regressions/outbound_mime/).
            if (has_8bit(body.substr(pos, next - pos))) return std::nullopt;
            out += body.substr(pos, next - pos);   // preamble
        }
        if (end == std::string_view::npos) break;
        pos = next;
    }
    return std::nullopt;   // no closing delimiter: not well-formed MIME, do not guess
}

std::optional<std::string> convert_entity(std::string_view entity, int depth) {
    if (!has_8bit(entity)) return std::string(entity);
    if (depth > kMaxDepth) return std::nullopt;
    size_t split = entity.find("\n\n");
    std::string_view head = split == std::string_view::npos ? entity : entity.substr(0, split + 1);
    std::string_view body = split == std::string_view::npos ? std::string_view() : entity.substr(split + 2);
    if (has_8bit(head)) return std::nullopt;   // would need RFC 2047 encoded-words
    auto headers = split_headers(head);
    std::string ctype = lowercase_ascii(trim(field_value(headers, "content-type")));
    std::string cte = lowercase_ascii(trim(field_value(headers, "content-transfer-encoding")));
    if (cte == "binary") return std::nullopt;
    std::string sep = split == std::string_view::npos ? "" : "\n";
    if (ctype.rfind("multipart/", 0) == 0) {
        std::string b = boundary_of(field_value(headers, "content-type"));
        if (b.empty()) return std::nullopt;
        auto conv = convert_multipart(body, b, depth);
        if (!conv) return std::nullopt;
        return std::string(head) + sep + *conv;
    }
    if (ctype.rfind("message/rfc822", 0) == 0) {
        auto conv = convert_entity(body, depth + 1);
        if (!conv) return std::nullopt;
        return std::string(head) + sep + *conv;
    }
    // A leaf: its body becomes quoted-printable.
    std::string out;
    bool replaced = false;
    for (const auto& h : headers) {
        if (h.name == "content-transfer-encoding") {
            if (!replaced) out += "Content-Transfer-Encoding: quoted-printable\n";
            replaced = true;
        } else {
            out += h.line;
        }
    }
    if (!replaced) out += "Content-Transfer-Encoding: quoted-printable\n";
    return out + "\n" + quoted_printable(body);
}
}  // namespace

std::string quoted_printable(std::string_view body) {
    static const char hex[] = "0123456789ABCDEF";
    std::string out;
    size_t pos = 0;
    while (pos < body.size()) {
        size_t end = body.find('\n', pos);
        bool has_lf = end != std::string_view::npos;
        std::string_view line = body.substr(pos, (has_lf ? end : body.size()) - pos);
        // The queue stores LF line ends, so a CR here is message data: it is encoded
        // (=0D) like any other control byte, never dropped (found by fuzzing).
        size_t col = 0;
        for (size_t i = 0; i < line.size(); ++i) {
            auto c = static_cast<unsigned char>(line[i]);
            bool last = i + 1 == line.size();
            std::string enc;
            if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !last)) enc = std::string(1, char(c));
            else enc = {'=', hex[c >> 4], hex[c & 15]};
            if (col + enc.size() > 75) {   // soft line break: "=" ends a line of at most 76
                out += "=\n";
                col = 0;
            }
            out += enc;
            col += enc.size();
        }
        if (has_lf) out += '\n';
        pos = has_lf ? end + 1 : body.size();
    }
    return out;
}

std::optional<std::string> convert_to_7bit(std::string_view message) {
    auto out = convert_entity(message, 0);
    if (!out) return std::nullopt;
    // A top-level message without MIME-Version gets one: the new header needs it.
    if (*out != message && lowercase_ascii(*out).find("\nmime-version:") == std::string::npos &&
        lowercase_ascii(out->substr(0, 13)) != "mime-version:")
        out->insert(0, "MIME-Version: 1.0\n");
    return out;
}

}  // namespace outbound
