// One local delivery: the account named by the request's host field, the checks the
// parent makes before it forks, and the work the child does as the recipient (switch
// ids, read the envelope from the inherited queue file descriptor, write the Maildir).
// SECURITY: the parent runs as root and only looks accounts up; everything that
// touches a home directory runs after become_user() in the child (architecture.md,
// "Privileges"). uid 0 is never a recipient.
#pragma once
#include <sys/types.h>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include "lib/module_protocol.h"
#include "lib/queue.h"
#include "lib/result.h"

class ConfigDir;

struct Account {
    std::string name;
    uid_t uid = 0;
    gid_t gid = 0;
    std::string home;
};

struct AccountLookup {
    enum class Kind { found, unknown, error };
    Kind kind = Kind::unknown;
    Account account;      // kind == found
    std::string error;    // kind == error: why the lookup itself failed
};
// getpwnam_r: a missing entry is `unknown`, a failing passwd source is `error`.
AccountLookup lookup_account(const std::string& name);

// Who the module runs as: root switches to each recipient, anyone else delivers only
// to their own account.
struct RunningAs {
    bool root = false;
    uid_t uid = 0;
};
RunningAs running_as();

// The parent's verdict before forking: nullopt when the delivery may go ahead, else
// the result every recipient of the delivery gets.
std::optional<DeliveryResult> refuse_account(const AccountLookup& lookup, const RunningAs& self,
                                             unsigned long id, const DeliveryRequest::Rcpt& rcpt);

// Reply text for a failed Maildir or queue file operation: a full disk or quota is
// "452 4.2.2", another system error "451 4.2.0", an error without errno (a damaged
// queue file) "451 4.3.0".
std::string failure_reply(const Error& e);
// "250 2.0.0 delivered to <maildir>".
std::string success_reply(const std::string& maildir);
// The Maildir of an account (DEFAULTDELIVERY will choose it later).
std::string maildir_of(const Account& account);

// Reads and parses the envelope at the start of an open queue file (pread; the
// descriptor's offset is unchanged). *data_offset receives where the message starts.
Result<QueueEnvelope> read_envelope_from_fd(int fd, size_t* data_offset);

// What the administrator configured for local deliveries (courier(8)): DEFAULTDELIVERY
// of the courierd file (the instructions used when there is no .courier file; built in
// "./Maildir/"), dotextension (the name of .courier files), locallowercase,
// localtimeout (programs; default 15 minutes) and maildrop (the program given the
// "-A DTLINE -A RPLINE -f sender" arguments instead of a shell when a "|" line names it).
struct LocalConfig {
    std::string default_delivery = "./Maildir/";
    std::string dotname = "courier";
    bool lowercase = false;
    long timeout_s = 900;
    std::string maildrop;
    static LocalConfig load(const ConfigDir& cfg);
};

struct ChildSetup {
    bool switch_user = false;     // true when running as root
    std::string hostname;         // for Maildir unique names
    LocalConfig config;
    int forward_fd = -1;          // socket to the forwarding sibling (forward.h)
    // Journal of steps (program, mbox and forward instructions) that succeeded in an
    // earlier attempt of the same delivery: they are not repeated. step_done is called
    // as each such step succeeds.
    std::set<std::string> done_steps;
    std::function<void(size_t index, const std::string& key)> step_done;
};
// Journal key of instruction `n` (its text) for recipient `index` of queue id `qid`.
std::string step_key(const std::string& qid, size_t index, size_t n, const std::string& text);

// The child's work: becomes the recipient (when switch_user), enters the home
// directory, then carries out each recipient's delivery instructions (its .courier
// file, else DEFAULTDELIVERY), calling `report` once per recipient as soon as its
// outcome is known.
void deliver_as_recipient(const DeliveryRequest& req, const Account& account, int queue_fd,
                          const ChildSetup& setup,
                          const std::function<void(const DeliveryResult&)>& report);
