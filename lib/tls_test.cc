// Unit tests for lib/tls.h: a real handshake over a socketpair, with a certificate
// made by make_self_signed_cert (the code of mkesmtpdcert).
#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include "lib/fileio.h"
#include "lib/tls.h"
#include "lib/unique_fd.h"

namespace {
struct TempCert {
    std::string dir, path;
    TempCert() {
        char tmpl[] = "/tmp/tls_test.XXXXXX";
        dir = ::mkdtemp(tmpl);
        path = dir + "/esmtpd.pem";
        REQUIRE(make_self_signed_cert(path, "mx.example.test", 30, true).ok());
    }
    ~TempCert() {
        ::unlink(path.c_str());
        ::rmdir(dir.c_str());
    }
};
}  // namespace

TEST_CASE("TLS: server and client handshake, data both ways, negotiated facts") {
    TempCert cert;
    auto server_ctx = TlsContext::server({.cert_file = cert.path});
    REQUIRE(server_ctx.ok());
    auto client_ctx = TlsContext::client({.ca_file = cert.path});
    REQUIRE(client_ctx.ok());
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    UniqueFd a(sv[0]), b(sv[1]);

    std::string server_got;
    TlsInfo server_info;
    std::thread server([&] {
        auto conn = TlsConnection::accept(*server_ctx, a.get(), 5000);
        if (!conn) return;
        server_info = conn->info();
        char buf[100];
        long n = conn->read(buf, sizeof buf, 5000);
        if (n > 0) server_got.assign(buf, static_cast<size_t>(n));
        (void)conn->write_all("250 hello\r\n", 5000);
        conn->shutdown(1000);
    });
    auto conn = TlsConnection::connect(*client_ctx, b.get(), "mx.example.test", 5000);
    REQUIRE(conn.ok());
    CHECK(conn->write_all("EHLO x\r\n", 5000));
    char buf[100];
    long n = conn->read(buf, sizeof buf, 5000);
    server.join();
    REQUIRE(n > 0);
    CHECK(std::string(buf, static_cast<size_t>(n)) == "250 hello\r\n");
    CHECK(server_got == "EHLO x\r\n");
    CHECK(conn->read(buf, sizeof buf, 5000) == 0);   // close_notify
    TlsInfo info = conn->info();
    CHECK(info.version == "TLSv1.3");
    CHECK(!info.cipher.empty());
    CHECK(info.bits >= 128);
    CHECK(info.peer_cert);
    CHECK(info.peer_verified);
    CHECK(info.peer_subject == "CN=mx.example.test");
    CHECK(conn->peer_name_matches("mx.example.test"));
    CHECK(conn->peer_name_matches("MX.example.test."));
    CHECK_FALSE(conn->peer_name_matches("other.example.test"));
    CHECK(server_info.version == "TLSv1.3");
    CHECK_FALSE(server_info.peer_cert);
}

TEST_CASE("TLS: an untrusted certificate is reported, not refused, by the client") {
    TempCert cert;
    auto server_ctx = TlsContext::server({.cert_file = cert.path});
    REQUIRE(server_ctx.ok());
    char tmpl[] = "/tmp/tls_test_ca.XXXXXX";
    std::string other_dir = ::mkdtemp(tmpl);
    std::string other = other_dir + "/other.pem";
    REQUIRE(make_self_signed_cert(other, "ca.example.test", 30, true).ok());
    auto client_ctx = TlsContext::client({.ca_file = other});
    REQUIRE(client_ctx.ok());
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    UniqueFd a(sv[0]), b(sv[1]);
    std::thread server([&] {
        auto conn = TlsConnection::accept(*server_ctx, a.get(), 5000);
        if (conn) conn->shutdown(1000);
    });
    auto conn = TlsConnection::connect(*client_ctx, b.get(), "mx.example.test", 5000);
    server.join();
    REQUIRE(conn.ok());
    TlsInfo info = conn->info();
    CHECK(info.peer_cert);
    CHECK_FALSE(info.peer_verified);
    CHECK(!info.verify_error.empty());
    ::unlink(other.c_str());
    ::rmdir(other_dir.c_str());
}

TEST_CASE("TLS: TLS 1.1 clients are refused") {
    TempCert cert;
    auto server_ctx = TlsContext::server({.cert_file = cert.path});
    REQUIRE(server_ctx.ok());
    // A client limited to TLS 1.1 (with cipher security level 0 so OpenSSL lets it try).
    auto client_ctx = TlsContext::client({.ciphers = "ALL:@SECLEVEL=0"});
    REQUIRE(client_ctx.ok());
    SSL_CTX_set_min_proto_version(client_ctx->native(), TLS1_VERSION);
    SSL_CTX_set_max_proto_version(client_ctx->native(), TLS1_1_VERSION);
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    UniqueFd a(sv[0]), b(sv[1]);
    bool server_ok = true;
    std::thread server([&] {
        auto conn = TlsConnection::accept(*server_ctx, a.get(), 5000);
        server_ok = conn.ok();
        a.reset();
    });
    auto conn = TlsConnection::connect(*client_ctx, b.get(), "mx.example.test", 5000);
    server.join();
    CHECK_FALSE(conn.ok());
    CHECK_FALSE(server_ok);
}

TEST_CASE("TLS: missing or mismatched certificate files are errors") {
    CHECK_FALSE(TlsContext::server({}).ok());
    CHECK_FALSE(TlsContext::server({.cert_file = "/nonexistent/cert.pem"}).ok());
    CHECK_FALSE(TlsContext::server({.cert_file = "/dev/null"}).ok());
}

TEST_CASE("TLS: client certificates, optional and required") {
    TempCert server_cert;
    char tmpl[] = "/tmp/tls_test_client.XXXXXX";
    std::string dir = ::mkdtemp(tmpl);
    std::string client_pem = dir + "/client.pem";
    REQUIRE(make_self_signed_cert(client_pem, "client.example.test", 30, true).ok());
    auto run = [&](const TlsContext& server_ctx, const TlsContext& client_ctx, TlsInfo* server_info) {
        int sv[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
        UniqueFd a(sv[0]), b(sv[1]);
        bool ok = false;
        std::thread server([&] {
            auto conn = TlsConnection::accept(server_ctx, a.get(), 5000);
            ok = conn.ok();
            if (conn) {
                *server_info = conn->info();
                // TLS 1.3: the client learns of a refused certificate at its first read.
                (void)conn->write_all("220 ok\r\n", 5000);
            }
            a.reset();
        });
        auto conn = TlsConnection::connect(client_ctx, b.get(), "mx.example.test", 5000);
        if (conn) {
            char buf[16];
            (void)conn->read(buf, sizeof buf, 5000);
        }
        server.join();
        return ok;
    };
    auto with_cert = TlsContext::client({.cert_file = client_pem});
    auto without = TlsContext::client({});
    REQUIRE(with_cert.ok());
    REQUIRE(without.ok());

    auto optional = TlsContext::server(
        {.cert_file = server_cert.path, .ca_file = client_pem, .request_client_cert = true});
    REQUIRE(optional.ok());
    TlsInfo info;
    CHECK(run(*optional, *with_cert, &info));
    CHECK(info.peer_cert);
    CHECK(info.peer_verified);
    CHECK(info.peer_subject == "CN=client.example.test");
    info = TlsInfo{};
    CHECK(run(*optional, *without, &info));
    CHECK_FALSE(info.peer_cert);

    auto required = TlsContext::server(
        {.cert_file = server_cert.path, .ca_file = client_pem, .require_client_cert = true});
    REQUIRE(required.ok());
    CHECK(run(*required, *with_cert, &info));
    CHECK_FALSE(run(*required, *without, &info));
    ::unlink(client_pem.c_str());
    ::rmdir(dir.c_str());
}

namespace {
// SHA-256 of the certificate's SubjectPublicKeyInfo: TLSA "3 1 1" data (RFC 6698 2.1).
std::string spki_sha256(const std::string& pem_path) {
    FILE* f = std::fopen(pem_path.c_str(), "r");
    REQUIRE(f);
    X509* x = PEM_read_X509(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    REQUIRE(x);
    unsigned char* der = nullptr;
    int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
    unsigned char md[32];
    unsigned mdlen = 0;
    EVP_Digest(der, static_cast<size_t>(len), md, &mdlen, EVP_sha256(), nullptr);
    OPENSSL_free(der);
    X509_free(x);
    return std::string(reinterpret_cast<char*>(md), mdlen);
}

// One handshake against the test certificate with the given TLSA records.
TlsInfo dane_handshake(const TempCert& cert, const TlsDane& dane) {
    auto server_ctx = TlsContext::server({.cert_file = cert.path});
    REQUIRE(server_ctx.ok());
    auto client_ctx = TlsContext::client({.ca_dir = "/nonexistent"});   // no PKIX trust at all
    REQUIRE(client_ctx.ok());
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    UniqueFd a(sv[0]), b(sv[1]);
    std::thread server([&] {
        auto conn = TlsConnection::accept(*server_ctx, a.get(), 5000);
        if (conn) conn->shutdown(1000);
    });
    auto conn = TlsConnection::connect(*client_ctx, b.get(), "mx.example.test", 5000, &dane);
    server.join();
    REQUIRE(conn.ok());
    return conn->info();
}
}  // namespace

TEST_CASE("TLS: DANE-EE records decide the verdict, without name checks (RFC 7672 3.1.1)") {
    TempCert cert;
    std::string digest = spki_sha256(cert.path);
    TlsInfo ok = dane_handshake(cert, {{{3, 1, 1, digest}}, {"other-name.example.test"}});
    CHECK(ok.dane_checked);
    CHECK(ok.dane_verified);
    CHECK(ok.dane_usage == 3);
    std::string wrong = digest;
    wrong[0] = static_cast<char>(wrong[0] ^ 1);
    TlsInfo bad = dane_handshake(cert, {{{3, 1, 1, wrong}}, {"mx.example.test"}});
    CHECK(bad.dane_checked);
    CHECK_FALSE(bad.dane_verified);
    CHECK_FALSE(bad.peer_verified);
    // Records OpenSSL cannot use (here: an unknown matching type) are no basis for DANE:
    // the handshake is not even started.
    auto client_ctx = TlsContext::client({});
    REQUIRE(client_ctx.ok());
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    UniqueFd a(sv[0]), b(sv[1]);
    TlsDane unusable{{{3, 1, 9, digest}}, {"mx.example.test"}};
    auto conn = TlsConnection::connect(*client_ctx, b.get(), "mx.example.test", 1000, &unusable);
    REQUIRE_FALSE(conn.ok());
    CHECK(conn.error().text == "no usable TLSA record");
}
