// SPF with libspf2 over lib/dns.h: see lib/spf.h. libspf2 is C; nothing may throw
// through it, so every callback catches and answers "temporary failure".
#include "lib/spf.h"

#include <arpa/inet.h>
#include <idn2.h>
#include <netdb.h>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <strings.h>
#include <memory>
#include <mutex>
#include <vector>

extern "C" {
#include <spf2/spf.h>
#include <spf2/spf_dns.h>
#include <spf2/spf_dns_rr.h>
}

#include "lib/log.h"

namespace spf {

namespace {

// The text libspf2 expands for a fail without its own exp= (RFC 7208 6.2). libspf2's
// default points at a web site that no longer exists. Spaces are written "%_" because
// libspf2 1.2 stops expanding macros after a literal space.
constexpr const char* kDefaultExplanation =
    "%{o}%_does%_not%_designate%_%{i}%_as%_a%_permitted%_sender";
constexpr size_t kMaxText = 300;   // longer DNS-supplied texts are cut

// Printable ASCII only: the texts end up in SMTP replies, headers and logs.
std::string printable(std::string_view s) {
    std::string out;
    for (char c : s.substr(0, kMaxText)) {
        auto u = static_cast<unsigned char>(c);
        out.push_back(u >= 0x20 && u < 0x7f ? c : '?');
    }
    return out;
}

std::string strip_dot(std::string s) {
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
}

// libspf2 reports through global handlers; its default error handler prints to stderr
// and aborts. Warnings go to our log; an "error" there is an internal failure (out of
// memory, a broken invariant), which stays fatal, but is logged first.
[[noreturn]] void on_spf_error(const char* file, int line, const char* msg) {
    log_error("spf: libspf2 " + log_safe(file ? file : "?") + ":" + std::to_string(line) + ": " +
              log_safe(msg ? msg : ""));
    std::abort();
}
void on_spf_warning(const char*, int, const char* msg) {
    log_warning("spf: libspf2: " + log_safe(msg ? msg : ""));
}
void on_spf_quiet(const char*, int, const char*) {}

void install_handlers() {
    static std::once_flag once;
    std::call_once(once, [] {
        SPF_error_handler = on_spf_error;
        SPF_warning_handler = on_spf_warning;
        SPF_info_handler = on_spf_quiet;
        SPF_debug_handler = on_spf_quiet;
    });
}

// The only TXT records SPF reads that are not "v=spf1" records are explanations
// (exp=, RFC 7208 6.2), which are macro strings. libspf2 1.2 stops expanding macros
// after a literal space, so spaces become the equivalent "%_" macro here.
std::string explanation_safe(const std::string& txt) {
    if (txt.size() >= 6 && strncasecmp(txt.c_str(), "v=spf1", 6) == 0) return txt;
    std::string out;
    for (char c : txt) {
        if (c == ' ') out += "%_";
        else out.push_back(c);
    }
    return out;
}

SPF_dns_stat_t herrno_of(dns::Outcome o) {
    switch (o) {
    case dns::Outcome::ok: return NETDB_SUCCESS;
    case dns::Outcome::nxdomain: return HOST_NOT_FOUND;
    case dns::Outcome::nodata: return NO_DATA;
    case dns::Outcome::tempfail: break;
    }
    return TRY_AGAIN;
}

// Appends one string record (TXT, PTR, MX host) to an answer.
bool add_text(SPF_dns_rr_t* rr, const std::string& text) {
    int i = rr->num_rr;
    if (SPF_dns_rr_buf_realloc(rr, i, text.size() + 1) != SPF_E_SUCCESS) return false;
    std::memcpy(rr->rr[i]->txt, text.c_str(), text.size() + 1);
    rr->num_rr = i + 1;
    return true;
}

bool add_address(SPF_dns_rr_t* rr, const std::string& ip, bool v6) {
    int i = rr->num_rr;
    size_t size = v6 ? sizeof(in6_addr) : sizeof(in_addr);
    if (SPF_dns_rr_buf_realloc(rr, i, size) != SPF_E_SUCCESS) return false;
    void* dst = v6 ? static_cast<void*>(&rr->rr[i]->aaaa) : static_cast<void*>(&rr->rr[i]->a);
    if (inet_pton(v6 ? AF_INET6 : AF_INET, ip.c_str(), dst) != 1) return false;   // skipped
    rr->num_rr = i + 1;
    return true;
}

// An answer in libspf2's form. A name with records none of which could be stored
// counts as "no data", the way a resolver would have dropped them.
SPF_dns_rr_t* make_answer(SPF_dns_server_t* server, const char* domain, ns_type type,
                          SPF_dns_stat_t herrno, const std::vector<std::string>& items,
                          bool addresses, bool v6) {
    SPF_dns_rr_t* rr = SPF_dns_rr_new_init(server, domain, type, 0, herrno);
    if (!rr || herrno != NETDB_SUCCESS) return rr;
    for (const auto& item : items) {
        if (addresses) add_address(rr, item, v6);
        else add_text(rr, item);
    }
    if (rr->num_rr == 0) rr->herrno = NO_DATA;
    return rr;
}

template <typename T>
SPF_dns_rr_t* from_answer(SPF_dns_server_t* server, const char* domain, ns_type type,
                          const dns::Answer<T>& ans, std::vector<std::string> items,
                          bool addresses = false, bool v6 = false) {
    return make_answer(server, domain, type, herrno_of(ans.outcome), items, addresses, v6);
}

// A name with UTF-8 labels (an SMTPUTF8 sender) is asked in its A-label form.
std::string query_name(const char* domain) {
    std::string name = strip_dot(domain ? domain : "");
    bool ascii = true;
    for (char c : name) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
    if (ascii) return name;
    char* out = nullptr;
    if (idn2_to_ascii_8z(name.c_str(), &out, IDN2_NONTRANSITIONAL) != IDN2_OK) return name;
    std::string a(out);
    idn2_free(out);
    return a;
}

SPF_dns_rr_t* lookup_rr(SPF_dns_server_t* server, const char* domain, ns_type type) {
    const Lookups& dns = *static_cast<const Lookups*>(server->hook);
    std::string name = query_name(domain);
    switch (type) {
    case ns_t_a: {
        auto ans = dns.a(name);
        return from_answer(server, domain, type, ans, ans.records, true, false);
    }
    case ns_t_aaaa: {
        auto ans = dns.aaaa(name);
        return from_answer(server, domain, type, ans, ans.records, true, true);
    }
    case ns_t_txt: {
        auto ans = dns.txt(name);
        std::vector<std::string> texts;
        for (const auto& t : ans.records) texts.push_back(explanation_safe(t));
        return from_answer(server, domain, type, ans, texts);
    }
    case ns_t_mx: {
        auto ans = dns.mx(name);
        std::vector<std::string> hosts;
        for (const auto& m : ans.records)
            if (!m.host.empty()) hosts.push_back(m.host);   // the null MX names no host
        return from_answer(server, domain, type, ans, hosts);
    }
    case ns_t_ptr: {
        auto ip = ip_from_reverse_name(name);
        if (!ip) return SPF_dns_rr_new_init(server, domain, type, 0, HOST_NOT_FOUND);
        auto ans = dns.ptr(*ip);
        std::vector<std::string> names;
        for (const auto& n : ans.records) names.push_back(strip_dot(n));
        return from_answer(server, domain, type, ans, names);
    }
    default:
        // The SPF RR type (99) is obsolete (RFC 7208 3.1): libspf2 asks for it first
        // and falls back to TXT on "no data".
        return SPF_dns_rr_new_init(server, domain, type, 0, NO_DATA);
    }
}

extern "C" SPF_dns_rr_t* layer_lookup(SPF_dns_server_t* server, const char* domain, ns_type type,
                                      int /*should_cache*/) {
    try {
        return lookup_rr(server, domain, type);
    } catch (...) {
        return SPF_dns_rr_new_init(server, domain, type, 0, TRY_AGAIN);
    }
}

extern "C" void layer_destroy(SPF_dns_server_t* server) { std::free(server); }

// A DNS layer of our own (spf_dns.h): no cache and no layer below; `hook` points at
// the caller's Lookups, which outlive the SPF server that owns this layer.
SPF_dns_server_t* new_layer(const Lookups* dns) {
    auto* s = static_cast<SPF_dns_server_t*>(std::calloc(1, sizeof(SPF_dns_server_t)));
    if (!s) return nullptr;
    s->destroy = layer_destroy;
    s->lookup = layer_lookup;
    s->name = "courier-dns";
    s->hook = const_cast<Lookups*>(dns);
    return s;
}

struct LayerFree { void operator()(SPF_dns_server_t* p) const { layer_destroy(p); } };
struct ServerFree { void operator()(SPF_server_t* p) const { SPF_server_free(p); } };
struct RequestFree { void operator()(SPF_request_t* p) const { SPF_request_free(p); } };
struct ResponseFree { void operator()(SPF_response_t* p) const { SPF_response_free(p); } };
using LayerPtr = std::unique_ptr<SPF_dns_server_t, LayerFree>;
using ServerPtr = std::unique_ptr<SPF_server_t, ServerFree>;
using RequestPtr = std::unique_ptr<SPF_request_t, RequestFree>;
using ResponsePtr = std::unique_ptr<SPF_response_t, ResponseFree>;

// The last error libspf2 recorded, for the comment of temperror/permerror.
std::string last_error(SPF_response_t* resp) {
    std::string text;
    for (int i = 0; resp && i < SPF_response_messages(resp); ++i) {
        SPF_error_t* e = SPF_response_message(resp, i);
        if (e && SPF_error_errorp(e) && SPF_error_message(e)) text = SPF_error_message(e);
    }
    return printable(text);
}

// A record that could not be compiled leaves the result unset, like a missing one;
// the compiler's own error codes tell them apart (RFC 7208 4.6: syntax is permerror).
bool compile_failed(SPF_response_t* resp) {
    for (int i = 0; resp && i < SPF_response_messages(resp); ++i) {
        SPF_error_t* e = SPF_response_message(resp, i);
        if (!e || !SPF_error_errorp(e)) continue;
        auto code = SPF_error_code(e);
        if (code != SPF_E_NOT_SPF && code != SPF_E_DNS_ERROR) return true;
    }
    return false;
}

Result map_result(SPF_errcode_t err, SPF_response_t* resp) {
    switch (resp ? SPF_response_result(resp) : SPF_RESULT_INVALID) {
    case SPF_RESULT_NEUTRAL: return Result::neutral;
    case SPF_RESULT_PASS: return Result::pass;
    case SPF_RESULT_FAIL: return Result::fail;
    case SPF_RESULT_SOFTFAIL: return Result::softfail;
    case SPF_RESULT_NONE: return Result::none;
    case SPF_RESULT_TEMPERROR: return Result::temperror;
    case SPF_RESULT_PERMERROR: return Result::permerror;
    case SPF_RESULT_INVALID: break;
    }
    if (err == SPF_E_DNS_ERROR) return Result::temperror;
    if (compile_failed(resp)) return Result::permerror;
    if (err == SPF_E_NOT_SPF) return Result::none;   // no "v=spf1" record
    return Result::temperror;
}

std::string make_comment(Result r, const std::string& receiver, const std::string& id,
                         const std::string& ip, const std::string& detail) {
    std::string who = "domain of " + id;
    std::string text;
    switch (r) {
    case Result::pass: text = who + " designates " + ip + " as permitted sender"; break;
    case Result::fail: text = who + " does not designate " + ip + " as permitted sender"; break;
    case Result::softfail:
        text = "domain of transitioning " + id + " does not designate " + ip + " as permitted sender";
        break;
    case Result::neutral: text = ip + " is neither permitted nor denied by " + who; break;
    case Result::none: text = who + " does not designate permitted sender hosts"; break;
    case Result::temperror:
        text = "error in processing during lookup of " + id + (detail.empty() ? "" : ": " + detail);
        break;
    case Result::permerror:
        text = "permanent error in processing during lookup of " + id +
               (detail.empty() ? "" : ": " + detail);
        break;
    }
    return receiver.empty() ? text : receiver + ": " + text;
}

std::string domain_of(const std::string& mailbox) {
    auto at = mailbox.rfind('@');
    return at == std::string::npos ? std::string() : mailbox.substr(at + 1);
}

}  // namespace

std::string_view keyword(Result r) {
    switch (r) {
    case Result::none: return "none";
    case Result::neutral: return "neutral";
    case Result::pass: return "pass";
    case Result::fail: return "fail";
    case Result::softfail: return "softfail";
    case Result::temperror: return "error";
    case Result::permerror: return "unknown";
    }
    return "unknown";
}

std::string_view rfc_name(Result r) {
    if (r == Result::temperror) return "temperror";
    if (r == Result::permerror) return "permerror";
    return keyword(r);
}

std::optional<Result> result_from_keyword(std::string_view w) {
    static const Result all[] = {Result::none, Result::neutral, Result::pass, Result::fail,
                                 Result::softfail, Result::temperror, Result::permerror};
    for (Result r : all)
        if (w == keyword(r) || w == rfc_name(r)) return r;
    return std::nullopt;
}

Lookups resolver_lookups() {
    Lookups l;
    l.a = [](const std::string& n) { return dns::resolver().a(n); };
    l.aaaa = [](const std::string& n) { return dns::resolver().aaaa(n); };
    l.txt = [](const std::string& n) { return dns::resolver().txt(n); };
    l.mx = [](const std::string& n) { return dns::resolver().mx(n); };
    l.ptr = [](const std::string& ip) { return dns::resolver().ptr(ip); };
    return l;
}

std::optional<std::string> ip_from_reverse_name(std::string_view name) {
    auto lower = [](std::string_view s) {
        std::string o(s);
        for (char& c : o) c = (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c;
        return o;
    };
    std::string n = lower(name);
    if (!n.empty() && n.back() == '.') n.pop_back();
    std::vector<std::string> labels;
    for (size_t i = 0; i <= n.size();) {
        size_t dot = n.find('.', i);
        if (dot == std::string::npos) dot = n.size();
        labels.push_back(n.substr(i, dot - i));
        i = dot + 1;
    }
    unsigned char buf[16];
    char text[INET6_ADDRSTRLEN];
    if (labels.size() == 6 && labels[4] == "in-addr" && labels[5] == "arpa") {
        std::string ip = labels[3] + "." + labels[2] + "." + labels[1] + "." + labels[0];
        if (inet_pton(AF_INET, ip.c_str(), buf) != 1) return std::nullopt;
        return std::string(inet_ntop(AF_INET, buf, text, sizeof text));
    }
    if (labels.size() == 34 && labels[32] == "ip6" && labels[33] == "arpa") {
        for (int i = 0; i < 32; ++i) {
            const std::string& l = labels[31 - i];
            if (l.size() != 1 || !std::isxdigit(static_cast<unsigned char>(l[0]))) return std::nullopt;
            int v = std::isdigit(static_cast<unsigned char>(l[0])) ? l[0] - '0' : l[0] - 'a' + 10;
            if (i % 2 == 0) buf[i / 2] = static_cast<unsigned char>(v << 4);
            else buf[i / 2] |= static_cast<unsigned char>(v);
        }
        return std::string(inet_ntop(AF_INET6, buf, text, sizeof text));
    }
    return std::nullopt;
}

Verdict evaluate(const Request& req, const Lookups& dns) {
    install_handlers();
    Verdict v;
    std::string ip = req.client_ip;
    // IPv4-mapped IPv6: the client is an IPv4 host, its policy says ip4: (RFC 7208 5.6).
    if (ip.size() > 7 && (ip.compare(0, 7, "::ffff:") == 0 || ip.compare(0, 7, "::FFFF:") == 0) &&
        ip.find('.') != std::string::npos)
        ip = ip.substr(7);
    std::string helo = strip_dot(req.helo);
    v.identity = printable(req.identity.empty() ? "postmaster@" + helo : req.identity);
    std::string shown_ip = printable(ip), receiver = printable(req.receiver);
    auto finish = [&](Result r, const std::string& detail) {
        v.result = r;
        v.comment = make_comment(r, receiver, v.identity, shown_ip, detail);
        if (v.explanation.empty()) v.explanation = make_comment(r, "", v.identity, shown_ip, detail);
        return v;
    };
    // RFC 7208 4.3: no domain to check is "none".
    if (domain_of(v.identity).empty()) return finish(Result::none, "");

    // SPF_server_new_dns leaves the layer to its caller (destroy_resolver = 0), so it
    // is ours to free, after the server that uses it: declared first, destroyed last.
    LayerPtr layer(new_layer(&dns));
    if (!layer) return finish(Result::temperror, "out of memory");
    ServerPtr server(SPF_server_new_dns(layer.get(), 0));
    if (!server) return finish(Result::temperror, "out of memory");
    SPF_server_set_rec_dom(server.get(), receiver.empty() ? "localhost" : receiver.c_str());
    SPF_server_set_sanitize(server.get(), 1);
    SPF_response_t* exp_errors = nullptr;
    SPF_server_set_explanation(server.get(), kDefaultExplanation, &exp_errors);
    ResponsePtr(exp_errors).reset();

    RequestPtr request(SPF_request_new(server.get()));
    if (!request) return finish(Result::temperror, "out of memory");
    bool v6 = ip.find(':') != std::string::npos;
    SPF_errcode_t err = v6 ? SPF_request_set_ipv6_str(request.get(), ip.c_str())
                           : SPF_request_set_ipv4_str(request.get(), ip.c_str());
    if (err != SPF_E_SUCCESS) return finish(Result::permerror, "bad client address");
    if (!helo.empty()) SPF_request_set_helo_dom(request.get(), helo.c_str());
    SPF_request_set_env_from(request.get(), req.identity.c_str());

    SPF_response_t* raw = nullptr;
    err = SPF_request_query_mailfrom(request.get(), &raw);
    ResponsePtr response(raw);
    Result r = map_result(err, response.get());
    if (r == Result::fail) {
        const char* e = SPF_response_get_explanation(response.get());
        if (e && *e) v.explanation = printable(e);
    }
    std::string detail;
    if (r == Result::temperror || r == Result::permerror) detail = last_error(response.get());
    return finish(r, detail);
}

}  // namespace spf
