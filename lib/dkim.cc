// RFC 6376 DKIM and RFC 8463 Ed25519 over OpenSSL EVP: canonicalisation, tag lists,
// signing and verification (see lib/dkim.h).
#include "lib/dkim.h"
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <algorithm>
#include <cctype>
#include "lib/fileio.h"

namespace dkim {

namespace {

constexpr size_t kMaxTags = 64;
constexpr size_t kMaxTagListSize = 64 * 1024;
constexpr int kMinRsaBits = 1024;   // RFC 8301 3.2

bool is_wsp(char c) { return c == ' ' || c == '\t'; }
bool is_fws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim_fws(std::string_view s) {
    while (!s.empty() && is_fws(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_fws(s.back())) s.remove_suffix(1);
    return s;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string without_fws(std::string_view s) {
    std::string out;
    for (char c : s)
        if (!is_fws(c)) out.push_back(c);
    return out;
}

// The lines of a text, each without its LF and a CR before it; a last line without
// LF counts as a line.
std::vector<std::string_view> lines_of(std::string_view text) {
    std::vector<std::string_view> out;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        size_t end = nl == std::string_view::npos ? text.size() : nl;
        std::string_view line = text.substr(pos, end - pos);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        out.push_back(line);
        pos = end + 1;
    }
    return out;
}

// Runs of WSP become one space; WSP at the end is dropped.
std::string compress_wsp(std::string_view s) {
    std::string out;
    bool pending = false;
    for (char c : s) {
        if (is_wsp(c)) {
            pending = true;
            continue;
        }
        if (pending) out.push_back(' ');
        pending = false;
        out.push_back(c);
    }
    return out;
}

std::string sha256(std::string_view data) {
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
    return std::string(reinterpret_cast<char*>(md), sizeof md);
}

struct MdCtxFree {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

// rsa-sha256 signs the data with SHA-256; ed25519-sha256 signs the SHA-256 hash of
// the data with PureEdDSA (RFC 8463 3).
Result<std::string> sign_data(const PrivateKey& key, std::string_view data) {
    MdCtx ctx(EVP_MD_CTX_new());
    std::string input = key.type == KeyType::ed25519 ? sha256(data) : std::string(data);
    const EVP_MD* md = key.type == KeyType::ed25519 ? nullptr : EVP_sha256();
    size_t len = 0;
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, key.key.get()) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                       input.size()) != 1)
        return Error{0, "cannot sign with this key"};
    std::string sig(len, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1)
        return Error{0, "signing failed"};
    sig.resize(len);
    return sig;
}

bool verify_data(EVP_PKEY* pkey, KeyType type, std::string_view data, std::string_view sig) {
    MdCtx ctx(EVP_MD_CTX_new());
    std::string input = type == KeyType::ed25519 ? sha256(data) : std::string(data);
    const EVP_MD* md = type == KeyType::ed25519 ? nullptr : EVP_sha256();
    if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, pkey) != 1) return false;
    return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                            reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
}

Pkey public_key_from_record(const KeyRecord& k) {
    const auto* p = reinterpret_cast<const unsigned char*>(k.public_key.data());
    if (k.key_type == KeyType::ed25519) {
        if (k.public_key.size() != 32) return nullptr;
        return Pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, p, 32));
    }
    // SubjectPublicKeyInfo, as RFC 6376 3.6.1 publishes it; a bare PKCS#1
    // RSAPublicKey is seen in the wild too.
    const unsigned char* q = p;
    if (EVP_PKEY* key = d2i_PUBKEY(nullptr, &q, long(k.public_key.size())))
        return EVP_PKEY_id(key) == EVP_PKEY_RSA ? Pkey(key) : (EVP_PKEY_free(key), nullptr);
    q = p;
    return Pkey(d2i_PublicKey(EVP_PKEY_RSA, nullptr, &q, long(k.public_key.size())));
}

bool valid_tag_name(std::string_view n) {
    if (n.empty() || !std::isalpha(static_cast<unsigned char>(n[0]))) return false;
    return std::all_of(n.begin(), n.end(),
                       [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

bool valid_domain_text(std::string_view d) {
    if (d.empty() || d.size() > 253 || d.front() == '.' || d.back() == '.') return false;
    return std::all_of(d.begin(), d.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
    });
}

std::optional<std::time_t> parse_time(std::string_view s) {
    if (s.empty() || s.size() > 12) return std::nullopt;
    std::time_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + (c - '0');
    }
    return v;
}

std::vector<std::string> colon_list(std::string_view s) {
    std::vector<std::string> out;
    size_t pos = 0;
    for (;;) {
        size_t c = s.find(':', pos);
        std::string_view item = trim_fws(s.substr(pos, c == std::string_view::npos ? s.npos : c - pos));
        out.push_back(lower(item));
        if (c == std::string_view::npos) break;
        pos = c + 1;
    }
    return out;
}

// The header fields named in h=, each chosen bottom-up (RFC 6376 5.4.2): the n-th
// mention of a name takes its n-th instance from the bottom; one that does not exist
// contributes nothing.
std::string signed_headers_text(const SplitMessage& m, const std::vector<std::string>& names, Canon c,
                                const std::string_view* skip = nullptr) {
    std::map<std::string, size_t> used;
    std::string out;
    for (const auto& name : names) {
        size_t want = used[name]++;
        for (size_t i = m.fields.size(); i-- > 0;) {
            if (skip && m.fields[i].data() == skip->data()) continue;
            if (lower(field_name(m.fields[i])) != name) continue;
            if (want-- == 0) {
                out += canon_header(c, m.fields[i]);
                break;
            }
        }
    }
    return out;
}

// The signature field with the value of its b= tag removed (RFC 6376 3.7), without its
// final line end.
std::string without_b_value(std::string_view field) {
    while (!field.empty() && (field.back() == '\n' || field.back() == '\r')) field.remove_suffix(1);
    size_t colon = field.find(':');
    std::string out(field.substr(0, colon + 1));
    std::string_view rest = field.substr(colon + 1);
    size_t pos = 0;
    while (pos <= rest.size()) {
        size_t semi = rest.find(';', pos);
        std::string_view part = rest.substr(pos, semi == std::string_view::npos ? rest.npos : semi - pos);
        size_t eq = part.find('=');
        if (eq != std::string_view::npos && trim_fws(part.substr(0, eq)) == "b")
            out += part.substr(0, eq + 1);
        else
            out += part;
        if (semi == std::string_view::npos) break;
        out += ';';
        pos = semi + 1;
    }
    return out;
}

std::string header_and_self(const SplitMessage& m, const std::vector<std::string>& names, Canon c,
                            std::string_view self_without_b, const std::string_view* skip) {
    std::string data = signed_headers_text(m, names, c, skip);
    std::string self = canon_header(c, self_without_b);
    self.resize(self.size() - 2);   // the signature field is hashed without its CRLF
    return data + self;
}

std::string body_hash(Canon c, std::string_view body, std::optional<uint64_t> length, bool* short_body) {
    std::string canon = canon_body(c, body);
    if (length) {
        if (*length > canon.size()) *short_body = true;
        else canon.resize(size_t(*length));
    }
    return sha256(canon);
}

// Folds "tag=value;" items into lines of about 78 characters (LF, then a tab).
std::string fold_tags(const std::vector<std::string>& tags, size_t first_column) {
    std::string out;
    size_t col = first_column;
    for (size_t i = 0; i < tags.size(); ++i) {
        std::string item = tags[i] + ";";
        if (i > 0) {
            if (col + 1 + item.size() > 78) {
                out += "\n\t";
                col = 8;
            } else {
                out += ' ';
                ++col;
            }
        }
        out += item;
        col += item.size();
    }
    return out;
}

}  // namespace

// ---- canonicalisation ---------------------------------------------------------------

std::string canon_header(Canon c, std::string_view field) {
    if (c == Canon::simple) {
        std::string out;
        for (auto line : lines_of(field)) {
            out.append(line);
            out += "\r\n";
        }
        if (out.empty()) out = "\r\n";
        return out;
    }
    size_t colon = field.find(':');
    std::string_view name = field.substr(0, colon);
    while (!name.empty() && is_wsp(name.back())) name.remove_suffix(1);
    std::string value;
    if (colon != std::string_view::npos)
        for (char ch : field.substr(colon + 1))
            if (ch != '\r' && ch != '\n') value.push_back(ch);
    value = compress_wsp(value);
    if (!value.empty() && value.front() == ' ') value.erase(0, 1);
    return lower(name) + ":" + value + "\r\n";
}

std::string canon_body(Canon c, std::string_view body) {
    std::vector<std::string> lines;
    for (auto line : lines_of(body)) lines.emplace_back(c == Canon::relaxed ? compress_wsp(line) : line);
    while (!lines.empty() && lines.back().empty()) lines.pop_back();
    std::string out;
    for (const auto& l : lines) {
        out += l;
        out += "\r\n";
    }
    if (out.empty() && c == Canon::simple) out = "\r\n";
    return out;
}

std::optional<std::pair<Canon, Canon>> parse_canon(std::string_view text) {
    auto one = [](std::string_view w) -> std::optional<Canon> {
        if (w == "simple") return Canon::simple;
        if (w == "relaxed") return Canon::relaxed;
        return std::nullopt;
    };
    size_t slash = text.find('/');
    auto h = one(text.substr(0, slash));
    auto b = slash == std::string_view::npos ? std::optional<Canon>(Canon::simple) : one(text.substr(slash + 1));
    if (!h || !b) return std::nullopt;
    return std::make_pair(*h, *b);
}

std::string canon_name(Canon c) { return c == Canon::simple ? "simple" : "relaxed"; }

SplitMessage split_message(std::string_view message) {
    SplitMessage m;
    size_t pos = 0;
    while (pos < message.size()) {
        size_t nl = message.find('\n', pos);
        size_t end = nl == std::string_view::npos ? message.size() : nl + 1;
        std::string_view line = message.substr(pos, end - pos);
        if (line == "\n" || line == "\r\n") {
            m.body = message.substr(end);
            return m;
        }
        if ((line[0] == ' ' || line[0] == '\t') && !m.fields.empty()) {
            std::string_view& last = m.fields.back();
            last = std::string_view(last.data(), last.size() + line.size());
        } else {
            m.fields.push_back(line);
        }
        pos = end;
    }
    return m;
}

std::string_view field_name(std::string_view field) {
    size_t colon = field.find(':');
    if (colon == std::string_view::npos) return {};
    std::string_view n = field.substr(0, colon);
    while (!n.empty() && is_wsp(n.back())) n.remove_suffix(1);
    return n;
}

std::string field_value(std::string_view field) {
    size_t colon = field.find(':');
    if (colon == std::string_view::npos) return {};
    std::string v;
    for (char c : field.substr(colon + 1))
        if (c != '\r' && c != '\n') v.push_back(c);
    return std::string(trim_fws(v));
}

// ---- tag lists ----------------------------------------------------------------------

Result<TagList> parse_tag_list(std::string_view text) {
    if (text.size() > kMaxTagListSize) return Error{0, "tag list too long"};
    TagList tags;
    size_t pos = 0;
    while (pos <= text.size()) {
        size_t semi = text.find(';', pos);
        std::string_view part = text.substr(pos, semi == std::string_view::npos ? text.npos : semi - pos);
        pos = semi == std::string_view::npos ? text.size() + 1 : semi + 1;
        if (trim_fws(part).empty()) {
            if (pos > text.size()) break;   // a trailing ';' is allowed (3.2)
            return Error{0, "empty tag"};
        }
        size_t eq = part.find('=');
        if (eq == std::string_view::npos) return Error{0, "tag without '='"};
        std::string name(trim_fws(part.substr(0, eq)));
        if (!valid_tag_name(name)) return Error{0, "bad tag name"};
        if (tags.count(name)) return Error{0, "duplicate tag " + name + "="};
        if (tags.size() >= kMaxTags) return Error{0, "too many tags"};
        tags.emplace(std::move(name), std::string(trim_fws(part.substr(eq + 1))));
    }
    return tags;
}

std::optional<std::string> decode_base64(std::string_view text) {
    std::string clean = without_fws(text);
    if (clean.size() % 4 != 0) return std::nullopt;
    if (clean.empty()) return std::string();
    std::string out(clean.size() / 4 * 3, '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(clean.data()), int(clean.size()));
    if (n < 0) return std::nullopt;
    size_t pad = clean.back() == '=' ? (clean[clean.size() - 2] == '=' ? 2 : 1) : 0;
    out.resize(size_t(n) - pad);
    return out;
}

std::string encode_base64(std::string_view data) {
    std::string out((data.size() + 2) / 3 * 4 + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(data.data()), int(data.size()));
    out.resize(size_t(n));
    return out;
}

// ---- DKIM-Signature ------------------------------------------------------------------

Result<Signature> parse_signature(std::string_view value) {
    auto tags = parse_tag_list(value);
    if (!tags) return tags.error();
    auto get = [&](std::string_view n) -> const std::string* {
        auto it = tags->find(n);
        return it == tags->end() ? nullptr : &it->second;
    };
    for (const char* required : {"v", "a", "b", "bh", "d", "h", "s"})
        if (!get(required)) return Error{0, std::string("missing tag ") + required + "="};
    if (*get("v") != "1") return Error{0, "unsupported version v=" + *get("v")};
    Signature s;
    std::string a = lower(*get("a"));
    if (a == "rsa-sha256") s.key_type = KeyType::rsa;
    else if (a == "ed25519-sha256") s.key_type = KeyType::ed25519;
    else return Error{0, "unsupported algorithm a=" + a};
    if (const auto* c = get("c")) {
        auto canon = parse_canon(lower(*c));
        if (!canon) return Error{0, "bad c="};
        s.header_canon = canon->first;
        s.body_canon = canon->second;
    }
    s.domain = lower(*get("d"));
    if (!valid_domain_text(s.domain)) return Error{0, "bad d="};
    s.selector = lower(*get("s"));
    if (!valid_domain_text(s.selector)) return Error{0, "bad s="};
    s.headers = colon_list(*get("h"));
    if (std::find(s.headers.begin(), s.headers.end(), "from") == s.headers.end())
        return Error{0, "h= does not include From"};
    if (std::any_of(s.headers.begin(), s.headers.end(), [](const std::string& h) { return h.empty(); }))
        return Error{0, "bad h="};
    auto bh = decode_base64(*get("bh"));
    auto b = decode_base64(*get("b"));
    if (!bh || bh->size() != SHA256_DIGEST_LENGTH) return Error{0, "bad bh="};
    if (!b || b->empty()) return Error{0, "bad b="};
    s.body_hash = *bh;
    s.signature = *b;
    s.b_text = without_fws(*get("b"));
    if (const auto* l = get("l")) {
        auto v = parse_time(*l);
        if (!v) return Error{0, "bad l="};
        s.length = uint64_t(*v);
    }
    if (const auto* q = get("q"); q && lower(without_fws(*q)).find("dns/txt") == std::string::npos)
        return Error{0, "unsupported q="};
    if (const auto* t = get("t")) {
        s.timestamp = parse_time(*t);
        if (!s.timestamp) return Error{0, "bad t="};
    }
    if (const auto* x = get("x")) {
        s.expiration = parse_time(*x);
        if (!s.expiration) return Error{0, "bad x="};
        if (s.timestamp && *s.expiration < *s.timestamp) return Error{0, "x= before t="};
    }
    s.identity = "@" + s.domain;
    if (const auto* i = get("i")) {
        size_t at = i->rfind('@');
        if (at == std::string::npos) return Error{0, "bad i="};
        std::string idom = lower(i->substr(at + 1));
        // 3.5: the domain of i= is d= or a subdomain of it.
        if (idom != s.domain && !(idom.size() > s.domain.size() &&
                                  idom.compare(idom.size() - s.domain.size() - 1, std::string::npos,
                                               "." + s.domain) == 0))
            return Error{0, "i= not in d="};
        s.identity = *i;
    }
    return s;
}

// ---- key records ---------------------------------------------------------------------

Result<KeyRecord> parse_key_record(std::string_view text) {
    auto tags = parse_tag_list(text);
    if (!tags) return tags.error();
    KeyRecord k;
    if (auto it = tags->find("v"); it != tags->end() && it->second != "DKIM1")
        return Error{0, "not a DKIM1 record"};
    if (auto it = tags->find("k"); it != tags->end()) {
        std::string type = lower(it->second);
        if (type == "rsa") k.key_type = KeyType::rsa;
        else if (type == "ed25519") k.key_type = KeyType::ed25519;
        else return Error{0, "unknown key type k=" + type};
    }
    auto p = tags->find("p");
    if (p == tags->end()) return Error{0, "missing p="};
    auto key = decode_base64(p->second);
    if (!key) return Error{0, "bad p="};
    k.public_key = *key;
    k.revoked = key->empty();
    if (auto it = tags->find("h"); it != tags->end()) k.hashes = colon_list(it->second);
    if (auto it = tags->find("s"); it != tags->end()) {
        auto services = colon_list(it->second);
        if (std::find(services.begin(), services.end(), "*") == services.end() &&
            std::find(services.begin(), services.end(), "email") == services.end())
            return Error{0, "key not for email (s=)"};
    }
    if (auto it = tags->find("t"); it != tags->end())
        for (const auto& f : colon_list(it->second)) {
            if (f == "y") k.testing = true;
            if (f == "s") k.strict = true;
        }
    return k;
}

std::string format_key_record(KeyType type, std::string_view public_key) {
    return std::string("v=DKIM1; k=") + (type == KeyType::rsa ? "rsa" : "ed25519") +
           "; p=" + encode_base64(public_key);
}

// ---- keys ----------------------------------------------------------------------------

Result<PrivateKey> parse_private_key(std::string_view pem) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), int(pem.size())), BIO_free);
    PrivateKey k;
    k.key.reset(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    if (!k.key) return Error{0, "not a PEM private key"};
    int id = EVP_PKEY_id(k.key.get());
    if (id == EVP_PKEY_RSA) {
        if (EVP_PKEY_bits(k.key.get()) < kMinRsaBits) return Error{0, "RSA key shorter than 1024 bits"};
        k.type = KeyType::rsa;
    } else if (id == EVP_PKEY_ED25519) {
        k.type = KeyType::ed25519;
    } else {
        return Error{0, "key is neither RSA nor Ed25519"};
    }
    return k;
}

Result<PrivateKey> load_private_key(const std::string& path) {
    auto text = read_file(path, 64 * 1024);
    if (!text) return text.error();
    auto k = parse_private_key(*text);
    if (!k) return Error{0, path + ": " + k.error().text};
    return k;
}

Result<PrivateKey> generate_key(KeyType type, int rsa_bits) {
    std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
        EVP_PKEY_CTX_new_id(type == KeyType::rsa ? EVP_PKEY_RSA : EVP_PKEY_ED25519, nullptr),
        EVP_PKEY_CTX_free);
    EVP_PKEY* raw = nullptr;
    if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
        (type == KeyType::rsa && EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), rsa_bits) != 1) ||
        EVP_PKEY_keygen(ctx.get(), &raw) != 1)
        return Error{0, "key generation failed"};
    PrivateKey k;
    k.key.reset(raw);
    k.type = type;
    return k;
}

std::string private_key_pem(const PrivateKey& key) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    if (!bio || PEM_write_bio_PrivateKey(bio.get(), key.key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
        return "";
    char* data = nullptr;
    long n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, size_t(n));
}

std::string public_key_bytes(const PrivateKey& key) {
    if (key.type == KeyType::ed25519) {
        std::string raw(32, '\0');
        size_t len = raw.size();
        if (EVP_PKEY_get_raw_public_key(key.key.get(), reinterpret_cast<unsigned char*>(raw.data()), &len) != 1)
            return "";
        raw.resize(len);
        return raw;
    }
    unsigned char* der = nullptr;
    int n = i2d_PUBKEY(key.key.get(), &der);
    if (n <= 0) return "";
    std::string out(reinterpret_cast<char*>(der), size_t(n));
    OPENSSL_free(der);
    return out;
}

// ---- signing -------------------------------------------------------------------------

const std::vector<std::string>& default_signed_headers() {
    static const std::vector<std::string> names = {
        "from", "reply-to", "subject", "date", "to", "cc", "resent-date", "resent-from",
        "resent-to", "resent-cc", "in-reply-to", "references", "list-id", "list-help",
        "list-unsubscribe", "list-subscribe", "list-post", "list-owner", "list-archive",
        "message-id", "mime-version", "content-type", "content-transfer-encoding",
        "content-id", "content-description", "sender"};
    return names;
}

std::vector<std::string> select_headers(const SplitMessage& m, const SignOptions& opts) {
    std::vector<std::string> names = opts.headers;
    if (std::find(names.begin(), names.end(), "from") == names.end()) names.insert(names.begin(), "from");
    std::vector<std::string> out;
    for (const auto& name : names) {
        size_t n = std::count_if(m.fields.begin(), m.fields.end(),
                                 [&](std::string_view f) { return lower(field_name(f)) == name; });
        if (std::find(opts.oversign.begin(), opts.oversign.end(), name) != opts.oversign.end()) ++n;
        out.insert(out.end(), n, name);
    }
    return out;
}

Result<std::string> sign(std::string_view message, const SignOptions& opts, const PrivateKey& key) {
    SplitMessage m = split_message(message);
    if (std::none_of(m.fields.begin(), m.fields.end(),
                     [](std::string_view f) { return lower(field_name(f)) == "from"; }))
        return Error{0, "the message has no From: header"};
    std::vector<std::string> names = select_headers(m, opts);
    std::string h;
    for (const auto& n : names) h += (h.empty() ? "" : ":") + n;
    bool short_body = false;
    std::vector<std::string> tags = {
        "v=1",
        std::string("a=") + (key.type == KeyType::rsa ? "rsa-sha256" : "ed25519-sha256"),
        "c=" + canon_name(opts.header_canon) + "/" + canon_name(opts.body_canon),
        "d=" + opts.domain, "s=" + opts.selector};
    if (opts.now) tags.push_back("t=" + std::to_string(opts.now));
    tags.push_back("h=" + h);
    tags.push_back("bh=" + encode_base64(body_hash(opts.body_canon, m.body, std::nullopt, &short_body)));
    std::string field = "DKIM-Signature: " + fold_tags(tags, 16) + "\n\tb=";
    auto sig = sign_data(key, header_and_self(m, names, opts.header_canon, field, nullptr));
    if (!sig) return sig.error();
    std::string b = encode_base64(*sig);
    for (size_t i = 0; i < b.size(); i += 72) field += (i ? "\n\t " : "") + b.substr(i, 72);
    return field + "\n";
}

// ---- verifying -----------------------------------------------------------------------

std::string_view verdict_name(Verdict v) {
    switch (v) {
    case Verdict::pass: return "pass";
    case Verdict::fail: return "fail";
    case Verdict::neutral: return "neutral";
    case Verdict::policy: return "policy";
    case Verdict::temperror: return "temperror";
    case Verdict::permerror: return "permerror";
    }
    return "permerror";
}

TxtLookup resolver_txt() {
    return [](const std::string& name) { return dns::resolver().txt(name); };
}

namespace {

VerifyResult verify_one(const SplitMessage& m, std::string_view field, const TxtLookup& lookup,
                        std::time_t now) {
    VerifyResult r;
    auto sig = parse_signature(field_value(field));
    if (!sig) {
        r.reason = sig.error().text;
        return r;
    }
    r.domain = sig->domain;
    r.selector = sig->selector;
    r.identity = sig->identity;
    r.b_prefix = sig->b_text.substr(0, 8);
    auto done = [&](Verdict v, std::string why) {
        r.verdict = v;
        r.reason = std::move(why);
        return r;
    };
    if (sig->expiration && *sig->expiration < now) return done(Verdict::policy, "signature expired");
    auto answer = lookup(sig->selector + "._domainkey." + sig->domain);
    if (answer.outcome == dns::Outcome::tempfail) return done(Verdict::temperror, "key lookup failed");
    if (!answer.ok()) return done(Verdict::permerror, "no key for signature");
    std::optional<KeyRecord> key;
    std::string key_error = "no key record";
    for (const auto& txt : answer.records) {
        auto k = parse_key_record(txt);
        if (k) {
            key = std::move(*k);
            break;
        }
        key_error = "bad key record: " + k.error().text;
    }
    if (!key) return done(Verdict::permerror, key_error);
    if (key->revoked) return done(Verdict::fail, "key revoked");
    if (key->key_type != sig->key_type) return done(Verdict::permerror, "key type does not match a=");
    if (!key->hashes.empty() && std::find(key->hashes.begin(), key->hashes.end(), "sha256") == key->hashes.end())
        return done(Verdict::permerror, "key does not allow sha256");
    if (key->strict && lower(sig->identity.substr(sig->identity.rfind('@') + 1)) != sig->domain)
        return done(Verdict::permerror, "key requires i= domain equal to d= (t=s)");
    Pkey pkey = public_key_from_record(*key);
    if (!pkey) return done(Verdict::permerror, "unusable public key");
    if (key->key_type == KeyType::rsa && EVP_PKEY_bits(pkey.get()) < kMinRsaBits)
        return done(Verdict::policy, "RSA key shorter than 1024 bits");
    bool short_body = false;
    std::string bh = body_hash(sig->body_canon, m.body, sig->length, &short_body);
    if (short_body) return done(Verdict::fail, "body shorter than l=");
    if (bh != sig->body_hash) return done(Verdict::fail, "body hash did not verify");
    std::string data = header_and_self(m, sig->headers, sig->header_canon, without_b_value(field), &field);
    if (!verify_data(pkey.get(), sig->key_type, data, sig->signature))
        return done(Verdict::fail, "signature did not verify");
    return done(Verdict::pass, key->testing ? "good signature (key in testing mode)" : "good signature");
}

}  // namespace

std::vector<VerifyResult> verify(std::string_view message, const TxtLookup& lookup, std::time_t now,
                                 size_t max_signatures) {
    SplitMessage m = split_message(message);
    std::vector<VerifyResult> out;
    for (std::string_view f : m.fields) {
        if (out.size() >= max_signatures) break;
        if (lower(field_name(f)) == "dkim-signature") out.push_back(verify_one(m, f, lookup, now));
    }
    return out;
}

}  // namespace dkim
