// The text a content rule sees: see mime_text.h.
#include "filters/pcre/mime_text.h"

#include <functional>
#include "lib/address.h"
#include "lib/rfc5322.h"

namespace pcrefilter {

namespace {
// Deeper nesting than this is not real mail; the rest of such a message is not walked.
constexpr int kMaxDepth = 20;

bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
    while (!s.empty() && (is_space(s.front()) || s.front() == '\r' || s.front() == '\n')) s.remove_prefix(1);
    while (!s.empty() && (is_space(s.back()) || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
    return s;
}

// Calls fn for each line of text without its LF (and without a CR before it).
void for_each_line(std::string_view text, const std::function<void(std::string_view)>& fn) {
    size_t pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        size_t end = nl == std::string_view::npos ? text.size() : nl;
        std::string_view line = text.substr(pos, end - pos);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        fn(line);
        pos = end + 1;
    }
}

// Splits an entity at its first empty line: {header block, body}. No empty line: all header.
std::pair<std::string_view, std::string_view> split_entity(std::string_view entity) {
    size_t pos = 0;
    while (pos < entity.size()) {
        size_t nl = entity.find('\n', pos);
        if (nl == std::string_view::npos) break;
        std::string_view line = entity.substr(pos, nl - pos);
        if (line.empty() || line == "\r") return {entity.substr(0, pos), entity.substr(nl + 1)};
        pos = nl + 1;
    }
    return {entity, std::string_view()};
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

int base64_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

// The media type of a Content-Type value, lower case, without parameters.
std::string media_type(std::string_view value) {
    return lowercase_ascii(trim(value.substr(0, value.find(';'))));
}

struct Walker {
    MessageText& out;
    void entity(std::string_view entity, int depth, std::string_view default_type);
    void multipart(std::string_view body, const std::string& boundary, int depth, std::string_view part_default);
    void text_body(std::string_view body, const std::string& encoding);
};

void Walker::entity(std::string_view entity, int depth, std::string_view default_type) {
    if (depth > kMaxDepth) return;
    auto [head, body] = split_entity(entity);
    std::string type_value, encoding;
    for (const auto& field : parse_header_block(head)) {
        out.headers.push_back(unfold_header(field.raw));
        if (header_name_is(field, "Content-Type")) type_value = field.value;
        if (header_name_is(field, "Content-Transfer-Encoding")) encoding = lowercase_ascii(trim(field.value));
    }
    std::string type = type_value.empty() ? std::string(default_type) : media_type(type_value);
    if (type.rfind("multipart/", 0) == 0) {
        std::string boundary = mime_parameter(type_value, "boundary");
        if (!boundary.empty()) {
            multipart(body, boundary, depth, type == "multipart/digest" ? "message/rfc822" : "text/plain");
            return;
        }
        type = "text/plain";   // no boundary: not MIME, so a reader sees plain text
    }
    if (type == "message/rfc822" || type == "message/global") {
        this->entity(body, depth + 1, "text/plain");
        return;
    }
    if (type.rfind("text/", 0) == 0) text_body(body, encoding);
}

// Parts between "--boundary" lines (RFC 2046 5.1.1); the line end before a delimiter
// belongs to it. A missing close delimiter ends the last part at the end of the body:
// mail readers show such a part, so the rules must see it too.
void Walker::multipart(std::string_view body, const std::string& boundary, int depth,
                       std::string_view part_default) {
    std::string delimiter = "--" + boundary;
    size_t pos = 0, part_start = std::string_view::npos;
    // The part that ends where a delimiter line starts (or at the end of the body).
    auto end_part = [&](size_t end, bool at_delimiter) {
        if (part_start == std::string_view::npos) return;
        if (at_delimiter && end > part_start && body[end - 1] == '\n') --end;
        if (at_delimiter && end > part_start && body[end - 1] == '\r') --end;
        entity(body.substr(part_start, end - part_start), depth + 1, part_default);
    };
    while (pos < body.size()) {
        size_t nl = body.find('\n', pos);
        size_t next = nl == std::string_view::npos ? body.size() : nl + 1;
        std::string_view line = body.substr(pos, next - pos);
        if (line.substr(0, delimiter.size()) == delimiter) {
            std::string_view rest = line.substr(delimiter.size());
            bool closing = rest.substr(0, 2) == "--";
            if (closing) rest.remove_prefix(2);
            if (trim(rest).empty()) {   // else a longer boundary that starts with ours
                end_part(pos, true);
                if (closing) return;    // the epilogue is not shown to a reader
                part_start = next;
            }
        }
        pos = next;
    }
    end_part(body.size(), false);
}

void Walker::text_body(std::string_view body, const std::string& encoding) {
    std::string decoded;
    if (encoding == "quoted-printable") {
        decoded = decode_quoted_printable(body);
        body = decoded;
    } else if (encoding == "base64") {
        decoded = decode_base64(body);
        body = decoded;
    }
    for_each_line(body, [&](std::string_view line) { out.body_lines.emplace_back(line); });
}
}  // namespace

std::string unfold_header(std::string_view raw) {
    std::string out;
    out.reserve(raw.size());
    for (char c : raw)
        if (c != '\r' && c != '\n') out.push_back(c);
    return out;
}

std::string decode_quoted_printable(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    size_t pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        bool has_lf = nl != std::string_view::npos;
        std::string_view line = text.substr(pos, (has_lf ? nl : text.size()) - pos);
        // Whitespace at the end of an encoded line was added in transport (6.7 rule 3).
        while (!line.empty() && (is_space(line.back()) || line.back() == '\r')) line.remove_suffix(1);
        bool soft_break = !line.empty() && line.back() == '=';
        if (soft_break) line.remove_suffix(1);
        for (size_t i = 0; i < line.size(); ++i) {
            if (line[i] == '=' && i + 2 < line.size()) {
                int h = hex_value(line[i + 1]), l = hex_value(line[i + 2]);
                if (h >= 0 && l >= 0) {
                    out.push_back(static_cast<char>(h * 16 + l));
                    i += 2;
                    continue;
                }
            }
            out.push_back(line[i]);
        }
        if (has_lf && !soft_break) out.push_back('\n');
        pos = has_lf ? nl + 1 : text.size();
    }
    return out;
}

std::string decode_base64(std::string_view text) {
    std::string out;
    out.reserve(text.size() * 3 / 4);
    unsigned bits = 0;
    int nbits = 0;
    for (char c : text) {
        if (c == '=') break;
        int v = base64_value(c);
        if (v < 0) continue;
        bits = (bits << 6) | static_cast<unsigned>(v);
        nbits += 6;
        if (nbits >= 8) {
            nbits -= 8;
            out.push_back(static_cast<char>((bits >> nbits) & 0xff));
        }
    }
    return out;
}

std::string mime_parameter(std::string_view value, std::string_view name) {
    size_t pos = value.find(';');
    std::string wanted = lowercase_ascii(name);
    while (pos != std::string_view::npos && pos < value.size()) {
        ++pos;   // past ';'
        while (pos < value.size() && (is_space(value[pos]) || value[pos] == '\r' || value[pos] == '\n')) ++pos;
        size_t eq = pos;
        while (eq < value.size() && value[eq] != '=' && value[eq] != ';') ++eq;
        std::string pname = lowercase_ascii(trim(value.substr(pos, eq - pos)));
        if (eq >= value.size() || value[eq] == ';') {
            pos = eq;
            continue;
        }
        size_t v = eq + 1;
        while (v < value.size() && is_space(value[v])) ++v;
        std::string pvalue;
        if (v < value.size() && value[v] == '"') {
            for (++v; v < value.size() && value[v] != '"'; ++v) {
                if (value[v] == '\\' && v + 1 < value.size()) ++v;
                pvalue.push_back(value[v]);
            }
            pos = value.find(';', v);
        } else {
            size_t end = value.find(';', v);
            pvalue = trim(value.substr(v, end == std::string_view::npos ? std::string_view::npos : end - v));
            pos = end;
        }
        if (pname == wanted) return pvalue;
    }
    return "";
}

MessageText extract_text(std::string_view message) {
    MessageText out;
    Walker{out}.entity(message, 0, "text/plain");
    return out;
}

}  // namespace pcrefilter
