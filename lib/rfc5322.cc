// RFC 5322 header fields and address lists.
#include "lib/rfc5322.h"
#include <cctype>

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

// A header field name: printable ASCII except colon and space (RFC 5322 3.6.8).
bool field_name(std::string_view s) {
    if (s.empty()) return false;
    for (unsigned char c : s)
        if (c <= 32 || c >= 127) return false;
    return true;
}

// One mailbox without comments: "Name <addr>" or "addr" -> "addr".
std::string mailbox_spec(std::string_view m) {
    m = trim(m);
    size_t lt = std::string_view::npos;
    bool q = false;
    for (size_t i = 0; i < m.size(); ++i) {
        if (m[i] == '"' && (i == 0 || m[i - 1] != '\\')) q = !q;
        if (!q && m[i] == '<') lt = i;
    }
    if (lt != std::string_view::npos) {
        size_t gt = m.find('>', lt);
        m = m.substr(lt + 1, gt == std::string_view::npos ? std::string_view::npos : gt - lt - 1);
        // An obsolete route "@a,@b:addr" (RFC 5322 4.4) is dropped.
        if (!m.empty() && m.front() == '@') {
            size_t colon = m.find(':');
            m = colon == std::string_view::npos ? std::string_view() : m.substr(colon + 1);
        }
    }
    std::string out;
    for (char c : trim(m))
        if (!std::isspace(static_cast<unsigned char>(c))) out.push_back(c);
    return out;
}

}  // namespace

std::vector<HeaderField> parse_header_block(std::string_view block) {
    std::vector<HeaderField> out;
    size_t pos = 0;
    while (pos < block.size()) {
        size_t nl = block.find('\n', pos);
        size_t end = nl == std::string_view::npos ? block.size() : nl + 1;
        std::string_view line = block.substr(pos, end - pos);
        pos = end;
        bool continuation = !line.empty() && (line[0] == ' ' || line[0] == '\t');
        if (continuation && !out.empty()) {
            out.back().raw += line;
            out.back().value += std::string(trim(line)).insert(0, " ");
            continue;
        }
        HeaderField f;
        f.raw = line;
        size_t colon = line.find(':');
        if (colon != std::string_view::npos && field_name(line.substr(0, colon))) {
            f.name = line.substr(0, colon);
            f.value = trim(line.substr(colon + 1));
        }
        out.push_back(std::move(f));
    }
    for (auto& f : out) f.value = std::string(trim(f.value));
    return out;
}

bool header_name_is(const HeaderField& f, std::string_view name) {
    if (f.name.size() != name.size()) return false;
    for (size_t i = 0; i < name.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(f.name[i])) !=
            std::tolower(static_cast<unsigned char>(name[i])))
            return false;
    return true;
}

std::vector<std::string> parse_address_list(std::string_view value) {
    // First pass: drop comments (nested, outside quotes), then split on commas and
    // group punctuation outside quotes and angle brackets.
    std::string clean;
    int depth = 0;
    bool quoted = false;
    for (size_t i = 0; i < value.size(); ++i) {
        char c = value[i];
        if (quoted) {
            clean.push_back(c);
            if (c == '\\' && i + 1 < value.size()) clean.push_back(value[++i]);
            else if (c == '"') quoted = false;
        } else if (depth > 0) {
            if (c == '\\') ++i;
            else if (c == '(') ++depth;
            else if (c == ')') --depth;
        } else if (c == '(') {
            depth = 1;
            clean.push_back(' ');
        } else {
            if (c == '"') quoted = true;
            clean.push_back(c);
        }
    }
    std::vector<std::string> out;
    std::string item;
    bool in_angle = false;
    quoted = false;
    auto flush = [&] {
        std::string spec = mailbox_spec(item);
        if (!spec.empty()) out.push_back(std::move(spec));
        item.clear();
    };
    for (size_t i = 0; i < clean.size(); ++i) {
        char c = clean[i];
        if (quoted) {
            item.push_back(c);
            if (c == '\\' && i + 1 < clean.size()) item.push_back(clean[++i]);
            else if (c == '"') quoted = false;
            continue;
        }
        if (c == '"') quoted = true;
        if (c == '<') in_angle = true;
        if (c == '>') in_angle = false;
        if (!in_angle && (c == ',' || c == ';')) {
            flush();
            continue;
        }
        // "group: a, b;" -- the group name ends at the colon (not inside <...>).
        if (!in_angle && c == ':') {
            item.clear();
            continue;
        }
        item.push_back(c);
    }
    flush();
    return out;
}
