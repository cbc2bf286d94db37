// SMTP on standard input for local programs: sendmail -bs (interactive, replies on
// standard output, RFC 5321 with PIPELINING, 8BITMIME, DSN and ENHANCEDSTATUSCODES)
// and sendmail -bS, batched SMTP as ZMailer's smtpserver -i reads it: a stream of
// transactions, each message queued on its own, refusals reported and counted.
// SECURITY: runs as the local user; everything goes through submit, which checks it.
#pragma once
#include <string>
#include <string_view>
#include "lib/result.h"
#include "lib/submit_client.h"

namespace submit {

// The queue as the SMTP conversation sees it (SubmitClient, or a fake in tests).
class SmtpQueue {
public:
    virtual ~SmtpQueue() = default;
    virtual SubmitReply mail(std::string_view sender, std::string_view params) = 0;
    virtual SubmitReply rcpt(std::string_view address, std::string_view params) = 0;
    virtual Status send_data(std::string_view bytes) = 0;
    virtual SubmitReply finish() = 0;
    virtual void reset() = 0;
};

class LocalSmtp {
public:
    LocalSmtp(SmtpQueue& queue, std::string me, bool batch);
    std::string greeting() const;
    // One input line without its LF (a trailing CR is removed here). Returns the
    // reply lines to write (CRLF-terminated), "" when there is none.
    std::string on_line(std::string_view line);
    std::string on_eof();           // input ended: abandons an unfinished message
    bool done() const { return done_; }
    unsigned failures() const { return failures_; }     // messages or commands refused
    unsigned queued() const { return queued_; }

private:
    std::string command(std::string_view line);
    std::string data_line(std::string_view line);
    std::string reply(const SubmitReply& r);
    std::string fail(std::string_view text);

    SmtpQueue& q_;
    std::string me_;
    bool batch_;
    bool done_ = false, in_data_ = false, have_mail_ = false, data_failed_ = false;
    unsigned rcpts_ = 0, failures_ = 0, queued_ = 0;
    std::string pending_;    // message bytes not yet handed to the queue
};

// MAIL/RCPT parameters of SMTP as the submit protocol takes them; false (and the
// reply in *error) for one that is unknown. SIZE and AUTH are dropped.
bool smtp_params_to_submit(std::string_view smtp, bool mail, std::string* out, SubmitReply* error);

}  // namespace submit
