// The Received: trace header of RFC 5321 4.4, folded for RFC 5322 2.1.1.
#include "submit/received.h"
#include <cstdio>
#include <string_view>
#include <vector>

namespace submit {

namespace {

constexpr size_t kFoldWidth = 78;
constexpr size_t kMaxValue = 200;   // longer session values are cut

// A single header token: printable ASCII without space, '(' , ')' or '\\' (those would
// end or escape the comment they may sit in); anything else becomes '?'.
std::string header_token(std::string_view s) {
    std::string out;
    for (char c : s.substr(0, kMaxValue)) {
        auto u = static_cast<unsigned char>(c);
        bool ok = u > 0x20 && u < 0x7f && c != '(' && c != ')' && c != '\\';
        out.push_back(ok ? c : '?');
    }
    return out;
}

// Lines start a new clause group; inside a group the words fold when they would pass
// the width. Continuation lines start with two spaces.
void fold_group(std::string& out, size_t& col, const std::vector<std::string>& words,
                bool first_group) {
    for (size_t i = 0; i < words.size(); ++i) {
        const std::string& w = words[i];
        bool new_line = (i == 0 && !first_group) || (i > 0 && col + 1 + w.size() > kFoldWidth);
        if (new_line) {
            out += "\n  ";
            col = 2;
        } else {
            out += ' ';
            ++col;
        }
        out += w;
        col += w.size();
    }
}

// Text inside a comment: printable ASCII and spaces; parentheses and backslashes (which
// would end or escape the comment) and anything else become '?'.
std::string comment_text(std::string_view s) {
    std::string out;
    for (char c : s.substr(0, kMaxValue)) {
        auto u = static_cast<unsigned char>(c);
        bool ok = u >= 0x20 && u < 0x7f && c != '(' && c != ')' && c != '\\';
        out.push_back(ok ? c : '?');
    }
    return out;
}

// "TLSv1.3 TLS_AES_256_GCM_SHA384 256" -> "TLS: TLSv1.3,256bits,TLS_AES_256_GCM_SHA384"
// (the form Courier writes); any other shape of the fact is shown as it is.
std::string tls_comment(std::string_view tls) {
    std::vector<std::string> parts;
    std::string cur;
    for (char c : tls) {
        if (c == ' ' || c == ',' || c == ':') {
            if (!cur.empty()) parts.push_back(std::move(cur));
            cur.clear();
        } else {
            cur.push_back(c);
        }
    }
    if (!cur.empty()) parts.push_back(std::move(cur));
    if (parts.size() == 3 && !parts[2].empty() &&
        parts[2].find_first_not_of("0123456789") == std::string::npos)
        return "TLS: " + comment_text(parts[0]) + "," + comment_text(parts[2]) + "bits," +
               comment_text(parts[1]);
    return "TLS: " + comment_text(tls);
}

bool known_protocol(std::string_view p) {
    static const char* const words[] = {"SMTP",   "ESMTP",   "ESMTPA",   "ESMTPS",  "ESMTPSA",
                                        "LMTP",   "LMTPA",   "LMTPS",    "LMTPSA",  "UTF8SMTP",
                                        "UTF8SMTPA", "UTF8SMTPS", "UTF8SMTPSA", "UTF8LMTP",
                                        "UTF8LMTPA", "UTF8LMTPS", "UTF8LMTPSA", "local", "BSMTP"};
    for (const char* w : words)
        if (p == w) return true;
    return false;
}

}  // namespace

std::string received_protocol(std::string_view protocol, std::string_view source, bool tls,
                              bool auth) {
    std::string p(protocol);
    if (!known_protocol(p)) p = source == "esmtp" ? "ESMTP" : "local";
    // RFC 3848: ESMTP + S for TLS, + A for AUTH; a caller that sent the base word for a
    // TLS or authenticated session still gets the right one.
    if (p == "ESMTP" || p == "UTF8SMTP" || p == "LMTP" || p == "UTF8LMTP") {
        if (tls) p += 'S';
        if (auth) p += 'A';
    }
    return p;
}

std::string format_received(const ReceivedInfo& info) {
    std::vector<std::vector<std::string>> groups;
    if (!info.remote_ip.empty() || !info.helo.empty()) {
        std::string helo = info.helo.empty() ? "unknown" : header_token(info.helo);
        std::string host = info.remote_host.empty() ? "unknown" : header_token(info.remote_host);
        std::string ip = info.remote_ip.empty() ? "" : " [" + header_token(info.remote_ip) + "]";
        groups.push_back({"from " + helo, "(" + host + ip + ")"});
    } else if (!info.local_user.empty()) {
        // Local submission: who ran sendmail, as the kernel told submit (not the caller).
        std::string who = "(from " + comment_text(info.local_user);
        if (info.local_uid >= 0) who += " uid " + std::to_string(info.local_uid);
        groups.push_back({who + ")"});
    }
    // Courier's form: "(AUTH: user, TLS: TLSv1.3,256bits,cipher)".
    std::string facts;
    if (!info.auth.empty()) facts = "AUTH: " + comment_text(info.auth);
    if (!info.tls.empty()) facts += (facts.empty() ? "" : ", ") + tls_comment(info.tls);
    if (!facts.empty()) {
        std::vector<std::string> words;
        std::string word;
        for (char c : "(" + facts + ")") {
            if (c == ' ') {
                words.push_back(std::move(word));
                word.clear();
            } else {
                word.push_back(c);
            }
        }
        words.push_back(std::move(word));
        groups.push_back(std::move(words));
    }
    std::string protocol = info.protocol.empty() ? "ESMTP" : header_token(info.protocol);
    groups.push_back({"by " + header_token(info.me), "with " + protocol,
                      "id " + header_token(info.qid) + (info.for_rcpt.empty() ? ";" : "")});
    if (!info.for_rcpt.empty()) {
        // The address is a Path (RFC 5321 4.4); it is kept whole, only control bytes go.
        std::string rcpt;
        for (char c : info.for_rcpt) rcpt.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c);
        groups.push_back({"for <" + rcpt + ">;"});
    }
    groups.back().push_back(rfc5322_date(info.when));

    std::string out = "Received:";
    size_t col = out.size();
    for (size_t g = 0; g < groups.size(); ++g) fold_group(out, col, groups[g], g == 0);
    out += '\n';
    return out;
}

namespace {

// A key-value-pair value of RFC 7208 9.1: a dot-atom as it is, anything else as a
// quoted-string (RFC 5322 3.2.4) with '"' and '\\' escaped and other bytes made safe.
std::string spf_value(std::string_view s) {
    static const std::string_view atext = "!#$%&'*+-/=?^_`{|}~";
    bool atom = !s.empty() && s.front() != '.' && s.back() != '.';
    for (size_t i = 0; atom && i < s.size(); ++i) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        atom = alnum || atext.find(c) != std::string_view::npos || (c == '.' && s[i - 1] != '.');
    }
    if (atom && s.size() <= kMaxValue) return std::string(s);
    std::string out = "\"";
    for (char c : s.substr(0, kMaxValue)) {
        auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') out += '\\';
        out.push_back(u >= 0x20 && u < 0x7f ? c : '?');
    }
    return out + "\"";
}

}  // namespace

std::string format_received_spf(const ReceivedSpfInfo& info) {
    std::vector<std::string> words{header_token(info.result)};
    std::string comment = "(" + comment_text(info.comment) + ")";
    for (size_t i = 0; i < comment.size();) {
        size_t sp = comment.find(' ', i);
        if (sp == std::string::npos) sp = comment.size();
        if (sp > i) words.push_back(comment.substr(i, sp - i));
        i = sp + 1;
    }
    const std::pair<const char*, const std::string*> pairs[] = {
        {"client-ip", &info.client_ip}, {"envelope-from", &info.envelope_from},
        {"helo", &info.helo}, {"receiver", &info.receiver}, {"identity", &info.identity}};
    for (const auto& [key, value] : pairs) {
        // The null reverse path is written as an empty quoted-string.
        if (value->empty() && std::string_view(key) != "envelope-from") continue;
        words.push_back(std::string(key) + "=" + spf_value(*value) + ";");
    }
    std::string out = "Received-SPF:";
    size_t col = out.size();
    fold_group(out, col, words, true);
    out += '\n';
    return out;
}

std::string format_rfc5322_date(const std::tm& tm, long utc_offset_seconds) {
    // English names whatever the locale (RFC 5322 3.3).
    static const char* const days[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char* const months[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    long off = utc_offset_seconds;
    char sign = off < 0 ? '-' : '+';
    if (off < 0) off = -off;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s, %d %s %d %02d:%02d:%02d %c%02ld%02ld",
                  days[(tm.tm_wday % 7 + 7) % 7], tm.tm_mday, months[(tm.tm_mon % 12 + 12) % 12],
                  tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, sign,
                  off / 3600, (off / 60) % 60);
    return buf;
}

std::string rfc5322_date(std::time_t when) {
    std::tm tm{};
    if (!localtime_r(&when, &tm)) gmtime_r(&when, &tm);
    return format_rfc5322_date(tm, tm.tm_gmtoff);
}

}  // namespace submit
