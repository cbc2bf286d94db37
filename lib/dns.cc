// The resolver over libunbound: see lib/dns.h.
#include "lib/dns.h"

#include <arpa/inet.h>
#include <unbound.h>
#include <cstdlib>
#include <cstring>
#include "config/config.h"
#include "lib/paths.h"

namespace dns {

namespace {
constexpr int kClassIn = 1;
constexpr int kTypeA = 1, kTypePtr = 12, kTypeMx = 15, kTypeTxt = 16, kTypeAaaa = 28, kTypeTlsa = 52;

std::vector<std::string> split_servers(std::string_view text) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == ',')) ++i;
        size_t j = i;
        while (j < text.size() && text[j] != ' ' && text[j] != '\t' && text[j] != ',') ++j;
        if (j > i) out.emplace_back(text.substr(i, j - i));
        i = j;
    }
    return out;
}

std::string strip_dot(std::string name) {
    if (!name.empty() && name.back() == '.') name.pop_back();
    return name;
}
}  // namespace

ResolverOptions options_from_config(const std::string& config_dir) {
    ResolverOptions o;
    ConfigDir cfg(config_dir);
    if (auto s = cfg.first_line("dnsserver"); s && !s->empty()) {
        o.servers = split_servers(*s);
    } else if (const char* e = secure_getenv("COURIER_DNS_SERVER"); e && *e) {
        o.servers = split_servers(e);
    }
    if (auto t = cfg.first_line("dnssectrustanchor"); t && !t->empty()) o.trust_anchor_file = *t;
    return o;
}

std::optional<std::string> decode_name(std::string_view wire, size_t* pos) {
    std::string name;
    size_t p = *pos;
    for (int labels = 0; labels < 128; ++labels) {
        if (p >= wire.size()) return std::nullopt;
        auto len = static_cast<unsigned char>(wire[p++]);
        if (len == 0) {
            *pos = p;
            return name;
        }
        if (len > 63 || p + len > wire.size()) return std::nullopt;   // no compression in rdata
        if (!name.empty()) name += '.';
        name.append(wire.substr(p, len));
        p += len;
    }
    return std::nullopt;
}

std::optional<MxRecord> decode_mx(std::string_view rdata) {
    if (rdata.size() < 3) return std::nullopt;
    MxRecord r;
    r.preference = (static_cast<unsigned char>(rdata[0]) << 8) | static_cast<unsigned char>(rdata[1]);
    size_t pos = 2;
    auto name = decode_name(rdata, &pos);
    if (!name || pos != rdata.size()) return std::nullopt;
    r.host = *name;
    return r;
}

std::optional<std::string> decode_txt(std::string_view rdata) {
    std::string out;
    size_t p = 0;
    while (p < rdata.size()) {
        auto len = static_cast<unsigned char>(rdata[p++]);
        if (p + len > rdata.size()) return std::nullopt;
        out.append(rdata.substr(p, len));
        p += len;
    }
    return out;
}

std::optional<std::string> reverse_labels(std::string_view ip) {
    std::string s(ip);
    unsigned char buf[16];
    if (inet_pton(AF_INET, s.c_str(), buf) == 1) {
        return std::to_string(buf[3]) + "." + std::to_string(buf[2]) + "." +
               std::to_string(buf[1]) + "." + std::to_string(buf[0]);
    }
    if (inet_pton(AF_INET6, s.c_str(), buf) == 1) {
        static const char hex[] = "0123456789abcdef";
        std::string out;
        for (int i = 15; i >= 0; --i) {
            if (!out.empty()) out += '.';
            out += hex[buf[i] & 15];
            out += '.';
            out += hex[buf[i] >> 4];
        }
        return out;
    }
    return std::nullopt;
}

struct Resolver::Impl {
    ub_ctx* ctx = nullptr;
    std::string setup_error;

    // One query; fills outcome/secure/error and returns the raw rdata list.
    template <typename T>
    std::vector<std::string> query(std::string_view name, int type, Answer<T>* ans) {
        std::vector<std::string> rdata;
        if (!ctx) {
            ans->outcome = Outcome::tempfail;
            ans->error = setup_error;
            return rdata;
        }
        ub_result* res = nullptr;
        std::string qname(name);
        int err = ub_resolve(ctx, qname.c_str(), type, kClassIn, &res);
        if (err != 0) {
            ans->outcome = Outcome::tempfail;
            ans->error = std::string("DNS lookup failed: ") + ub_strerror(err);
            if (res) ub_resolve_free(res);
            return rdata;
        }
        std::unique_ptr<ub_result, void (*)(ub_result*)> guard(res, ub_resolve_free);
        ans->secure = res->secure != 0;
        if (res->bogus) {
            ans->outcome = Outcome::tempfail;
            ans->error = std::string("DNSSEC validation failed: ") + (res->why_bogus ? res->why_bogus : "bogus");
        } else if (res->rcode == 3 || res->nxdomain) {
            ans->outcome = Outcome::nxdomain;
        } else if (res->rcode != 0) {
            ans->outcome = Outcome::tempfail;
            ans->error = "DNS server answered rcode " + std::to_string(res->rcode);
        } else if (!res->havedata) {
            ans->outcome = Outcome::nodata;
        } else {
            ans->outcome = Outcome::ok;
            for (int i = 0; res->data[i]; ++i) rdata.emplace_back(res->data[i], static_cast<size_t>(res->len[i]));
        }
        return rdata;
    }
};

Resolver::Resolver(ResolverOptions opts) : impl_(std::make_unique<Impl>()) {
    ub_ctx* ctx = ub_ctx_create();
    if (!ctx) {
        impl_->setup_error = "cannot create the resolver context";
        return;
    }
    auto fail = [&](const std::string& what, int err) {
        impl_->setup_error = what + ": " + ub_strerror(err);
        ub_ctx_delete(ctx);
    };
    int err = 0;
    if (opts.servers.empty()) {
        if ((err = ub_ctx_resolvconf(ctx, nullptr)) != 0) { fail("cannot read resolv.conf", err); return; }
        ub_ctx_hosts(ctx, nullptr);   // a missing /etc/hosts is no reason to stop
    } else {
        // A test server on 127.0.0.1 is refused by default ("do-not-query-localhost").
        ub_ctx_set_option(ctx, "do-not-query-localhost:", "no");
        // unbound answers these zones itself (RFC 6761 names, loopback and private
        // reverse zones); a configured server is asked about them like any other.
        ub_ctx_set_option(ctx, "unblock-lan-zones:", "yes");
        ub_ctx_set_option(ctx, "insecure-lan-zones:", "yes");
        for (const char* z : {"localhost.", "127.in-addr.arpa.", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.",
                              "onion.", "test.", "invalid.", "home.arpa.", "local.", "example."}) {
            ub_ctx_set_option(ctx, "local-zone:", (std::string(z) + " transparent").c_str());
        }
        for (const auto& s : opts.servers) {
            if ((err = ub_ctx_set_fwd(ctx, s.c_str())) != 0) { fail("bad DNS server " + s, err); return; }
        }
    }
    if (!opts.trust_anchor_file.empty()) {
        if ((err = ub_ctx_add_ta_file(ctx, opts.trust_anchor_file.c_str())) != 0)
        {
            fail("cannot read trust anchor " + opts.trust_anchor_file, err);
            return;
        }
    }
    impl_->ctx = ctx;
}

Resolver::~Resolver() {
    if (impl_ && impl_->ctx) ub_ctx_delete(impl_->ctx);
}

Answer<MxRecord> Resolver::mx(std::string_view domain) {
    Answer<MxRecord> ans;
    for (const auto& rd : impl_->query(domain, kTypeMx, &ans)) {
        if (auto r = decode_mx(rd)) ans.records.push_back(*r);
    }
    if (ans.ok() && ans.records.empty()) {
        ans.outcome = Outcome::tempfail;
        ans.error = "malformed MX records";
    }
    return ans;
}

namespace {
template <typename F>
Answer<std::string> text_answer(Resolver::Impl* impl, std::string_view name, int type, F decode) {
    Answer<std::string> ans;
    for (const auto& rd : impl->query(name, type, &ans)) {
        if (auto r = decode(rd)) ans.records.push_back(*r);
    }
    if (ans.ok() && ans.records.empty()) {
        ans.outcome = Outcome::tempfail;
        ans.error = "malformed DNS records";
    }
    return ans;
}

std::optional<std::string> decode_address(std::string_view rd, int family) {
    size_t want = family == AF_INET ? 4 : 16;
    if (rd.size() != want) return std::nullopt;
    char buf[INET6_ADDRSTRLEN];
    if (!inet_ntop(family, rd.data(), buf, sizeof buf)) return std::nullopt;
    return std::string(buf);
}
}  // namespace

Answer<std::string> Resolver::a(std::string_view name) {
    return text_answer(impl_.get(), name, kTypeA, [](std::string_view rd) { return decode_address(rd, AF_INET); });
}

Answer<std::string> Resolver::aaaa(std::string_view name) {
    return text_answer(impl_.get(), name, kTypeAaaa, [](std::string_view rd) { return decode_address(rd, AF_INET6); });
}

Answer<std::string> Resolver::txt(std::string_view name) {
    return text_answer(impl_.get(), name, kTypeTxt, decode_txt);
}

Answer<std::string> Resolver::ptr(std::string_view ip) {
    auto rev = reverse_labels(ip);
    if (!rev) {
        Answer<std::string> ans;
        ans.outcome = Outcome::nxdomain;
        ans.error = "not an IP address";
        return ans;
    }
    bool v6 = ip.find(':') != std::string_view::npos;
    std::string qname = *rev + (v6 ? ".ip6.arpa" : ".in-addr.arpa");
    return text_answer(impl_.get(), qname, kTypePtr, [](std::string_view rd) -> std::optional<std::string> {
        size_t pos = 0;
        auto n = decode_name(rd, &pos);
        if (!n || pos != rd.size()) return std::nullopt;
        return strip_dot(*n);
    });
}

Answer<TlsaRecord> Resolver::tlsa(std::string_view name) {
    Answer<TlsaRecord> ans;
    for (const auto& rd : impl_->query(name, kTypeTlsa, &ans)) {
        if (rd.size() < 4) continue;
        TlsaRecord r;
        r.usage = static_cast<uint8_t>(rd[0]);
        r.selector = static_cast<uint8_t>(rd[1]);
        r.matching_type = static_cast<uint8_t>(rd[2]);
        r.data = rd.substr(3);
        ans.records.push_back(std::move(r));
    }
    if (ans.ok() && ans.records.empty()) {
        ans.outcome = Outcome::tempfail;
        ans.error = "malformed TLSA records";
    }
    return ans;
}

Resolver& resolver() {
    static Resolver r(options_from_config(paths().config));
    return r;
}

}  // namespace dns
