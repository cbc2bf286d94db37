// SubmitSession's message authentication step (submit/message_auth.h): at the end of
// data, once the bofh and SPF checks have passed, the complete message is signed or
// verified; the outcome (headers, a hold, a DMARC refusal) is used by queue_message().
#include <sys/mman.h>
#include <unistd.h>
#include "lib/fileio.h"
#include "lib/log.h"
#include "submit/session.h"

namespace submit {

namespace {

constexpr uint64_t kMaxAuthenticatedSize = 64 * 1024 * 1024;

// The whole message as text. A message that spilled to disk is copied through an
// anonymous memory file: MessageBuffer only writes itself to a descriptor.
Result<std::string> whole_message(MessageBuffer& body) {
    if (!body.spilled()) return std::string(body.in_memory());
    UniqueFd fd(::memfd_create("submit-message", MFD_CLOEXEC));
    if (!fd.valid()) return sys_error("memfd_create");
    if (Status st = body.write_to(fd.get()); !st) return st.error();
    std::string text(size_t(body.size()), '\0');
    size_t got = 0;
    while (got < text.size()) {
        ssize_t n = ::pread(fd.get(), text.data() + got, text.size() - got, off_t(got));
        if (n <= 0) return sys_error("reading the message back");
        got += size_t(n);
    }
    return text;
}

}  // namespace

std::optional<SubmitReply> SubmitSession::authenticate() {
    MessageAuthContext c;
    c.source = opts_.source;
    c.authenticated = !facts_.auth.empty();
    c.relay = facts_.relay;
    c.authserv_id = vhosts_.get(env_.vhost).me;
    c.remote_ip = facts_.remote_ip;
    c.helo = facts_.helo;
    c.sender = env_.sender;
    c.spf_mailfrom = spf().result(SpfIdentity::mailfrom);
    c.spf_helo = spf().result(SpfIdentity::helo);
    if (auth_job(c) == AuthJob::none) return std::nullopt;
    // Signing and checking need the whole message in memory: a huge one (possible with
    // sizelimit 0) goes on unsigned and unchecked rather than exhausting memory.
    if (body_.size() > kMaxAuthenticatedSize) {
        log_warning("submit: dkim: message of " + std::to_string(body_.size()) +
                    " bytes not signed or checked (limit " + std::to_string(kMaxAuthenticatedSize) + ")");
        return std::nullopt;
    }
    auto text = whole_message(body_);
    if (!text) {
        log_error("submit: dkim: " + text.error().text);
        return SubmitReply{451, "4.3.0 Cannot read the message"};
    }
    MessageAuthSettings settings = load_message_auth_settings(cfg_);
    for (const auto& e : settings.errors) log_warning("submit: " + log_safe(e));
    auth_ = authenticate_message(cfg_, settings, c, *text, MessageAuthLookups::real(), ::time(nullptr));
    if (auth_.rewritten) {   // forged Authentication-Results: removed
        body_.reset();
        Status st = body_.append(*auth_.rewritten);
        if (st) st = body_.finish();
        if (!st) {
            log_error("submit: dkim: " + st.error().text);
            return SubmitReply{451, "4.3.0 Cannot store the message"};
        }
    }
    return auth_.reply;
}

}  // namespace submit
