// submit's side of local mail filtering (localmailfilter(7)): the rcptfilter run for
// each local recipient and for aliases (aliasfilteracct), and the smtpfilter run for
// the recipients that asked for it, once the message is complete. Only for mail from
// a source listed in enablefiltering, as in Courier; nothing runs without maildropfilter.
#include <fcntl.h>
#include <unistd.h>
#include <algorithm>
#include "lib/address.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "submit/session.h"

namespace submit {

namespace {

const char* verdict_name(FilterVerdict v) {
    switch (v) {
    case FilterVerdict::accept: return "accept";
    case FilterVerdict::content_filter: return "content";
    case FilterVerdict::refuse: return "refuse";
    }
    return "?";
}

void log_filter_run(const std::string& address, const FilterAccount& acct, FilterPhase phase,
                    const FilterResult& r) {
    log_info("localfilter rcpt=" + log_safe(address) + " mode=" + log_safe(filter_mode(phase, acct.ext)) +
             " uid=" + std::to_string(acct.uid) + " result=" + verdict_name(r.verdict) +
             " why=" + log_safe(r.why) + " rule=maildropfilter" +
             (r.verdict == FilterVerdict::refuse ? " reply=" + log_safe(r.reply.line()) : ""));
}

// The message for smtpfilter's stdin: an unnamed file in spool/tmp, so nothing is
// left behind whatever happens to this process.
Result<UniqueFd> message_file(const std::string& spool_dir, MessageBuffer& body) {
    std::string dir = spool_dir + "/tmp";
    int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
        std::string name = dir + "/L" + std::to_string(::getpid()) + ".msg";
        fd = ::open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) ::unlink(name.c_str());
    }
    if (fd < 0) return sys_error("cannot create the filter's message file in " + dir);
    UniqueFd owned(fd);
    Status st = body.write_to(owned.get());
    if (!st) return st.error();
    return owned;
}

}  // namespace

bool SubmitSession::local_filtering() {
    if (!local_filter_cfg_) {
        local_filter_cfg_ = load_local_filter_config(cfg_);
        if (!local_filter_cfg_->program.empty()) {
            FilterSettings fs = load_filter_settings(cfg_);
            local_filter_cfg_->timeout_ms = fs.timeout_ms;
            // Courier: mail from a source not in enablefiltering (and notices) is whitelisted.
            local_filter_source_ = opts_.source != "dsn" && fs.sources.covers(opts_.source);
        }
    }
    return !local_filter_cfg_->program.empty() && local_filter_source_.value_or(false);
}

// Courier keeps a message's recipients all whitelisted or all content-filtered, so one
// answer after the data fits them all; a recipient of the other kind is deferred to a
// transaction of its own (452: the client sends it again, RFC 5321 4.5.3.1.10).
std::optional<SubmitReply> SubmitSession::filter_class(bool content_filtered, const std::string& address) {
    int want = content_filtered ? 2 : 1;
    if (filter_class_ != 0 && filter_class_ != want)
        return SubmitReply{452, "4.5.3 <" + address + ">: " +
                                    (content_filtered ? "content-filtered recipient"
                                                      : "whitelisted recipient") +
                                    ", send it in a separate message"};
    filter_class_ = want;
    return std::nullopt;
}

std::optional<SubmitReply> SubmitSession::rcpt_filter(const QueueRecipient& r) {
    if (!local_filtering()) return std::nullopt;
    // Only local accounts have filters; every other recipient counts as whitelisted.
    std::optional<FilterAccount> acct;
    if (r.module == "local" && r.host.find('@') == std::string::npos)
        acct = recipient_filter_account(r.host, r.address);
    if (!acct) return filter_class(false, r.address);
    FilterFacts facts{env_.sender, facts_.remote_host, facts_.remote_ip};
    FilterResult res = run_local_filter(local_filter_cfg_->program, *acct, FilterPhase::rcpt, facts,
                                        -1, local_filter_cfg_->timeout_ms, r.address);
    log_filter_run(r.address, *acct, FilterPhase::rcpt, res);
    if (res.verdict == FilterVerdict::refuse) return res.reply;
    bool content = res.verdict == FilterVerdict::content_filter;
    if (auto refused = filter_class(content, r.address)) return refused;
    if (content) content_filtered_.emplace_back(r.address, std::move(*acct));
    return std::nullopt;
}

// aliasfilteracct (courier(8), localmailfilter(7) "Filtering mail to aliases"): the
// alias is filtered once, as the owner of that folder, with rcptfilter-alias-<address>;
// its targets are not filtered, and there is no content filter for aliases.
std::optional<SubmitReply> SubmitSession::alias_filter(const std::string& alias) {
    if (!local_filtering()) return std::nullopt;
    if (local_filter_cfg_->alias_account.empty()) return filter_class(false, alias);
    std::string name = lowercase_ascii(alias);
    auto acct = alias_filter_account(local_filter_cfg_->alias_account, name);
    if (!acct) {
        log_error("submit: aliasfilteracct " + local_filter_cfg_->alias_account + ": cannot stat");
        return SubmitReply{451, "4.3.0 <" + alias + ">: alias filter unavailable; try later"};
    }
    FilterFacts facts{env_.sender, facts_.remote_host, facts_.remote_ip};
    FilterResult res = run_local_filter(local_filter_cfg_->program, *acct, FilterPhase::rcpt, facts,
                                        -1, local_filter_cfg_->timeout_ms, alias);
    log_filter_run(alias, *acct, FilterPhase::rcpt, res);
    if (res.verdict == FilterVerdict::refuse) return res.reply;
    return filter_class(res.verdict == FilterVerdict::content_filter, alias);
}

// smtpfilter for each recipient whose rcptfilter exited 99. SMTP has one reply for the
// data, so: a temporary refusal by any filter defers the whole message (nothing is
// queued, the client retries); recipients refused for good are removed from the
// message (Courier records them as done, unlike its per-recipient XEXDATA reply we have
// no way to tell the client) and the rest is queued; when every recipient is refused,
// the message gets the first refusal.
std::optional<SubmitReply> SubmitSession::content_filters() {
    if (content_filtered_.empty() || !local_filter_cfg_) return std::nullopt;
    auto file = message_file(opts_.spool_dir, body_);
    if (!file) {
        log_error("submit: " + file.error().text);
        return SubmitReply{451, "4.3.0 Cannot run the local mail filters"};
    }
    FilterFacts facts{env_.sender, facts_.remote_host, facts_.remote_ip};
    std::optional<SubmitReply> first_refusal;
    std::vector<std::string> refused;
    for (const auto& [address, acct] : content_filtered_) {
        bool queued = std::any_of(env_.rcpts.begin(), env_.rcpts.end(),
                                  [&](const QueueRecipient& q) { return q.address == address; });
        if (!queued) continue;
        FilterResult res = run_local_filter(local_filter_cfg_->program, acct, FilterPhase::smtp, facts,
                                            file->get(), local_filter_cfg_->timeout_ms, address);
        log_filter_run(address, acct, FilterPhase::smtp, res);
        if (res.verdict != FilterVerdict::refuse) continue;
        if (res.reply.code < 500) return res.reply;   // defer everything: no recipient lost
        if (!first_refusal) first_refusal = res.reply;
        refused.push_back(address);
    }
    if (refused.empty()) return std::nullopt;
    std::erase_if(env_.rcpts, [&](const QueueRecipient& q) {
        return std::find(refused.begin(), refused.end(), q.address) != refused.end();
    });
    if (env_.rcpts.empty()) return first_refusal;
    for (const auto& a : refused)
        log_info("localfilter dropped rcpt=" + log_safe(a) + " from=" + log_safe(env_.sender) +
                 " rule=maildropfilter smtpfilter");
    return std::nullopt;
}

}  // namespace submit
