// Local mail filtering (Courier's localmailfilter(7)): when <config>/maildropfilter
// names a program, submit runs it for each local recipient in "mail filter mode" --
// `FILTER -D uid/gid -M rcptfilter[-ext]` at RCPT time, `-M smtpfilter[-ext]` with the
// message on stdin after the data -- and turns its exit status and output into the
// recipient's SMTP reply. aliasfilteracct: an alias is filtered as the owner of that
// folder with `-M rcptfilter-alias-<address>`.
// SECURITY: as in Courier, the filter is NOT run as root nor as the recipient: it runs
// as the mail user (submit's effective uid, real ids set to it too), in a clean
// environment, with the recipient's uid/gid on its command line; a filter that must
// read the recipient's files is installed set-uid root and changes to that uid itself
// (maildrop does). Its output is untrusted: bounded and sanitised before any client
// sees it.
#pragma once
#include <sys/types.h>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include "config/config.h"
#include "lib/submit_client.h"

namespace submit {

enum class FilterPhase { rcpt, smtp };   // -M rcptfilter..., -M smtpfilter...

// Whose filter runs: the recipient's account, or the aliasfilteracct account.
struct FilterAccount {
    uid_t uid = 0;
    gid_t gid = 0;
    std::string home;
    std::string ext;     // address extension ("foo" of user-foo), "alias-<address>" for aliases
};

// What the filter is told about the message (localmailfilter(7), ENVIRONMENT).
struct FilterFacts {
    std::string sender;
    std::string remote_host;   // TCPREMOTEHOST ("" for local mail)
    std::string remote_ip;     // TCPREMOTEIP
};

// "rcptfilter", "rcptfilter-<ext>", "smtpfilter", "smtpfilter-<ext>".
std::string filter_mode(FilterPhase phase, std::string_view ext);
// The address extension of a local part delivered to `account` ("user-foo-bar" to
// "user": "foo-bar"); "" when the local part is the account itself.
std::string address_extension(std::string_view local_part, std::string_view account);
// Courier's argv: basename(program) -D uid/gid -M mode TCPREMOTEHOST TCPREMOTEIP
// sender BOUNCE BOUNCE2 (the last two always empty here).
std::vector<std::string> filter_argv(const std::string& program, const FilterAccount& acct,
                                     FilterPhase phase, const FilterFacts& facts);
// The whole environment: PATH, SHELL, HOME, SENDER, DEFAULT, MAILDIRQUOTA,
// TCPREMOTEHOST, TCPREMOTEIP. Nothing is inherited from submit's caller.
std::vector<std::string> filter_env(const FilterAccount& acct, const FilterFacts& facts);

// The filter's output as reply text: its first non-empty line, any "NNN " or "NNN-"
// prefix removed, control bytes replaced, at most kMaxFilterText bytes.
constexpr size_t kMaxFilterText = 200;
std::string bounded_filter_text(std::string_view output);

enum class FilterVerdict { accept, content_filter, refuse };
struct FilterResult {
    FilterVerdict verdict = FilterVerdict::accept;
    SubmitReply reply;          // for refuse
    std::string why;            // for the log: "exit 0", "exit 99", "exit 75", "timeout", ...
};

// Exit status (wait(2) form) and output to a verdict (localmailfilter(7)):
// rcpt phase: 0 accept (whitelisted), 99 accept and run the content filter later,
// anything else refuses. smtp phase: 0 accepts, anything else refuses.
// A refusal's code is the one the output starts with (4xx/5xx), else 450 for
// EX_TEMPFAIL (75) and 550 for any other exit; its enhanced code the one the text
// starts with when it is of the same class, else 4.7.1/5.7.1. A filter killed by a
// signal (or by the timeout) is a temporary failure, 451 4.3.0.
FilterResult filter_verdict(int wait_status, std::string_view output, FilterPhase phase,
                            const std::string& address);

// The configuration: maildropfilter (an absolute path; anything else is ignored with
// a warning, as in Courier) and aliasfilteracct (a folder).
struct LocalFilterConfig {
    std::string program;          // "" : local mail filtering is off
    std::string alias_account;    // "" : aliases are not filtered
    int timeout_ms = 60000;       // filtertimeout, shared with the global filters
};
LocalFilterConfig load_local_filter_config(const ConfigDir& cfg);

// The account of a folder named in aliasfilteracct (owner uid/gid), nullopt when it
// cannot be examined.
std::optional<FilterAccount> alias_filter_account(const std::string& dir, const std::string& alias);
// The recipient's account from the password database, nullopt for no such account.
std::optional<FilterAccount> recipient_filter_account(const std::string& account,
                                                      const std::string& address);

// Runs the filter once and waits at most timeout_ms (then kills its process group).
// stdin_fd: the message for the smtp phase (read from offset 0), -1 for /dev/null.
FilterResult run_local_filter(const std::string& program, const FilterAccount& acct,
                              FilterPhase phase, const FilterFacts& facts, int stdin_fd,
                              int timeout_ms, const std::string& address);

}  // namespace submit
