// MTA-STS policy discovery, fetch, cache and matching: see mta_sts.h.
#include "esmtp/mta_sts.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include "esmtp/outbound_smtp.h"
#include "lib/address.h"
#include "lib/dns.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/tls.h"

namespace mta_sts {

namespace {
constexpr size_t kMaxPolicy = 64 * 1024;      // RFC 8461 3.3 suggests 64 KiB
constexpr size_t kMaxHeaders = 16 * 1024;
constexpr long kMaxAge = 31557600;            // RFC 8461 3.2

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

std::string strip_dot(std::string_view s) {
    std::string out = lowercase_ascii(s);
    while (!out.empty() && out.back() == '.') out.pop_back();
    return out;
}

std::vector<std::string_view> split_lines(std::string_view text) {
    std::vector<std::string_view> out;
    while (!text.empty()) {
        size_t nl = text.find('\n');
        out.push_back(text.substr(0, nl));
        if (nl == std::string_view::npos) break;
        text.remove_prefix(nl + 1);
    }
    return out;
}

std::optional<long> parse_number(std::string_view v, long max) {
    if (v.empty() || v.size() > 10 || !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return std::nullopt;
    long n = std::stol(std::string(v));
    return n <= max ? std::optional<long>(n) : std::nullopt;
}
}  // namespace

const char* mode_name(Mode m) {
    switch (m) {
        case Mode::none: return "none";
        case Mode::testing: return "testing";
        case Mode::enforce: return "enforce";
    }
    return "?";
}

std::optional<std::string> policy_id(const std::vector<std::string>& txt_records) {
    std::optional<std::string> id;
    int found = 0;
    for (const auto& rec : txt_records) {
        std::string_view r = rec;
        if (r.substr(0, 7) != "v=STSv1" || (r.size() > 7 && r[7] != ';' && r[7] != ' ')) continue;
        ++found;
        id.reset();
        size_t pos = 0;
        while (pos < r.size()) {   // "key=value" fields separated by ';' (RFC 8461 3.1)
            size_t semi = r.find(';', pos);
            std::string_view field = trim(r.substr(pos, semi == std::string_view::npos ? r.npos : semi - pos));
            if (field.substr(0, 3) == "id=") {
                std::string_view v = field.substr(3);
                bool ok = !v.empty() && v.size() <= 32 &&
                          std::all_of(v.begin(), v.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)); });
                if (ok) id = std::string(v);
            }
            if (semi == std::string_view::npos) break;
            pos = semi + 1;
        }
    }
    if (found != 1) return std::nullopt;
    return id;
}

Result<Policy> parse_policy(std::string_view text) {
    Policy p;
    bool version = false, mode = false, max_age = false;
    int n = 0;
    for (std::string_view line : split_lines(text)) {
        ++n;
        line = trim(line);
        if (line.empty()) continue;
        size_t colon = line.find(':');
        if (colon == std::string_view::npos) return Error{0, "line " + std::to_string(n) + ": missing ':'"};
        std::string key = lowercase_ascii(trim(line.substr(0, colon)));
        std::string_view value = trim(line.substr(colon + 1));
        auto bad = [&](const char* what) { return Error{0, "line " + std::to_string(n) + ": " + what}; };
        if (key == "version") {
            if (value != "STSv1") return bad("version is not STSv1");
            version = true;
        } else if (key == "mode") {
            if (value == "enforce") p.mode = Mode::enforce;
            else if (value == "testing") p.mode = Mode::testing;
            else if (value == "none") p.mode = Mode::none;
            else return bad("unknown mode");
            mode = true;
        } else if (key == "max_age") {
            auto v = parse_number(value, kMaxAge);
            if (!v) return bad("bad max_age");
            p.max_age = *v;
            max_age = true;
        } else if (key == "mx") {
            std::string pat = strip_dot(value);
            std::string_view name = std::string_view(pat).substr(pat.rfind("*.", 0) == 0 ? 2 : 0);
            if (name.empty() || !is_valid_domain(name)) return bad("bad mx pattern");
            p.mx.push_back(pat);
        }   // other keys: ignored (RFC 8461 3.2, extensibility)
    }
    if (!version) return Error{0, "no version field"};
    if (!mode) return Error{0, "no mode field"};
    if (!max_age) return Error{0, "no max_age field"};
    if (p.mode != Mode::none && p.mx.empty()) return Error{0, "no mx field"};
    return p;
}

bool mx_pattern_matches(std::string_view pattern, std::string_view host) {
    std::string pat = strip_dot(pattern), h = strip_dot(host);
    if (pat.rfind("*.", 0) != 0) return !h.empty() && pat == h;
    std::string_view suffix = std::string_view(pat).substr(1);   // ".example.com"
    if (h.size() <= suffix.size() || h.compare(h.size() - suffix.size(), suffix.size(), suffix) != 0) return false;
    std::string_view label = std::string_view(h).substr(0, h.size() - suffix.size());
    return label.find('.') == std::string_view::npos;   // exactly one label
}

bool mx_allowed(const Policy& p, std::string_view host) {
    return std::any_of(p.mx.begin(), p.mx.end(), [&](const std::string& pat) { return mx_pattern_matches(pat, host); });
}

namespace {
// "Transfer-Encoding: chunked" (RFC 9112 7.1); extensions and trailers ignored.
Result<std::string> dechunk(std::string_view in, size_t max_body) {
    std::string out;
    for (;;) {
        size_t eol = in.find("\r\n");
        if (eol == std::string_view::npos) return Error{0, "truncated chunked body"};
        std::string size_text(in.substr(0, std::min(eol, in.find(';'))));
        char* end = nullptr;
        errno = 0;
        unsigned long size = std::strtoul(size_text.c_str(), &end, 16);
        if (size_text.empty() || errno != 0 || (end && *end && *end != ' ')) return Error{0, "bad chunk size"};
        in.remove_prefix(eol + 2);
        if (size == 0) return out;
        if (out.size() + size > max_body) return Error{0, "policy larger than " + std::to_string(max_body) + " bytes"};
        if (in.size() < size + 2 || in.substr(size, 2) != "\r\n") return Error{0, "truncated chunk"};
        out.append(in.substr(0, size));
        in.remove_prefix(size + 2);
    }
}
}  // namespace

Result<HttpResponse> parse_http_response(std::string_view raw, size_t max_body) {
    size_t head_end = raw.find("\r\n\r\n");
    if (head_end == std::string_view::npos || head_end > kMaxHeaders) return Error{0, "malformed HTTP response"};
    auto lines = split_lines(raw.substr(0, head_end));
    std::string_view status = trim(lines[0]);
    if (status.substr(0, 5) != "HTTP/" || status.size() < 12 || status[8] != ' ') return Error{0, "malformed HTTP status line"};
    HttpResponse r;
    auto code = parse_number(status.substr(9, 3), 999);
    if (!code) return Error{0, "malformed HTTP status line"};
    r.status = static_cast<int>(*code);
    bool chunked = false;
    std::optional<long> length;
    for (size_t i = 1; i < lines.size(); ++i) {
        size_t colon = lines[i].find(':');
        if (colon == std::string_view::npos) continue;
        std::string name = lowercase_ascii(trim(lines[i].substr(0, colon)));
        std::string value = lowercase_ascii(trim(lines[i].substr(colon + 1)));
        if (name == "content-type") r.content_type = std::string(trim(std::string_view(value).substr(0, value.find(';'))));
        else if (name == "transfer-encoding") chunked = value.find("chunked") != std::string::npos;
        else if (name == "content-length") length = parse_number(value, 1L << 30);
    }
    std::string_view body = raw.substr(head_end + 4);
    r.framed = chunked || length.has_value();
    if (chunked) {
        auto b = dechunk(body, max_body);
        if (!b) return b.error();
        r.body = std::move(*b);
        return r;
    }
    if (length) {
        if (static_cast<size_t>(*length) > body.size()) return Error{0, "truncated HTTP body"};
        body = body.substr(0, static_cast<size_t>(*length));
    }
    if (body.size() > max_body) return Error{0, "policy larger than " + std::to_string(max_body) + " bytes"};
    r.body = std::string(body);
    return r;
}

std::string format_cache(const Policy& p, std::string_view policy_text) {
    return "courier-mta-sts 1\nfetched " + std::to_string(p.fetched) + "\nid " + p.id + "\n\n" + std::string(policy_text);
}

Result<Policy> parse_cache(std::string_view file) {
    size_t sep = file.find("\n\n");
    if (file.substr(0, 18) != "courier-mta-sts 1\n" || sep == std::string_view::npos) return Error{0, "not a policy cache file"};
    std::string fetched, id;
    for (auto line : split_lines(file.substr(18, sep - 18))) {
        if (line.substr(0, 8) == "fetched ") fetched = std::string(line.substr(8));
        else if (line.substr(0, 3) == "id ") id = std::string(line.substr(3));
    }
    auto t = parse_number(fetched, 1L << 40);
    if (!t) return Error{0, "bad fetched time"};
    auto p = parse_policy(file.substr(sep + 2));
    if (!p) return p.error();
    p->fetched = static_cast<std::time_t>(*t);
    p->id = id;
    return p;
}

FetchSettings fetch_settings(const ConfigDir& cfg, const std::string& spool, const std::string& trustcerts) {
    FetchSettings fs;
    fs.cache_dir = spool + "/mta-sts";
    if (!trustcerts.empty()) {
        if (path_exists(trustcerts + "/.")) fs.ca_dir = trustcerts;
        else fs.ca_file = trustcerts;
    }
    if (auto line = cfg.first_line("mtastsport")) {
        if (auto n = parse_number(trim(*line), 65535); n && *n > 0) fs.port = static_cast<unsigned>(*n);
        else log_warning(cfg.path("mtastsport") + ":1: not a port number, using 443");
    }
    return fs;
}

namespace {
using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return left > 0 ? static_cast<int>(left) : 0;
}

// One GET over TLS to one address of the policy host (RFC 8461 3.3).
Result<std::string> fetch_from(const std::string& host, const std::string& address, const FetchSettings& fs,
                               const TlsContext& ctx, Clock::time_point deadline) {
    auto fd = outbound::connect_tcp(address, fs.port, "", std::max(1, remaining_ms(deadline) / 1000));
    if (!fd) return fd.error();
    auto tls = TlsConnection::connect(ctx, fd->get(), host, remaining_ms(deadline));
    if (!tls) return tls.error();
    TlsInfo info = tls->info();
    if (!info.peer_verified) return Error{0, "certificate not trusted: " + info.verify_error};
    if (!tls->peer_name_matches(host)) return Error{0, "certificate does not name " + host};
    std::string req = "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: " + host +
                      "\r\nUser-Agent: courier-mta-sts\r\nAccept: text/plain\r\nConnection: close\r\n\r\n";
    if (!tls->write_all(req, remaining_ms(deadline))) return Error{0, "write failed: " + tls->last_error()};
    std::string raw;
    char buf[8192];
    for (;;) {
        long n = tls->read(buf, sizeof buf, remaining_ms(deadline));
        if (n == 0) break;
        if (n < 0) return Error{0, tls->timed_out() ? "timed out" : "read failed: " + tls->last_error()};
        raw.append(buf, static_cast<size_t>(n));
        if (raw.size() > kMaxPolicy + kMaxHeaders) return Error{0, "response larger than allowed"};
        // Many servers close without close_notify: a response complete by its own
        // framing needs no clean end of the TLS stream.
        if (auto r = parse_http_response(raw, kMaxPolicy); r && r->framed) break;
    }
    tls->shutdown(100);
    auto resp = parse_http_response(raw, kMaxPolicy);
    if (!resp) return resp.error();
    // No redirects (RFC 8461 3.3): anything but 200 is a failed fetch.
    if (resp->status != 200) return Error{0, "HTTP status " + std::to_string(resp->status)};
    if (resp->content_type != "text/plain") return Error{0, "Content-Type is not text/plain"};
    return std::move(resp->body);
}

// The policy text from https://mta-sts.<domain>/.well-known/mta-sts.txt.
Result<std::string> fetch_policy(const std::string& domain, const FetchSettings& fs) {
    std::string host = "mta-sts." + domain;
    TlsClientOptions o;
    o.ca_file = fs.ca_file;
    o.ca_dir = fs.ca_dir;
    auto ctx = TlsContext::client(o);
    if (!ctx) return ctx.error();
    std::vector<std::string> addresses;
    for (const auto& ans : {dns::resolver().aaaa(host), dns::resolver().a(host)})
        addresses.insert(addresses.end(), ans.records.begin(), ans.records.end());
    if (addresses.empty()) return Error{0, "no address for " + host};
    auto deadline = Clock::now() + std::chrono::seconds(fs.timeout);
    std::string last;
    for (const auto& a : addresses) {
        auto body = fetch_from(host, a, fs, *ctx, deadline);
        if (body) return body;
        last = a + ": " + body.error().text;
        if (remaining_ms(deadline) == 0) break;
    }
    return Error{0, last};
}

std::optional<Policy> read_cache(const std::string& path) {
    auto file = read_file(path, kMaxPolicy + 1024);
    if (!file) return std::nullopt;
    auto p = parse_cache(*file);
    if (!p) {
        log_warning("mta-sts cache " + path + ": " + p.error().text);
        return std::nullopt;
    }
    return *p;
}
}  // namespace

std::optional<Policy> current_policy(const std::string& domain, const FetchSettings& fs) {
    // Only DNS names have policies; this also keeps the cache path inside cache_dir.
    if (domain.empty() || domain.front() == '[' || !is_valid_domain(domain)) return std::nullopt;
    std::string cache_path = fs.cache_dir + "/" + domain;
    std::time_t now = std::time(nullptr);
    std::optional<Policy> cached = read_cache(cache_path);
    if (cached && cached->expired(now)) cached.reset();
    auto txt = dns::resolver().txt("_mta-sts." + domain);
    std::optional<std::string> id = txt.ok() ? policy_id(txt.records) : std::nullopt;
    if (!id) {
        // RFC 8461 5.1: without a record, a cached unexpired policy still applies.
        if (cached) log_info("mta-sts domain=" + domain + " no TXT record, cached policy id=" + cached->id + " in force");
        return cached;
    }
    if (cached && cached->id == *id) return cached;
    auto text = fetch_policy(domain, fs);
    auto policy = text ? parse_policy(*text) : Result<Policy>(text.error());
    if (!policy) {
        log_warning("mta-sts domain=" + domain + " id=" + *id + " policy fetch failed: " + log_safe(policy.error().text) +
                    (cached ? "; cached policy id=" + cached->id + " stays in force" : "; no policy applies"));
        return cached;
    }
    policy->id = *id;
    policy->fetched = now;
    if (Status s = ensure_dir(fs.cache_dir, 0750); !s) {
        log_warning("mta-sts cache: " + s.error().text);
    } else if (Status w = write_file_durably(fs.cache_dir, domain, format_cache(*policy, *text), 0640); !w) {
        log_warning("mta-sts cache " + cache_path + ": " + w.error().text);
    }
    log_info("mta-sts domain=" + domain + " id=" + *id + " fetched mode=" + mode_name(policy->mode) +
             " max_age=" + std::to_string(policy->max_age) + " mx=" + std::to_string(policy->mx.size()));
    return *policy;
}

}  // namespace mta_sts
