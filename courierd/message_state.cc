// Rebuilding a message's delivery state from its files; see message_state.h.
#include "courierd/message_state.h"
#include <algorithm>

bool StatusSummary::all_final() const {
    return std::all_of(final_rcpt.begin(), final_rcpt.end(), [](bool f) { return f; });
}

StatusSummary summarize_status(const std::vector<StatusRecord>& log, size_t rcpt_count) {
    StatusSummary s;
    s.final_rcpt.assign(rcpt_count, false);
    for (const auto& r : log) {
        switch (r.kind) {
        case StatusRecord::Kind::delivered:
        case StatusRecord::Kind::relayed:
        case StatusRecord::Kind::failed:
            // An index past the envelope's recipients cannot be ours: ignore it.
            if (r.rcpt < rcpt_count) s.final_rcpt[r.rcpt] = true;
            break;
        case StatusRecord::Kind::hold:
        case StatusRecord::Kind::release:
            s.held = r.kind == StatusRecord::Kind::hold;
            break;
        case StatusRecord::Kind::retry:
            s.attempts = r.attempts;
            s.retry_next = r.next;
            break;
        default:
            break;
        }
    }
    return s;
}

Message make_message(const QueueEnvelope& env, const std::string& queue_file,
                     const StatusSummary& status) {
    Message m;
    m.id = env.id;
    m.queue_file = queue_file;
    m.sender = env.sender;
    m.arrival = env.arrival;
    m.rcpts = env.rcpts;
    m.attempts = status.attempts;
    m.phase.resize(env.rcpts.size(), RcptPhase::pending);
    for (size_t i = 0; i < m.phase.size() && i < status.final_rcpt.size(); ++i)
        if (status.final_rcpt[i]) m.phase[i] = RcptPhase::final_;
    m.open = static_cast<size_t>(std::count(m.phase.begin(), m.phase.end(), RcptPhase::pending));
    return m;
}
