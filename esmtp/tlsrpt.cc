// TLS-RPT session events in the spool: see tlsrpt.h.
#include "esmtp/tlsrpt.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <algorithm>
#include <cctype>
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/paths.h"
#include "lib/unique_fd.h"
#include "lib/xtext.h"

namespace tlsrpt {

namespace {
constexpr std::string_view kVersion = "tlsrpt1";
constexpr size_t kMaxInfo = 600;        // keeps a line well below PIPE_BUF (4096)
constexpr size_t kMaxListText = 1800;

std::string field(std::string_view raw) { return raw.empty() ? "-" : xtext_encode(raw); }

std::optional<std::string> unfield(std::string_view enc) {
    if (enc == "-") return std::string();
    return xtext_decode(enc);
}

std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) {
        if (!out.empty()) out += '\n';
        out += s;
    }
    return out.size() > kMaxListText ? out.substr(0, kMaxListText) : out;
}

std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out;
    size_t p = 0;
    while (p < s.size()) {
        size_t e = s.find('\n', p);
        if (e == std::string::npos) e = s.size();
        if (e > p) out.push_back(s.substr(p, e - p));
        p = e + 1;
    }
    return out;
}

std::vector<std::string_view> words(std::string_view line) {
    std::vector<std::string_view> out;
    size_t p = 0;
    while (p <= line.size()) {
        size_t e = line.find(' ', p);
        if (e == std::string_view::npos) e = line.size();
        out.push_back(line.substr(p, e - p));
        p = e + 1;
    }
    return out;
}

bool contains_ci(std::string_view hay, std::string_view needle) {
    auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char a, char b) {
        return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
    });
    return it != hay.end();
}

bool valid_domain_field(std::string_view d) {
    return !d.empty() && std::all_of(d.begin(), d.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' ||
               static_cast<unsigned char>(c) > 127;
    });
}
}  // namespace

std::string_view policy_type_name(PolicyType t) {
    switch (t) {
    case PolicyType::tlsa: return "tlsa";
    case PolicyType::sts: return "sts";
    case PolicyType::no_policy_found: break;
    }
    return "no-policy-found";
}

std::optional<PolicyType> parse_policy_type(std::string_view s) {
    if (s == "tlsa") return PolicyType::tlsa;
    if (s == "sts") return PolicyType::sts;
    if (s == "no-policy-found") return PolicyType::no_policy_found;
    return std::nullopt;
}

std::string format_event(const SessionEvent& e) {
    std::string info = e.additional_information.substr(0, kMaxInfo);
    std::string out(kVersion);
    out += " " + std::to_string(static_cast<long long>(e.time));
    out += " " + field(e.policy_domain);
    out += " " + std::string(policy_type_name(e.policy_type));
    out += e.success ? " success" : " failure";
    out += " " + field(e.success ? "" : e.result_type);
    out += " " + field(e.sending_mta_ip);
    out += " " + field(e.receiving_mx_hostname);
    out += " " + field(e.receiving_ip);
    out += " " + field(info);
    out += " " + field(join(e.policy_strings));
    out += " " + field(join(e.mx_host));
    return out + "\n";
}

std::optional<SessionEvent> parse_event(std::string_view line) {
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    auto w = words(line);
    if (w.size() != 12 || w[0] != kVersion) return std::nullopt;
    SessionEvent e;
    long long t = 0;
    for (char c : w[1]) {
        if (c < '0' || c > '9' || t > 1'000'000'000'000LL) return std::nullopt;
        t = t * 10 + (c - '0');
    }
    if (w[1].empty()) return std::nullopt;
    e.time = static_cast<std::time_t>(t);
    auto domain = unfield(w[2]);
    auto type = parse_policy_type(w[3]);
    if (!domain || !valid_domain_field(*domain) || !type) return std::nullopt;
    e.policy_domain = *domain;
    e.policy_type = *type;
    if (w[4] != "success" && w[4] != "failure") return std::nullopt;
    e.success = w[4] == "success";
    std::optional<std::string> f[7];
    for (int i = 0; i < 7; ++i) {
        f[i] = unfield(w[5 + i]);
        if (!f[i]) return std::nullopt;
    }
    e.result_type = *f[0];
    if (!e.success && e.result_type.empty()) return std::nullopt;
    e.sending_mta_ip = *f[1];
    e.receiving_mx_hostname = *f[2];
    e.receiving_ip = *f[3];
    e.additional_information = *f[4];
    e.policy_strings = split(*f[5]);
    e.mx_host = split(*f[6]);
    return e;
}

std::vector<SessionEvent> parse_day_file(std::string_view text) {
    std::vector<SessionEvent> out;
    size_t p = 0;
    while (p < text.size()) {
        size_t e = text.find('\n', p);
        if (e == std::string_view::npos) break;   // torn last line: a crash mid-append
        if (auto ev = parse_event(text.substr(p, e - p))) out.push_back(std::move(*ev));
        p = e + 1;
    }
    return out;
}

std::string utc_day(std::time_t t) {
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[16];
    std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
    return buf;
}

std::optional<std::time_t> parse_utc_day(std::string_view day) {
    if (day.size() != 10 || day[4] != '-' || day[7] != '-') return std::nullopt;
    for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9})
        if (day[i] < '0' || day[i] > '9') return std::nullopt;
    std::tm tm{};
    tm.tm_year = std::stoi(std::string(day.substr(0, 4))) - 1900;
    tm.tm_mon = std::stoi(std::string(day.substr(5, 2))) - 1;
    tm.tm_mday = std::stoi(std::string(day.substr(8, 2)));
    if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31) return std::nullopt;
    std::time_t t = timegm(&tm);
    if (utc_day(t) != day) return std::nullopt;   // 2026-02-30 and the like
    return t;
}

std::string classify_tls_failure(std::string_view error_text) {
    if (contains_ci(error_text, "expired")) return "certificate-expired";
    if (contains_ci(error_text, "hostname mismatch") || contains_ci(error_text, "does not name"))
        return "certificate-host-mismatch";
    for (std::string_view s : {"self signed", "self-signed", "local issuer", "not trusted", "untrusted",
                               "unable to get issuer", "verify failed", "unable to verify"})
        if (contains_ci(error_text, s)) return "certificate-not-trusted";
    // A refused STARTTLS command: a reply code, or the link dropped instead of a 220.
    bool reply = error_text.size() >= 3 && std::all_of(error_text.begin(), error_text.begin() + 3, ::isdigit);
    if (reply || contains_ci(error_text, "connection lost")) return "starttls-not-supported";
    return "validation-failure";
}

void record(const std::string& spool_dir, const SessionEvent& e) {
    std::string dir = spool_dir + "/tlsrpt";
    if (auto s = ensure_dir(dir, 0750); !s) {
        log_warning("tlsrpt: cannot record: " + s.error().text);
        return;
    }
    std::string path = dir + "/" + utc_day(e.time);
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640));
    if (!fd) {
        log_warning("tlsrpt: cannot record: " + sys_error("open " + path).text);
        return;
    }
    // One write per line under an exclusive lock: workers append concurrently.
    if (::flock(fd.get(), LOCK_EX) != 0) log_warning("tlsrpt: " + sys_error("flock " + path).text);
    if (auto s = write_all(fd.get(), format_event(e)); !s) log_warning("tlsrpt: cannot record: " + s.error().text);
}

std::optional<std::string> failure_type_of_reply(std::string_view reply, PolicyType* type) {
    auto after = [&](std::string_view marker) -> std::optional<std::string_view> {
        size_t p = reply.find(marker);
        if (p == std::string_view::npos) return std::nullopt;
        return reply.substr(p + marker.size());
    };
    if (after("DANE: ")) {
        *type = PolicyType::tlsa;
        // A chain that does not match the TLSA records, or an unusable/bogus TLSA lookup.
        return contains_ci(reply, "does not match") ? "validation-failure" : "tlsa-invalid";
    }
    if (auto rest = after("MTA-STS: ")) {
        *type = PolicyType::sts;
        if (contains_ci(*rest, "no TLS")) return "starttls-not-supported";
        if (contains_ci(*rest, "does not name")) return "certificate-host-mismatch";
        return "sts-webpki-invalid";
    }
    if (contains_ci(reply, "does not offer STARTTLS")) return "starttls-not-supported";
    bool handshake = contains_ci(reply, "STARTTLS with ") || contains_ci(reply, "TLS handshake");
    if (auto rest = after(" failed: "); rest && handshake)
        return classify_tls_failure(*rest);
    if (contains_ci(reply, "does not name")) return "certificate-host-mismatch";
    if (auto rest = after(" not trusted: ")) {
        std::string t = classify_tls_failure(*rest);
        return t == "validation-failure" ? "certificate-not-trusted" : t;
    }
    return std::nullopt;
}

void record_attempt(const std::string& domain, PolicyType type, const std::string& mx_host,
                    const std::string& mx_ip, const std::string& local_ip,
                    const std::optional<std::string>& error, bool tls_active, bool starttls_offered) {
    if (error) {
        if (auto rt = failure_type_of_reply(*error, &type))
            record_session(domain, type, mx_host, mx_ip, local_ip, *rt, *error);
        return;
    }
    if (tls_active) record_session(domain, type, mx_host, mx_ip, local_ip);
    else if (!starttls_offered)
        record_session(domain, type, mx_host, mx_ip, local_ip, "starttls-not-supported", "STARTTLS not offered");
}

void record_session(const std::string& domain, PolicyType type, const std::string& mx_host,
                    const std::string& mx_ip, const std::string& local_ip, const std::string& result_type,
                    const std::string& detail, const std::vector<std::string>& policy_strings,
                    const std::vector<std::string>& mx_patterns) {
    SessionEvent e;
    e.time = std::time(nullptr);
    e.policy_domain = domain;
    e.policy_type = type;
    e.policy_strings = policy_strings;
    e.mx_host = mx_patterns;
    e.success = result_type.empty();
    e.result_type = result_type;
    e.sending_mta_ip = local_ip;
    e.receiving_mx_hostname = mx_host;
    e.receiving_ip = mx_ip;
    e.additional_information = detail;
    record(paths().spool, e);
    log_info("tlsrpt domain=" + log_safe(domain) + " policy=" + std::string(policy_type_name(type)) + " mx=" +
             log_safe(mx_host) + " ip=" + log_safe(mx_ip) + " result=" +
             (e.success ? std::string("success") : log_safe(result_type)));
}

}  // namespace tlsrpt
