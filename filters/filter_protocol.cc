// The global filter protocol (doc/filters.md): request, envelope file and answer,
// formatted and parsed in one place for submit and for libcourierfilter.
#include "filters/filter_protocol.h"
#include <dirent.h>
#include <algorithm>
#include <cctype>
#include "lib/xtext.h"

namespace courierfilter {

namespace {

void add_record(std::string& out, std::string_view tag, std::string_view value, bool always) {
    if (value.empty() && !always) return;
    out += tag;
    out += ' ';
    out += xtext_encode(value);
    out += '\n';
}

bool is_enhanced_code(std::string_view text) {
    // "X.Y.Z" with X in 2/4/5, Y 1-3 digits, Z 1-3 digits, then end or a space.
    if (text.size() < 5 || (text[0] != '2' && text[0] != '4' && text[0] != '5') || text[1] != '.')
        return false;
    size_t i = 2, digits = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i, ++digits;
    if (digits == 0 || digits > 3 || i >= text.size() || text[i] != '.') return false;
    ++i;
    digits = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i, ++digits;
    return digits > 0 && digits <= 3 && (i == text.size() || text[i] == ' ');
}

bool printable(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u >= 0x20 && u != 0x7f;   // 8-bit bytes are fine (UTF-8 text)
    });
}

}  // namespace

std::string format_envelope_file(const Envelope& env) {
    std::string out = "courier-filter " + std::to_string(kEnvelopeVersion) + "\n";
    add_record(out, "source", env.source, true);
    add_record(out, "sender", env.sender, true);
    out += "size " + std::to_string(env.size) + "\n";
    add_record(out, "remote-ip", env.remote_ip, false);
    add_record(out, "remote-host", env.remote_host, false);
    add_record(out, "helo", env.helo, false);
    add_record(out, "local-ip", env.local_ip, false);
    add_record(out, "auth", env.auth, false);
    for (const auto& r : env.rcpts) add_record(out, "rcpt", r, true);
    return out;
}

Result<Envelope> parse_envelope_file(std::string_view text) {
    Envelope env;
    bool first = true;
    size_t pos = 0, lineno = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        std::string_view line = text.substr(pos, nl == std::string_view::npos ? nl : nl - pos);
        pos = nl == std::string_view::npos ? text.size() : nl + 1;
        ++lineno;
        auto f = split_record_fields(line);
        if (first) {
            int version = 0;
            if (f.size() != 2 || f[0] != "courier-filter" || !parse_decimal(f[1], version) ||
                version != kEnvelopeVersion)
                return Error{0, "envelope: line 1: not a courier-filter 1 envelope"};
            first = false;
            continue;
        }
        if (f.empty()) continue;
        std::string_view tag = f[0];
        std::optional<std::string> value = xtext_decode(f.size() > 1 ? f[1] : "");
        if (!value) return Error{0, "envelope: line " + std::to_string(lineno) + ": bad xtext"};
        if (tag == "source") env.source = std::move(*value);
        else if (tag == "sender") env.sender = std::move(*value);
        else if (tag == "size") {
            if (!parse_decimal(*value, env.size))
                return Error{0, "envelope: line " + std::to_string(lineno) + ": bad size"};
        } else if (tag == "remote-ip") env.remote_ip = std::move(*value);
        else if (tag == "remote-host") env.remote_host = std::move(*value);
        else if (tag == "helo") env.helo = std::move(*value);
        else if (tag == "local-ip") env.local_ip = std::move(*value);
        else if (tag == "auth") env.auth = std::move(*value);
        else if (tag == "rcpt") env.rcpts.push_back(std::move(*value));
        // Unknown tags: a newer submit may add records.
    }
    if (first) return Error{0, "envelope: empty"};
    return env;
}

std::string format_request(const Request& r) {
    return r.message_path + "\n" + r.envelope_path + "\n\n";
}

std::optional<Result<Request>> parse_request_lines(const std::vector<std::string>& lines) {
    for (size_t i = 0; i < lines.size() && i < 2; ++i)
        if (lines[i].empty() || lines[i][0] != '/' || lines[i].size() > kMaxLine ||
            !printable(lines[i]))
            return Result<Request>(Error{0, "request line " + std::to_string(i + 1) +
                                                ": not an absolute path"});
    if (lines.size() > 3 || (lines.size() == 3 && !lines[2].empty()))
        return Result<Request>(Error{0, "request: expected an empty line after two paths"});
    if (lines.size() < 3) return std::nullopt;
    return Result<Request>(Request{lines[0], lines[1]});
}

std::string format_answer(const Answer& a) {
    std::string out;
    for (const auto& h : a.prepend) out += "prepend " + h + "\n";
    if (a.hold) out += "hold " + a.hold_reason + "\n";
    if (a.discard) out += "discard " + a.discard_reason + "\n";
    out += std::to_string(a.code);
    if (!a.text.empty()) out += " " + a.text;
    out += "\n";
    return out;
}

AnswerParser::State AnswerParser::fail(std::string why) {
    error_ = std::move(why);
    return State::error;
}

AnswerParser::State AnswerParser::feed(std::string_view line) {
    if (!error_.empty()) return State::error;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > kMaxLine) return fail("answer line too long");
    if (!printable(line)) return fail("control character in answer");
    bool digits = line.size() >= 3 && std::all_of(line.begin(), line.begin() + 3, [](char c) {
                      return c >= '0' && c <= '9';
                  });
    if (!digits) {
        if (in_reply_) return fail("directive after reply lines");
        if (++directives_ > kMaxDirectives) return fail("too many directives");
        size_t sp = line.find(' ');
        std::string_view word = line.substr(0, sp);
        std::string_view rest = sp == std::string_view::npos ? "" : line.substr(sp + 1);
        if (word == "prepend") {
            if (!valid_header_line(rest)) return fail("prepend: not a header line");
            answer_.prepend.emplace_back(rest);
        } else if (word == "hold") {
            answer_.hold = true;
            answer_.hold_reason = std::string(rest);
        } else if (word == "discard") {
            answer_.discard = true;
            answer_.discard_reason = std::string(rest);
        } else {
            return fail("unknown directive");
        }
        return State::more;
    }
    int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    char sep = line.size() > 3 ? line[3] : ' ';
    if (sep != ' ' && sep != '-') return fail("malformed reply line");
    if (code < 200 || code > 599 || code / 100 == 3) return fail("reply code out of range");
    if (in_reply_ && code != reply_code_) return fail("reply code changed between lines");
    in_reply_ = true;
    reply_code_ = code;
    std::string_view text = line.size() > 4 ? line.substr(4) : "";
    if (!text.empty()) {
        if (!answer_.text.empty()) answer_.text += ' ';
        answer_.text += text;
        if (answer_.text.size() > 4 * kMaxLine) return fail("reply text too long");
    }
    if (sep == '-') return State::more;
    answer_.code = code;
    return State::done;
}

bool valid_header_line(std::string_view line) {
    size_t colon = line.find(':');
    if (colon == 0 || colon == std::string_view::npos || line.size() > kMaxLine) return false;
    for (size_t i = 0; i < colon; ++i) {
        auto u = static_cast<unsigned char>(line[i]);
        if (u <= 0x20 || u >= 0x7f) return false;
    }
    return printable(line);
}

std::string client_reply_text(int code, std::string_view text) {
    if (is_enhanced_code(text) && text[0] == char('0' + code / 100)) return std::string(text);
    std::string enhanced = code / 100 == 2 ? "2.0.0" : code / 100 == 4 ? "4.7.1" : "5.7.1";
    if (text.empty()) return enhanced + (code / 100 == 2 ? " Ok" : " Refused by a filter");
    return enhanced + " " + std::string(text);
}

bool FilterSources::covers(std::string_view source) const {
    return std::find(sources.begin(), sources.end(), source) != sources.end();
}

FilterSources parse_enablefiltering(std::string_view text, const std::string& origin) {
    FilterSources out;
    size_t pos = 0, lineno = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        std::string_view line = text.substr(pos, nl == std::string_view::npos ? nl : nl - pos);
        pos = nl == std::string_view::npos ? text.size() : nl + 1;
        ++lineno;
        if (size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
        size_t i = 0;
        while (i < line.size()) {
            while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
            size_t start = i;
            while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i]))) ++i;
            if (start == i) continue;
            std::string word(line.substr(start, i - start));
            // Courier's sources; uucp is accepted for compatibility, nothing here uses it.
            if (word == "esmtp" || word == "local" || word == "dsn" || word == "forward" ||
                word == "uucp") {
                if (!out.covers(word)) out.sources.push_back(word);
            } else {
                out.errors.push_back(origin + ":" + std::to_string(lineno) +
                                     ": unknown mail source \"" + word + "\"");
            }
        }
    }
    return out;
}

std::optional<FailureMode> parse_failure_mode(std::string_view text) {
    if (text == "tempfail" || text == "closed") return FailureMode::tempfail;
    if (text == "accept" || text == "open") return FailureMode::accept;
    return std::nullopt;
}

bool valid_filter_name(std::string_view name) {
    if (name.empty() || name.size() > 64 || name[0] == '.') return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u > 0x20 && u < 0x7f && c != '/';
    });
}

std::vector<std::string> list_active_filters(const std::string& dir) {
    std::vector<std::string> names;
    DIR* d = ::opendir(dir.c_str());
    if (!d) return names;
    while (dirent* e = ::readdir(d))
        if (valid_filter_name(e->d_name)) names.emplace_back(e->d_name);
    ::closedir(d);
    std::sort(names.begin(), names.end());
    return names;
}

}  // namespace courierfilter
