// The settlement of a message after an attempt; see settlement.h.
#include "courierd/settlement.h"
#include <algorithm>
#include "lib/backscatter.h"

namespace courierd {

namespace {

// The status code of an SMTP-style reply: "451 4.2.0 ..." -> "4.2.0" style first
// digit; used only to build the expiry text.
std::string strip_code(const std::string& text) {
    auto sp = text.find(' ');
    return sp == std::string::npos ? text : text.substr(sp + 1);
}

}  // namespace

std::vector<size_t> reroute_to_backuprelay(Message& m, const std::string& relay,
                                           std::time_t now, const RetrySettings& s) {
    std::vector<size_t> out;
    if (relay.empty() || now - m.arrival < s.warntime) return out;
    for (size_t i = 0; i < m.rcpts.size() && i < m.phase.size(); ++i) {
        if (m.rcpts[i].module != "esmtp" || m.phase[i] != RcptPhase::pending) continue;
        if (m.rcpts[i].host == relay) continue;
        m.rcpts[i].host = relay;
        out.push_back(i);
    }
    return out;
}

bool notify_wants(const std::string& notify, NoticeItem::Action action) {
    std::string n;
    for (char c : notify) n += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (n.find("NEVER") != std::string::npos) return false;
    switch (action) {
    case NoticeItem::Action::failed: return n.empty() || n.find("FAILURE") != std::string::npos;
    case NoticeItem::Action::delayed: return n.empty() || n.find("DELAY") != std::string::npos;
    case NoticeItem::Action::delivered:
    case NoticeItem::Action::relayed: return n.find("SUCCESS") != std::string::npos;
    }
    return false;
}

bool notice_is_ours(const std::string& module, NoticeItem::Action action) {
    return action != NoticeItem::Action::delivered || module == "local";
}

Settlement plan_settlement(const QueueEnvelope& env, const std::vector<StatusRecord>& log,
                           std::time_t now, const SettlementOptions& opts) {
    Settlement out;
    const size_t n = env.rcpts.size();
    std::vector<bool> final_(n, false);
    std::vector<std::string> last_defer(n);
    size_t handled_upto = 0;   // records before this position are covered by a notice
    bool warned = false;
    for (size_t pos = 0; pos < log.size(); ++pos) {
        if (log[pos].kind != StatusRecord::Kind::notice) continue;
        if (log[pos].text == "delay") warned = true;
        else handled_upto = pos + 1;
    }
    for (size_t pos = 0; pos < log.size(); ++pos) {
        const auto& r = log[pos];
        using K = StatusRecord::Kind;
        if (r.kind == K::retry) out.attempts = r.attempts;
        if (r.kind == K::notice || r.kind == K::retry || r.rcpt >= n) continue;
        if (r.kind == K::deferred && !final_[r.rcpt]) last_defer[r.rcpt] = r.text;
        if (r.kind != K::delivered && r.kind != K::failed && r.kind != K::relayed) continue;
        if (final_[r.rcpt]) continue;   // only the first final record counts
        final_[r.rcpt] = true;
        if (pos < handled_upto) continue;
        auto action = r.kind == K::failed    ? NoticeItem::Action::failed
                    : r.kind == K::relayed ? NoticeItem::Action::relayed
                                           : NoticeItem::Action::delivered;
        const std::string& addr = env.rcpts[r.rcpt].address;
        if (action == NoticeItem::Action::failed) out.backscatter_add.push_back(addr);
        else out.backscatter_remove.push_back(addr);
        if (notify_wants(env.rcpts[r.rcpt].notify, action) &&
            notice_is_ours(env.rcpts[r.rcpt].module, action))
            out.report.push_back({r.rcpt, action, r.text, r.when});
        out.mark_handled = true;
    }
    ++out.attempts;   // the attempt that has just ended

    // Recipients still open when the message has run out of time fail now.
    if (expired(now, env.arrival, opts.retry)) {
        for (size_t i = 0; i < n; ++i) {
            if (final_[i]) continue;
            StatusRecord f;
            f.kind = StatusRecord::Kind::failed;
            f.rcpt = i;
            f.when = now;
            f.text = "554 5.4.7 Delivery time expired" +
                     (last_defer[i].empty() ? std::string() : "; last attempt: " + strip_code(last_defer[i]));
            out.expired.push_back(f);
            final_[i] = true;
            out.backscatter_add.push_back(env.rcpts[i].address);
            if (notify_wants(env.rcpts[i].notify, NoticeItem::Action::failed))
                out.report.push_back({i, NoticeItem::Action::failed, f.text, now});
            out.mark_handled = true;
        }
    }
    out.remove = std::all_of(final_.begin(), final_.end(), [](bool f) { return f; });
    if (!out.remove) {
        out.next = next_attempt(now, env.arrival, out.attempts, opts.retry);
        // backuprelay replaces the warning for every message (courier(8)); the
        // rerouting itself is reroute_to_backuprelay's, when the message is loaded.
        if (!opts.backuprelay && warning_due(now, env.arrival, warned, opts.retry)) {
            for (size_t i = 0; i < n; ++i)
                if (!final_[i] && notify_wants(env.rcpts[i].notify, NoticeItem::Action::delayed))
                    out.delay.push_back({i, NoticeItem::Action::delayed,
                                         last_defer[i].empty() ? "451 4.0.0 delivery deferred"
                                                               : last_defer[i], now});
        }
    }
    // Never a notice to the null sender (RFC 3461 6.2, RFC 5321 4.5.5).
    if (env.sender.empty()) {
        out.report.clear();
        out.delay.clear();
    }
    if (!suppress_backscatter_from(backscatter_source(env.source, env.auth_user), opts.backscatter_sources))
        out.backscatter_add.clear();
    return out;
}

}  // namespace courierd
