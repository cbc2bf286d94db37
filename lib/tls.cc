// TLS over OpenSSL: see lib/tls.h.
#include "lib/tls.h"
#include <cerrno>
#include <fcntl.h>
#include <memory>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include "lib/fileio.h"
#include "lib/process.h"
#include "lib/unique_fd.h"

namespace {
// Mozilla "intermediate" for TLS 1.2: ECDHE key exchange and AEAD ciphers only. TLS 1.3
// suites are all acceptable and keep OpenSSL's default order.
constexpr const char* kServerCiphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
// Outbound SMTP meets old servers: still forward secret, but CBC modes are allowed
// over no encryption at all (RFC 7435, opportunistic security).
constexpr const char* kClientCiphers =
    "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:ECDHE+AES:!aNULL:!eNULL:!MD5:!SHA1:!RC4:!3DES:!DSS:"
    "ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA";

std::string openssl_error(std::string_view what) {
    std::string text(what);
    unsigned long e;
    while ((e = ERR_get_error()) != 0) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        text += ": ";
        text += buf;
    }
    return text;
}

Result<ssl_ctx_st*> base_context(const SSL_METHOD* method, const std::string& ciphers) {
    SSL_CTX* ctx = SSL_CTX_new(method);
    if (!ctx) return Error{0, openssl_error("SSL_CTX_new")};
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (SSL_CTX_set_cipher_list(ctx, ciphers.c_str()) != 1) {
        SSL_CTX_free(ctx);
        return Error{0, openssl_error("bad cipher list \"" + ciphers + "\"")};
    }
    return ctx;
}

Status load_cert_and_key(SSL_CTX* ctx, const std::string& cert, const std::string& key) {
    if (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1)
        return Error{0, openssl_error("cannot load certificate " + cert)};
    const std::string& k = key.empty() ? cert : key;
    if (SSL_CTX_use_PrivateKey_file(ctx, k.c_str(), SSL_FILETYPE_PEM) != 1)
        return Error{0, openssl_error("cannot load private key " + k)};
    if (SSL_CTX_check_private_key(ctx) != 1)
        return Error{0, openssl_error("private key does not match certificate " + cert)};
    return ok_status();
}

// Client certificates are asked for but never make the handshake fail unless required:
// the result is reported and policy decides.
int accept_any(int, X509_STORE_CTX*) { return 1; }

bool wait_fd(int fd, short events, int timeout_ms) {
    struct pollfd p{fd, events, 0};
    int r;
    do r = ::poll(&p, 1, timeout_ms); while (r < 0 && errno == EINTR);
    return r > 0;
}

struct X509Free { void operator()(X509* x) const { X509_free(x); } };
struct PkeyFree { void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); } };
}  // namespace

// --- TlsContext ---

TlsContext::TlsContext(TlsContext&& o) noexcept : ctx_(o.ctx_), server_(o.server_) { o.ctx_ = nullptr; }
TlsContext& TlsContext::operator=(TlsContext&& o) noexcept {
    if (this != &o) {
        if (ctx_) SSL_CTX_free(ctx_);
        ctx_ = o.ctx_;
        server_ = o.server_;
        o.ctx_ = nullptr;
    }
    return *this;
}
TlsContext::~TlsContext() {
    if (ctx_) SSL_CTX_free(ctx_);
}

Result<TlsContext> TlsContext::server(const TlsServerOptions& opts) {
    auto base = base_context(TLS_server_method(), opts.ciphers.empty() ? kServerCiphers : opts.ciphers);
    if (!base) return base.error();
    TlsContext c;
    c.ctx_ = *base;
    c.server_ = true;
    if (opts.cert_file.empty()) return Error{0, "no certificate file configured (TLS_CERTFILE)"};
    if (Status s = load_cert_and_key(c.ctx_, opts.cert_file, opts.key_file); !s) return s.error();
    if (opts.request_client_cert || opts.require_client_cert) {
        if (!opts.ca_file.empty() &&
            SSL_CTX_load_verify_locations(c.ctx_, opts.ca_file.c_str(), nullptr) != 1)
            return Error{0, openssl_error("cannot load CA file " + opts.ca_file)};
        if (!opts.ca_file.empty()) {
            STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(opts.ca_file.c_str());
            if (names) SSL_CTX_set_client_CA_list(c.ctx_, names);
        }
        // TLS_VERIFYPEER=PEER: a client may come without a certificate, but one it
        // presents must chain to TLS_TRUSTCERTS (else the handshake fails), as in Courier.
        SSL_CTX_set_verify(c.ctx_, SSL_VERIFY_PEER | (opts.require_client_cert ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
                           nullptr);
    }
    static const unsigned char sid[] = "courier-esmtpd";
    SSL_CTX_set_session_id_context(c.ctx_, sid, sizeof sid - 1);
    return c;
}

Result<TlsContext> TlsContext::client(const TlsClientOptions& opts) {
    auto base = base_context(TLS_client_method(), opts.ciphers.empty() ? kClientCiphers : opts.ciphers);
    if (!base) return base.error();
    TlsContext c;
    c.ctx_ = *base;
    if (opts.ca_file.empty() && opts.ca_dir.empty()) {
        SSL_CTX_set_default_verify_paths(c.ctx_);
    } else if (SSL_CTX_load_verify_locations(c.ctx_, opts.ca_file.empty() ? nullptr : opts.ca_file.c_str(),
                                             opts.ca_dir.empty() ? nullptr : opts.ca_dir.c_str()) != 1) {
        return Error{0, openssl_error("cannot load trust anchors")};
    }
    if (!opts.cert_file.empty())
        if (Status s = load_cert_and_key(c.ctx_, opts.cert_file, opts.key_file); !s) return s.error();
    // Verification is recorded, not enforced here: the caller's policy (DANE, MTA-STS,
    // opportunistic) decides with info() and peer_name_matches().
    SSL_CTX_set_verify(c.ctx_, SSL_VERIFY_PEER, accept_any);
    // DANE is switched on per connection (enable_dane); the context must allow it.
    if (SSL_CTX_dane_enable(c.ctx_) <= 0) return Error{0, openssl_error("SSL_CTX_dane_enable")};
    return c;
}

// --- TlsConnection ---

TlsConnection::TlsConnection(TlsConnection&& o) noexcept
    : ssl_(o.ssl_), fd_(o.fd_), timed_out_(o.timed_out_), read_timeout_ms_(o.read_timeout_ms_),
      error_(std::move(o.error_)), dane_(o.dane_) {
    o.ssl_ = nullptr;
}
TlsConnection& TlsConnection::operator=(TlsConnection&& o) noexcept {
    if (this != &o) {
        if (ssl_) SSL_free(ssl_);
        ssl_ = o.ssl_;
        fd_ = o.fd_;
        timed_out_ = o.timed_out_;
        read_timeout_ms_ = o.read_timeout_ms_;
        error_ = std::move(o.error_);
        dane_ = o.dane_;
        o.ssl_ = nullptr;
    }
    return *this;
}
TlsConnection::~TlsConnection() {
    if (ssl_) SSL_free(ssl_);
}

bool TlsConnection::wait_io(int ssl_error, int timeout_ms) {
    short events = ssl_error == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
    if (wait_fd(fd_, events, timeout_ms)) return true;
    timed_out_ = true;
    error_ = "timeout";
    return false;
}

// RFC 7672 3.2.3 and OpenSSL's DANE: the base domain (names[0]) becomes the SNI name and
// the first reference name; sub-domain wildcards are not partial matches (RFC 7672 3.2.3).
Status TlsConnection::enable_dane(const TlsDane& dane) {
    const std::string base = dane.names.empty() ? std::string() : dane.names[0];
    if (SSL_dane_enable(ssl_, base.empty() ? nullptr : base.c_str()) <= 0)
        return Error{0, openssl_error("SSL_dane_enable")};
    SSL_dane_set_flags(ssl_, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
    SSL_set_hostflags(ssl_, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    for (size_t i = 1; i < dane.names.size(); ++i) SSL_add1_host(ssl_, dane.names[i].c_str());
    int usable = 0;
    for (const auto& r : dane.records) {
        int n = SSL_dane_tlsa_add(ssl_, r.usage, r.selector, r.matching_type,
                                  reinterpret_cast<const unsigned char*>(r.data.data()), r.data.size());
        if (n > 0) ++usable;   // 0: a record OpenSSL cannot use; ignored (RFC 7671 4.1)
    }
    if (usable == 0) return Error{0, "no usable TLSA record"};
    dane_ = true;
    return ok_status();
}

Result<TlsConnection> TlsConnection::handshake(const TlsContext& ctx, int fd, bool server,
                                               const std::string& sni_host, int timeout_ms,
                                               const TlsDane* dane) {
    TlsConnection c;
    c.fd_ = fd;
    c.ssl_ = SSL_new(ctx.native());
    if (!c.ssl_) return Error{0, openssl_error("SSL_new")};
    set_nonblock(fd, true);
    if (SSL_set_fd(c.ssl_, fd) != 1) return Error{0, openssl_error("SSL_set_fd")};
    if (!server && !sni_host.empty()) {
        unsigned char addr[16];
        bool literal = inet_pton(AF_INET, sni_host.c_str(), addr) == 1 ||
                       inet_pton(AF_INET6, sni_host.c_str(), addr) == 1;
        if (!literal) SSL_set_tlsext_host_name(c.ssl_, sni_host.c_str());
    }
    if (!server && dane && !dane->records.empty()) {
        if (Status s = c.enable_dane(*dane); !s) return s.error();
    }
    ERR_clear_error();
    for (;;) {
        int r = server ? SSL_accept(c.ssl_) : SSL_connect(c.ssl_);
        if (r == 1) break;
        int e = SSL_get_error(c.ssl_, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            if (!c.wait_io(e, timeout_ms)) return Error{ETIMEDOUT, "TLS handshake timed out"};
            continue;
        }
        if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
            return Error{errno, "TLS handshake: connection closed by peer"};
        return Error{0, openssl_error("TLS handshake failed")};
    }
    return c;
}

Result<TlsConnection> TlsConnection::accept(const TlsContext& ctx, int fd, int timeout_ms) {
    return handshake(ctx, fd, true, "", timeout_ms);
}

Result<TlsConnection> TlsConnection::connect(const TlsContext& ctx, int fd, const std::string& sni_host,
                                             int timeout_ms, const TlsDane* dane) {
    return handshake(ctx, fd, false, sni_host, timeout_ms, dane);
}

long TlsConnection::read(char* buf, size_t len, int timeout_ms) {
    timed_out_ = false;
    ERR_clear_error();
    for (;;) {
        int n = SSL_read(ssl_, buf, static_cast<int>(len > 1 << 30 ? 1 << 30 : len));
        if (n > 0) return n;
        int e = SSL_get_error(ssl_, n);
        if (e == SSL_ERROR_ZERO_RETURN) return 0;
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            if (!wait_io(e, timeout_ms)) return -1;
            continue;
        }
        // A peer that closes without close_notify: treated as EOF, the SMTP layer
        // knows whether the conversation was complete.
        if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) return 0;
        error_ = openssl_error("TLS read");
        return -1;
    }
}

bool TlsConnection::write_all(std::string_view data, int timeout_ms) {
    timed_out_ = false;
    ERR_clear_error();
    while (!data.empty()) {
        int chunk = static_cast<int>(data.size() > 1 << 20 ? 1 << 20 : data.size());
        int n = SSL_write(ssl_, data.data(), chunk);
        if (n > 0) {
            data.remove_prefix(static_cast<size_t>(n));
            continue;
        }
        int e = SSL_get_error(ssl_, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            if (!wait_io(e, timeout_ms)) return false;
            continue;
        }
        error_ = openssl_error("TLS write");
        return false;
    }
    return true;
}

void TlsConnection::shutdown(int timeout_ms) {
    if (!ssl_) return;
    ERR_clear_error();
    for (int tries = 0; tries < 4; ++tries) {
        int r = SSL_shutdown(ssl_);
        if (r != 0 && r != -1) return;
        if (r == 0) return;   // close_notify sent; not waiting for the peer's
        int e = SSL_get_error(ssl_, r);
        if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) || !wait_io(e, timeout_ms)) return;
    }
}

bool TlsConnection::has_pending() const { return ssl_ && SSL_pending(ssl_) > 0; }

TlsInfo TlsConnection::info() const {
    TlsInfo i;
    if (!ssl_) return i;
    i.version = SSL_get_version(ssl_);
    const SSL_CIPHER* c = SSL_get_current_cipher(ssl_);
    if (c) {
        i.cipher = SSL_CIPHER_get_name(c);
        i.bits = SSL_CIPHER_get_bits(c, nullptr);
    }
    std::unique_ptr<X509, X509Free> peer(SSL_get1_peer_certificate(ssl_));
    if (peer) {
        i.peer_cert = true;
        long v = SSL_get_verify_result(ssl_);
        i.peer_verified = v == X509_V_OK;
        if (!i.peer_verified) i.verify_error = X509_verify_cert_error_string(v);
        if (dane_) {   // with DANE on, the verify result is the TLSA verdict alone
            i.dane_checked = true;
            uint8_t usage = 0, selector = 0, mtype = 0;
            i.dane_verified = i.peer_verified && SSL_get0_dane_tlsa(ssl_, &usage, &selector, &mtype, nullptr, nullptr) >= 0;
            if (i.dane_verified) i.dane_usage = usage;
        }
        BIO* bio = BIO_new(BIO_s_mem());
        if (bio) {
            X509_NAME_print_ex(bio, X509_get_subject_name(peer.get()), 0, XN_FLAG_RFC2253);
            char* p = nullptr;
            long n = BIO_get_mem_data(bio, &p);
            if (n > 0) i.peer_subject.assign(p, static_cast<size_t>(n));
            BIO_free(bio);
        }
    }
    return i;
}

bool TlsConnection::peer_name_matches(std::string_view host) const {
    if (!ssl_) return false;
    std::unique_ptr<X509, X509Free> peer(SSL_get1_peer_certificate(ssl_));
    if (!peer) return false;
    std::string h(host);
    while (!h.empty() && h.back() == '.') h.pop_back();
    unsigned char addr[16];
    if (inet_pton(AF_INET, h.c_str(), addr) == 1 || inet_pton(AF_INET6, h.c_str(), addr) == 1)
        return X509_check_ip_asc(peer.get(), h.c_str(), 0) == 1;
    return X509_check_host(peer.get(), h.data(), h.size(), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
                           nullptr) == 1;
}

long TlsConnection::line_reader_fn(void* ctx, char* buf, size_t len) {
    auto* c = static_cast<TlsConnection*>(ctx);
    return c->read(buf, len, c->read_timeout_ms_);
}

// --- mkesmtpdcert ---

Status make_self_signed_cert(const std::string& path, const std::string& host, int days, bool ec) {
    std::unique_ptr<EVP_PKEY, PkeyFree> key(ec ? EVP_EC_gen("P-256") : EVP_RSA_gen(3072));
    if (!key) return Error{0, openssl_error("key generation failed")};
    std::unique_ptr<X509, X509Free> cert(X509_new());
    if (!cert) return Error{0, openssl_error("X509_new")};
    X509_set_version(cert.get(), 2);
    unsigned char serial[16];
    if (RAND_bytes(serial, sizeof serial) != 1) return Error{0, openssl_error("RAND_bytes")};
    serial[0] &= 0x7f;
    BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
    BN_free(bn);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(days) * 86400L);
    X509_set_pubkey(cert.get(), key.get());
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(host.c_str()), -1, -1, 0);
    X509_set_issuer_name(cert.get(), name);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
    unsigned char addr[16];
    bool literal = inet_pton(AF_INET, host.c_str(), addr) == 1 || inet_pton(AF_INET6, host.c_str(), addr) == 1;
    const std::string san = (literal ? "IP:" : "DNS:") + host;
    const std::pair<int, std::string> exts[] = {
        {NID_basic_constraints, "critical,CA:FALSE"},
        {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
        {NID_ext_key_usage, "serverAuth,clientAuth"},   // also usable for outbound TLS
        {NID_subject_alt_name, san},
        {NID_subject_key_identifier, "hash"},
    };
    for (const auto& [nid, value] : exts) {
        X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str());
        if (!ext) return Error{0, openssl_error("bad certificate extension " + value)};
        X509_add_ext(cert.get(), ext, -1);
        X509_EXTENSION_free(ext);
    }
    if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) return Error{0, openssl_error("X509_sign")};

    BIO* bio = BIO_new(BIO_s_mem());
    if (!bio) return Error{0, openssl_error("BIO_new")};
    bool ok = PEM_write_bio_PrivateKey(bio, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1 &&
              PEM_write_bio_X509(bio, cert.get()) == 1;
    char* p = nullptr;
    long n = BIO_get_mem_data(bio, &p);
    std::string pem = ok && n > 0 ? std::string(p, static_cast<size_t>(n)) : std::string();
    BIO_free(bio);
    if (pem.empty()) return Error{0, openssl_error("PEM encoding failed")};
    std::string dir = dir_of(path);
    std::string base = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
    return write_file_durably(dir, base, pem, 0600);
}
