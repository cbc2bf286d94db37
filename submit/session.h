// One submit process's conversation with its caller: the state machine of
// doc/architecture.md, "The submit protocol" (session facts, mail, rcpt, data and
// chunks, rset, quit), which turns each message into a durable queue file.
// SECURITY: the caller is another local process (courieresmtpd as the mail user,
// sendmail as any user); every line and value from it is bounded and checked here.
#pragma once
#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <unordered_set>
#include "config/config.h"
#include "lib/backscatter.h"
#include "lib/lineio.h"
#include "lib/queue.h"
#include "lib/submit_client.h"
#include "submit/aliases.h"
#include "submit/bofh.h"
#include "submit/spf_check.h"
#include "submit/message_auth.h"
#include "submit/filtering.h"
#include "submit/local_filter.h"
#include "submit/message_buffer.h"
#include "submit/protocol.h"
#include "submit/recipients.h"
#include "submit/spool_writer.h"

namespace submit {

struct SubmitOptions {
    std::string source;                 // esmtp, local, dsn, forward
    std::string spool_dir;              // paths().spool
    std::string config_dir;             // paths().config
    uint64_t size_limit = 10485760;     // 0: no limit
    bool size_limit_fixed = false;      // SIZELIMIT was set: no vhost's sizelimit applies
    size_t max_rcpts = 10000;
    size_t max_line = 16 * 1024;
    size_t memory_limit = 512 * 1024;   // message bytes held in memory before spilling
    int read_timeout_ms = 60 * 60 * 1000;
    AccountExists account_exists = system_account_exists;
    // A caller that is not root or the mail user (sendmail run by a local user through
    // the set-uid submit): its session facts are ignored and its account is recorded.
    bool trusted = true;
    std::string local_user;             // account of the real uid, for local submissions
    long local_uid = -1;
    std::string aliases_db;             // default: <config>/aliases.dat
};

bool valid_source(std::string_view source);

class SubmitSession {
public:
    SubmitSession(int in_fd, int out_fd, SubmitOptions opts);
    // Serves commands until quit or end of input; returns the exit code (sysexits).
    int run();

private:
    // What the caller told us about the connection ("session <key> <value>").
    struct Facts {
        std::string remote_ip, remote_host, remote_port, helo, local_ip, local_port;
        std::string protocol, auth, tls;
        bool relay = false;
        std::string dnswl;   // the -allow zone that whitelisted the client (SPF allowok)
    };
    enum class DataEnd { done, rset, quit, eof, protocol_error };

    void on_session(const CommandLine& cmd);
    SubmitReply on_mail(const CommandLine& cmd);
    SubmitReply on_rcpt(const CommandLine& cmd);
    SubmitReply add_alias(const std::string& address, const std::vector<std::string>& targets,
                          const RcptParams& params);
    bool add_rcpt(QueueRecipient r, const RcptParams& params, SubmitReply* refusal);
    DataEnd read_data();
    DataEnd read_chunk(uint64_t n);
    SubmitReply finish_message();
    SubmitReply queue_message();
    std::string vhost_for(const std::string& local_ip);
    std::string initial_status(std::time_t now);
    void reset_message();
    bool send(const SubmitReply& r);
    bool send_line(const std::string& line);
    void log_refusal(std::string_view what, const SubmitReply& r, std::string_view rule = "");
    const BofhConfig& bofh();                       // read once per process
    std::optional<SubmitReply> sender_policy(const std::string& sender);   // bofh, at MAIL
    std::optional<SubmitReply> content_policy();    // bofh, at the end of data
    // The spamtrap rule matching a routed address (local: the local part at me).
    std::optional<std::string> spamtrap_for(const std::string& address, bool local_mailbox);
    bool backscatter_blocked(const std::string& address);
    // SPF (spf_session.cc, submit/spf_check.h).
    SpfChecker& spf();
    std::optional<SubmitReply> spf_at_mail(const std::string& sender, const std::string& me);
    Status spf_append(std::string_view raw);      // a chunk, Received-SPF renamed
    Status spf_finish_body();                     // the last bytes, then body_.finish()
    std::optional<SubmitReply> spf_at_data_end(); // the From: check
    std::string spf_headers();                    // Received-SPF: fields of this message
    std::optional<SubmitReply> authenticate();    // DKIM/DMARC (message_auth_session.cc)
    // Local mail filtering (local_filter_session.cc, localmailfilter(7)).
    bool local_filtering();                       // maildropfilter set, source in enablefiltering
    std::optional<SubmitReply> rcpt_filter(const QueueRecipient& r);      // rcptfilter
    std::optional<SubmitReply> alias_filter(const std::string& alias);    // aliasfilteracct
    std::optional<SubmitReply> filter_class(bool content_filtered, const std::string& address);
    std::optional<SubmitReply> content_filters();  // smtpfilter, at the end of data

    SubmitOptions opts_;
    LineReader in_;
    int out_fd_;
    ConfigDir cfg_;
    VhostConfigCache vhosts_;
    AliasTable aliases_;
    SpoolWriter spool_;
    MessageBuffer body_;
    Facts facts_;
    std::string vhost_ip_, vhost_key_;   // last vhost lookup, so it is made once per ip
    bool vhost_known_ = false;
    std::optional<long> submit_delay_;   // seconds, read once
    BackscatterList backscatter_;
    std::optional<std::vector<std::string>> backscatter_sources_;   // the bofh file, read once
    std::optional<BofhConfig> bofh_;
    std::optional<SpfChecker> spf_;      // built from bofh_ on first use
    std::string spf_piece_;              // a chunk after the Received-SPF filter
    size_t rcpts_accepted_ = 0;          // RCPT commands accepted for this message (maxrcpts)
    std::string spamtrap_rule_;          // set when a recipient was a spamtrap
    ContentScanner content_;             // BOFHHEADERLIMIT, BOFHNOBASE64TEXT

    // The message in progress.
    bool have_mail_ = false;
    QueueEnvelope env_;
    std::unordered_set<std::string> rcpt_seen_;
    Status data_error_ = ok_status();
    std::string piece_;                  // chunk bytes being read
    FilterOutcome filtered_;             // the global filters' verdict on this message
    AuthOutcome auth_;                   // DKIM signatures or Authentication-Results:, DMARC hold
    // Local mail filtering: read once per process; per message, whether its recipients
    // are "whitelisted" (rcptfilter 0) or content-filtered (99): never both (Courier).
    std::optional<LocalFilterConfig> local_filter_cfg_;
    std::optional<bool> local_filter_source_;
    int filter_class_ = 0;               // 0 none yet, 1 whitelisted, 2 content-filtered
    std::vector<std::pair<std::string, FilterAccount>> content_filtered_;   // address, account
};

}  // namespace submit
