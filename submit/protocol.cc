// The server side of the submit protocol's command lines: verbs, fields and the ESMTP
// parameters of mail and rcpt (doc/architecture.md, "The submit protocol"; RFC 3461,
// RFC 6152, RFC 6531).
#include "submit/protocol.h"
#include "lib/xtext.h"

namespace submit {

namespace {

Verb verb_of(std::string_view word) {
    if (word == "session") return Verb::session;
    if (word == "mail") return Verb::mail;
    if (word == "rcpt") return Verb::rcpt;
    if (word == "data") return Verb::data;
    if (word == "chunk") return Verb::chunk;
    if (word == "rset") return Verb::rset;
    if (word == "quit") return Verb::quit;
    return Verb::unknown;
}

SubmitReply reply(int code, std::string text) { return SubmitReply{code, std::move(text)}; }

// Splits "KEY=value" (value may be empty); the key uppercased for comparison.
struct Param {
    std::string key;
    std::string_view value;
    bool has_value = false;
};
Param split_param(std::string_view p) {
    Param out;
    size_t eq = p.find('=');
    std::string_view key = eq == std::string_view::npos ? p : p.substr(0, eq);
    for (char c : key) out.key.push_back(c >= 'a' && c <= 'z' ? char(c - 'a' + 'A') : c);
    if (eq != std::string_view::npos) {
        out.value = p.substr(eq + 1);
        out.has_value = true;
    }
    return out;
}

std::string upper(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'a' && c <= 'z') c = char(c - 'a' + 'A');
    return out;
}

// RFC 3461 4.1: NEVER alone, or any of SUCCESS, FAILURE, DELAY once each.
bool valid_notify(const std::string& list) {
    if (list == "NEVER") return true;
    bool seen[3] = {false, false, false};
    static const char* const names[3] = {"SUCCESS", "FAILURE", "DELAY"};
    size_t start = 0;
    while (start <= list.size()) {
        size_t comma = list.find(',', start);
        if (comma == std::string::npos) comma = list.size();
        std::string_view item(list.data() + start, comma - start);
        int which = -1;
        for (int i = 0; i < 3; ++i)
            if (item == names[i]) which = i;
        if (which < 0 || seen[which]) return false;
        seen[which] = true;
        start = comma + 1;
    }
    return true;
}

SubmitReply bad_param(std::string_view what) {
    return reply(501, "5.5.4 Invalid " + std::string(what) + " parameter");
}

}  // namespace

CommandLine parse_command(std::string_view line) {
    CommandLine cmd;
    size_t sp = line.find(' ');
    cmd.verb = verb_of(line.substr(0, sp));
    while (sp != std::string_view::npos) {
        size_t start = sp + 1;
        sp = line.find(' ', start);
        cmd.fields.push_back(line.substr(start, sp == std::string_view::npos ? sp : sp - start));
    }
    return cmd;
}

AddressAndParams split_address_and_params(std::span<const std::string_view> fields) {
    AddressAndParams out;
    size_t i = 0;
    if (!fields.empty() && fields[0].find('=') == std::string_view::npos) out.address = fields[i++];
    for (; i < fields.size(); ++i)
        if (!fields[i].empty()) out.params.push_back(fields[i]);
    return out;
}

std::optional<MailParams> parse_mail_params(std::span<const std::string_view> params,
                                            SubmitReply* error) {
    MailParams out;
    bool seen_ret = false, seen_envid = false, seen_body = false, seen_utf8 = false, seen_rtls = false;
    for (std::string_view text : params) {
        Param p = split_param(text);
        if (p.key == "RET" && p.has_value && !seen_ret) {
            out.ret = upper(p.value);
            seen_ret = true;
            if (out.ret != "FULL" && out.ret != "HDRS") return *error = bad_param("RET"), std::nullopt;
        } else if (p.key == "ENVID" && p.has_value && !seen_envid) {
            auto decoded = xtext_decode(p.value);
            // RFC 3461 4.4: at most 100 characters.
            if (!decoded || decoded->empty() || p.value.size() > 100)
                return *error = bad_param("ENVID"), std::nullopt;
            out.envid = std::move(*decoded);
            seen_envid = true;
        } else if (p.key == "BODY" && p.has_value && !seen_body) {
            out.body = upper(p.value);
            seen_body = true;
            if (out.body != "7BIT" && out.body != "8BITMIME")
                return *error = reply(555, "5.5.4 Unsupported BODY type"), std::nullopt;
        } else if (p.key == "SMTPUTF8" && (!p.has_value || p.value == "1") && !seen_utf8) {
            out.smtputf8 = seen_utf8 = true;
        } else if (p.key == "REQUIRETLS" && (!p.has_value || p.value == "1") && !seen_rtls) {
            out.requiretls = seen_rtls = true;
        } else {
            return *error = reply(555, "5.5.4 Unsupported or repeated parameter"), std::nullopt;
        }
    }
    return out;
}

std::optional<RcptParams> parse_rcpt_params(std::span<const std::string_view> params,
                                            SubmitReply* error) {
    RcptParams out;
    bool seen_notify = false, seen_orcpt = false;
    for (std::string_view text : params) {
        Param p = split_param(text);
        if (p.key == "NOTIFY" && p.has_value && !seen_notify) {
            out.notify = upper(p.value);
            seen_notify = true;
            if (!valid_notify(out.notify)) return *error = bad_param("NOTIFY"), std::nullopt;
        } else if (p.key == "ORCPT" && p.has_value && !seen_orcpt) {
            auto decoded = xtext_decode(p.value);
            // RFC 3461 4.2: "addr-type ; xtext", at most 500 characters.
            if (!decoded || p.value.size() > 500 || decoded->find(';') == std::string::npos ||
                decoded->front() == ';')
                return *error = bad_param("ORCPT"), std::nullopt;
            out.orcpt = std::move(*decoded);
            seen_orcpt = true;
        } else {
            return *error = reply(555, "5.5.4 Unsupported or repeated parameter"), std::nullopt;
        }
    }
    return out;
}

std::optional<uint64_t> parse_chunk_size(std::span<const std::string_view> fields) {
    if (fields.size() != 1 || fields[0].empty() || fields[0].size() > 18) return std::nullopt;
    uint64_t n = 0;
    for (char c : fields[0]) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + uint64_t(c - '0');
    }
    return n;
}

std::string format_reply(const SubmitReply& r) {
    std::string line = std::to_string(r.code);
    line += ' ';
    line += r.text;
    line += '\n';
    return line;
}

}  // namespace submit
