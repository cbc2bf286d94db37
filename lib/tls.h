// TLS over OpenSSL 3 for the whole MTA: the server side of courieresmtpd (STARTTLS,
// RFC 3207, and implicit TLS on 465, RFC 8314) and the client side of courieresmtp.
// Policy in one place: TLS 1.2 and 1.3 only, forward-secret AEAD ciphers only, no
// compression, no renegotiation (RFC 8996, RFC 9325).
// SECURITY: a TlsConnection reads bytes from an untrusted peer; it never owns the
// socket (the caller's UniqueFd does) and never blocks longer than the timeout given.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>
#include "lib/result.h"

struct ssl_ctx_st;   // OpenSSL's SSL_CTX
struct ssl_st;       // OpenSSL's SSL

// Settings of a server context.
struct TlsServerOptions {
    std::string cert_file;       // PEM certificate chain (the key may be in it too)
    std::string key_file;        // PEM private key; "" = read it from cert_file
    std::string ca_file;         // client certificates are verified against this
    bool request_client_cert = false;   // ask for one; one presented must verify (TlsInfo has it)
    bool require_client_cert = false;   // refuse the handshake without a valid one
    std::string ciphers;         // TLS 1.2 cipher list; "" = the built-in modern list
};

// Settings of a client context (outbound SMTP).
struct TlsClientOptions {
    std::string ca_file;         // trust anchors; "" with ca_dir "" = system default store
    std::string ca_dir;
    std::string cert_file;       // optional client certificate (and key, as for servers)
    std::string key_file;
    std::string ciphers;         // TLS 1.2 cipher list; "" = built-in list
};

// One configured SSL_CTX; move-only, cheap to share by reference among connections.
class TlsContext {
public:
    static Result<TlsContext> server(const TlsServerOptions& opts);
    static Result<TlsContext> client(const TlsClientOptions& opts);
    TlsContext(TlsContext&&) noexcept;
    TlsContext& operator=(TlsContext&&) noexcept;
    TlsContext(const TlsContext&) = delete;
    TlsContext& operator=(const TlsContext&) = delete;
    ~TlsContext();
    ssl_ctx_st* native() const { return ctx_; }
    bool is_server() const { return server_; }

private:
    TlsContext() = default;
    ssl_ctx_st* ctx_ = nullptr;
    bool server_ = false;
};

// What was negotiated, for Received: headers, logs and policy decisions.
struct TlsInfo {
    std::string version;         // "TLSv1.3"
    std::string cipher;          // "TLS_AES_256_GCM_SHA384"
    int bits = 0;                // secret bits of the cipher
    bool peer_cert = false;      // the peer presented a certificate
    bool peer_verified = false;  // ... and it chains to a trust anchor (no hostname check)
    std::string verify_error;    // OpenSSL's text when it does not ("" when it does)
    std::string peer_subject;    // RFC 2253 subject of the peer certificate
    bool dane_checked = false;   // the handshake was given TLSA records (TlsDane)
    bool dane_verified = false;  // ... and a usable one matched the peer's chain
    int dane_usage = -1;         // usage of the matching record (2 DANE-TA, 3 DANE-EE)
};

// One TLSA record (RFC 6698 2.1) for a client handshake, as DNS gave it.
struct TlsaData {
    uint8_t usage = 0, selector = 0, matching_type = 0;
    std::string data;            // certificate association data (binary)
};

// DANE authentication of a client handshake with OpenSSL's built-in DANE (RFC 7671,
// RFC 7672 for SMTP): the chain must match one of the records; DANE-EE(3) matches are
// not name-checked (RFC 7672 3.1.1), DANE-TA(2) chains must name one of `names`
// (RFC 7672 3.2.3: the MX host name, and the next-hop domain when the MX was secure).
// The verdict is recorded in TlsInfo::dane_verified; policy decides what to do.
struct TlsDane {
    std::vector<TlsaData> records;
    std::vector<std::string> names;   // reference names; names[0] is the TLSA base domain
};

// A TLS session over a connected socket the caller owns. The descriptor is put in
// non-blocking mode; every call waits with poll() for at most its timeout.
class TlsConnection {
public:
    // Server handshake. Fails (with OpenSSL's reason) on a broken or timed-out handshake.
    static Result<TlsConnection> accept(const TlsContext& ctx, int fd, int timeout_ms);
    // Client handshake. sni_host goes into the SNI extension (when it is a name) and is
    // kept for peer_name_matches().
    // With `dane` (records non-empty), the peer is authenticated by TLSA records only.
    static Result<TlsConnection> connect(const TlsContext& ctx, int fd, const std::string& sni_host,
                                         int timeout_ms, const TlsDane* dane = nullptr);
    TlsConnection(TlsConnection&&) noexcept;
    TlsConnection& operator=(TlsConnection&&) noexcept;
    TlsConnection(const TlsConnection&) = delete;
    TlsConnection& operator=(const TlsConnection&) = delete;
    ~TlsConnection();

    // Bytes read (> 0), 0 at the peer's close, -1 on error or timeout (see timed_out()).
    long read(char* buf, size_t len, int timeout_ms);
    // Writes everything; false on error or timeout.
    bool write_all(std::string_view data, int timeout_ms);
    // Sends close_notify (does not wait long for the peer's).
    void shutdown(int timeout_ms);
    // Decrypted bytes waiting inside OpenSSL: a poll() on the socket would not see them.
    bool has_pending() const;
    bool timed_out() const { return timed_out_; }
    const std::string& last_error() const { return error_; }
    TlsInfo info() const;
    // Client side: the peer certificate is valid for host (RFC 6125 rules, wildcards in
    // the left-most label only). False without a certificate.
    bool peer_name_matches(std::string_view host) const;

    // Adapter for LineReader::set_reader: ctx is a TlsConnection*, whose read timeout
    // is set with set_read_timeout().
    static long line_reader_fn(void* ctx, char* buf, size_t len);
    void set_read_timeout(int timeout_ms) { read_timeout_ms_ = timeout_ms; }

private:
    TlsConnection() = default;
    static Result<TlsConnection> handshake(const TlsContext& ctx, int fd, bool server,
                                           const std::string& sni_host, int timeout_ms,
                                           const TlsDane* dane = nullptr);
    Status enable_dane(const TlsDane& dane);
    bool wait_io(int ssl_error, int timeout_ms);
    ssl_st* ssl_ = nullptr;
    int fd_ = -1;
    bool timed_out_ = false;
    int read_timeout_ms_ = -1;
    std::string error_;
    bool dane_ = false;          // TLSA records were given to this handshake
};

// mkesmtpdcert: a self-signed server certificate and its key, both in one PEM file
// (mode 0600), valid for `days` days with common name and subjectAltName `host`.
// ec = true makes a P-256 key (fast), else RSA 3072.
Status make_self_signed_cert(const std::string& path, const std::string& host, int days,
                             bool ec = false);
