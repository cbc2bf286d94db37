// courieresmtpd: the ESMTP server of one connection, started by couriertcpd with the
// socket on stdin/stdout. Each message goes to the queue through one submit process.
// SECURITY: runs as the mail user (couriertcpd has already dropped privileges; when
// started as root anyway it drops to the mail user first). Everything read from the
// socket is untrusted; submit alone decides which recipients are accepted.
#include <csignal>
#include <sysexits.h>
#include <unistd.h>
#include "config/config.h"
#include "esmtp/smtp_server.h"
#include "esmtp/smtpd_config.h"
#include "lib/lineio.h"
#include "lib/log.h"
#include "lib/paths.h"
#include "lib/process.h"
#include "lib/submit_client.h"

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
    const int timeout_ms = idle_timeout_ms(process_env);

    SubmitSink sink;
    SmtpSession session(std::move(cfg), sink);
    LineReader in(STDIN_FILENO, kMaxCommandLine - 1);   // the limit excludes the LF
    run_smtp_session(session, in,
                     [timeout_ms](std::string_view bytes) {
                         return write_to_client(STDOUT_FILENO, bytes, timeout_ms);
                     },
                     timeout_ms);
    return EX_OK;
}
