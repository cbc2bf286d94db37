// courieresmtpd: the ESMTP server of one connection, started by couriertcpd with the
// socket on stdin/stdout. Each message goes to the queue through one submit process.
// With ESMTP_IMPLICIT_TLS=1 (esmtpd-ssl, port 465, RFC 8314) TLS starts with the first
// byte; otherwise STARTTLS is offered when a certificate is configured.
// SECURITY: runs as the mail user (couriertcpd has already dropped privileges; when
// started as root anyway it drops to the mail user first). Everything read from the
// socket is untrusted; submit alone decides which recipients are accepted. The TLS
// key and the userdb are opened after the privilege drop, so they must be readable by
// the mail user (and by nobody else).
#include <csignal>
#include <memory>
#include <sysexits.h>
#include <unistd.h>
#include "config/config.h"
#include "courierd/trigger.h"
#include "esmtp/auth_pam.h"
#include "esmtp/auth_userdb.h"
#include "esmtp/smtp_server.h"
#include "esmtp/smtpd_guards.h"
#include "esmtp/smtpd_config.h"
#include "lib/fileio.h"
#include "lib/lineio.h"
#include "lib/log.h"
#include "lib/paths.h"
#include "lib/process.h"
#include "lib/submit_client.h"
#include "lib/tls.h"

namespace {
// The program's MessageSink: one submit process per connection, started by
// SubmitClient at the first MAIL.
class SubmitSink : public MessageSink {
public:
    SubmitSink() : client_("esmtp") {}
    void set_session(std::string k, std::string v) override { client_.set_session(std::move(k), std::move(v)); }
    SubmitReply mail(std::string_view s, std::string_view p) override { return client_.mail(s, p); }
    SubmitReply rcpt(std::string_view a, std::string_view p) override { return client_.rcpt(a, p); }
    Status send_data(std::string_view bytes) override { return client_.send_data(bytes); }
    SubmitReply finish() override { return client_.finish(); }
    void reset() override { client_.reset(); }
    void quit() override { client_.quit(); }

private:
    SubmitClient client_;
};

// The connection: plain until a TLS handshake, then everything goes through TLS.
struct Connection {
    LineReader in{STDIN_FILENO, kMaxAuthLine - 1};   // the limit excludes the LF
    std::optional<TlsContext> tls_ctx;
    std::optional<TlsConnection> tls;
    int write_timeout_ms = 300000;

    bool write(std::string_view bytes) {
        if (tls) return tls->write_all(bytes, write_timeout_ms);
        return write_to_client(STDOUT_FILENO, bytes, write_timeout_ms);
    }

    std::optional<TlsInfo> start_tls() {
        if (!tls_ctx) return std::nullopt;
        auto conn = TlsConnection::accept(*tls_ctx, STDIN_FILENO, write_timeout_ms);
        if (!conn) {
            log_warning("tls status=failed client=" + log_safe(process_env("TCPREMOTEIP").value_or("")) +
                        " error=" + log_safe(conn.error().text));
            return std::nullopt;
        }
        tls.emplace(std::move(*conn));
        in.discard_buffered();
        in.set_reader(&TlsConnection::line_reader_fn, &*tls);
        TlsInfo info = tls->info();
        log_info("tls status=ok client=" + log_safe(process_env("TCPREMOTEIP").value_or("")) + " version=" +
                 info.version + " cipher=" + info.cipher +
                 (info.peer_cert ? " client-cert=" + log_safe(info.peer_subject) +
                                       (info.peer_verified ? " verified=yes" : " verified=no") : ""));
        return info;
    }
};

std::unique_ptr<esmtp::AuthBackend> make_auth_backend(const ServerSettings& s) {
    if (s.auth_backend == "pam") return std::make_unique<esmtp::PamBackend>(s.pam_service);
    if (s.auth_backend == "userdb") {
        if (!path_exists(s.userdb_path)) return nullptr;   // no accounts: AUTH not offered
        return std::make_unique<esmtp::UserDbBackend>(s.userdb_path);
    }
    return nullptr;
}
}  // namespace

int main() {
    log_open("courieresmtpd");
    // A client that hangs up must not kill us mid-reply; write errors are handled.
    ::signal(SIGPIPE, SIG_IGN);
    if (Status s = drop_to_mail_user(); !s) {
        static const char refusal[] = "421 4.3.0 Server configuration error\r\n";
        (void)write_to_client(STDOUT_FILENO, refusal, 5000);
        log_fatal("cannot drop to the mail user: " + s.error().text, EX_CONFIG);
    }
    ConfigDir config(paths().config);
    SessionConfig cfg = load_session_config(config, process_env);
    // The connection event of doc/logging.md: the client as couriertcpd saw it (after a
    // PROXY header, the original client); later lines of this pid belong to it.
    auto env_of = [](const char* n) { return log_safe(process_env(n).value_or("")); };
    log_info("connect client=" + env_of("TCPREMOTEIP") + " port=" + env_of("TCPREMOTEPORT") +
             " host=" + env_of("TCPREMOTEHOST") + " local=" + env_of("TCPLOCALIP") + ":" +
             env_of("TCPLOCALPORT"));
    ServerSettings server = load_server_settings(config, process_env);

    Connection conn;
    conn.write_timeout_ms = cfg.command_timeout_ms;
    if (!server.tls.cert_file.empty()) {
        auto ctx = TlsContext::server(server.tls);
        if (ctx) conn.tls_ctx.emplace(std::move(*ctx));
        else log_warning("STARTTLS disabled: " + log_safe(ctx.error().text));
    }
    if (server.implicit_tls && !conn.tls_ctx) {
        log_fatal("ESMTP_IMPLICIT_TLS is set but no usable certificate (TLS_CERTFILE)", EX_CONFIG);
    }
    cfg.tls_available = conn.tls_ctx.has_value();
    auto backend = make_auth_backend(server);

    SubmitSink sink;
    SmtpSession session(std::move(cfg), sink);
    session.set_auth_backend(backend.get());
    // The guards' probes (smtpd_guards.h) and ETRN's way to courierd: the trigger FIFO.
    session.spool_available_kb = [] { return available_kb(paths().spool); };
    session.load_average = [] { return one_minute_load(); };
    session.request_etrn = [](const std::string& domain) {
        Status s = send_trigger_notice(paths().trigger_fifo(), format_etrn_notice(domain));
        if (!s) log_warning("etrn: cannot reach courierd: " + log_safe(s.error().text));
        return static_cast<bool>(s);
    };

    SmtpIo io;
    io.in = &conn.in;
    io.write = [&conn](std::string_view b) { return conn.write(b); };
    io.start_tls = [&conn]() { return conn.start_tls(); };
    io.input_pending = [&conn]() { return conn.tls && conn.tls->has_pending(); };
    io.read_timed_out = [&conn]() { return conn.tls && conn.tls->timed_out(); };
    io.reader_waits = [&conn]() { return conn.tls.has_value(); };
    io.set_read_timeout = [&conn](int ms) {
        if (conn.tls) conn.tls->set_read_timeout(ms);
    };
    io.session_limit_ms = server.session_limit_s * 1000;
    if (server.implicit_tls) {
        // RFC 8314 3.3: no greeting until the handshake is done; a failed one ends it.
        auto info = conn.start_tls();
        if (!info) return EX_OK;
        session.on_tls_started(*info);
    }
    run_smtp_session(session, io);
    if (conn.tls) conn.tls->shutdown(1000);
    return EX_OK;
}
