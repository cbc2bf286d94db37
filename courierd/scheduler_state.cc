// The scheduler's pure core; see scheduler_state.h.
#include "courierd/scheduler_state.h"
#include <algorithm>
#include "lib/log.h"

void WaitingMessages::erase_entry(const std::string& qid, std::time_t due) {
    auto [first, last] = by_due_.equal_range(due);
    for (auto e = first; e != last; ++e)
        if (e->second == qid) { by_due_.erase(e); return; }
}

void WaitingMessages::add(const std::string& qid, std::time_t due) {
    if (auto old = due_of_.find(qid); old != due_of_.end()) erase_entry(qid, old->second);
    due_of_[qid] = due;
    by_due_.emplace(due, qid);
    if (due_of_.size() > cap_) {
        auto last = std::prev(by_due_.end());
        due_of_.erase(last->second);
        by_due_.erase(last);
        overflowed_ = true;
    }
}

std::optional<std::time_t> WaitingMessages::next_due() const {
    if (by_due_.empty()) return std::nullopt;
    return by_due_.begin()->first;
}

std::optional<std::string> WaitingMessages::pop_due(std::time_t now) {
    if (by_due_.empty() || by_due_.begin()->first > now) return std::nullopt;
    std::string qid = std::move(by_due_.begin()->second);
    by_due_.erase(by_due_.begin());
    due_of_.erase(qid);
    return qid;
}

bool WaitingMessages::make_due(const std::string& qid, std::time_t now) {
    auto it = due_of_.find(qid);
    if (it == due_of_.end()) return false;
    erase_entry(qid, it->second);
    it->second = std::min(it->second, now);
    by_due_.emplace(it->second, qid);
    return true;
}

void WaitingMessages::remove(const std::string& qid) {
    auto it = due_of_.find(qid);
    if (it == due_of_.end()) return;
    erase_entry(qid, it->second);
    due_of_.erase(it);
}

void WaitingMessages::make_all_due(std::time_t now) {
    by_due_.clear();
    for (auto& [qid, due] : due_of_) {
        due = std::min(due, now);
        by_due_.emplace(due, qid);
    }
}

SchedulerState::SchedulerState(std::vector<ModuleConfig> modules, size_t waiting_cap)
    : waiting_(waiting_cap) {
    for (auto& m : modules) {
        std::string name = m.name;
        modules_[name].config = std::move(m);
    }
}

std::string delivery_log_line(const Message& m, size_t index, const std::string& module,
                              DeliveryStatus status, const std::string& text, std::time_t now) {
    std::string code = text.substr(0, text.find(' '));
    if (auto sp = text.find(' '); sp != std::string::npos) {
        std::string second = text.substr(sp + 1, text.find(' ', sp + 1) - sp - 1);
        if (second.size() >= 5 && second[1] == '.' && (second[0] >= '2' && second[0] <= '5'))
            code = second;
    }
    return "delivery id=" + m.id.text + " from=<" + log_safe(m.sender) + "> rcpt=<" +
           log_safe(m.rcpts[index].address) + "> module=" + module + " relay=" +
           log_safe(m.rcpts[index].host) +
           // A relayed recipient is delivered as far as counting goes; dsn= says why a
           // "relayed" success notice may follow.
           (status == DeliveryStatus::relayed ? std::string(" status=ok dsn=relayed")
                                              : std::string(" status=") + status_name(status)) +
           " code=" + log_safe(code) + " delay=" + std::to_string(std::max<std::time_t>(0, now - m.arrival)) +
           " attempt=" + std::to_string(m.attempts + 1) + " text=" + log_safe(text);
}

void SchedulerState::queue_work(ModuleQueue& mq, const std::string& host, WorkItem item,
                                bool priority) {
    HostQueue& hq = mq.hosts[host];
    (priority ? hq.urgent : hq.work).push_back(std::move(item));
    if (!hq.runnable && hq.in_use < mq.config.maxhost) {
        hq.runnable = true;
        if (priority) mq.runnable.push_front(host);
        else mq.runnable.push_back(host);
    }
}

void SchedulerState::add_message(Message m, std::time_t now, Effects& fx, bool priority) {
    std::string qid = m.id.text;
    if (holds(qid)) return;
    Message& msg = messages_.emplace(qid, std::move(m)).first->second;
    // Group pending recipients by (module, host), keeping their order.
    std::map<std::pair<std::string, std::string>, std::vector<size_t>> groups;
    for (size_t i = 0; i < msg.rcpts.size(); ++i)
        if (msg.phase[i] == RcptPhase::pending)
            groups[{msg.rcpts[i].module, msg.rcpts[i].host}].push_back(i);
    for (auto& [key, indexes] : groups) {
        auto mod = modules_.find(key.first);
        if (mod == modules_.end()) {
            for (size_t i : indexes)
                record(msg, key.first, i, DeliveryStatus::defer,
                       "451 4.3.0 delivery module " + key.first + " is not available", now, fx);
            continue;
        }
        size_t per = mod->second.config.maxrcpt;
        for (size_t start = 0; start < indexes.size(); start += per) {
            size_t end = std::min(indexes.size(), start + per);
            queue_work(mod->second, key.second,
                       WorkItem{qid, std::vector<size_t>(indexes.begin() + static_cast<long>(start),
                                                         indexes.begin() + static_cast<long>(end))},
                       priority);
        }
    }
    settle(qid, now, fx);
}

std::vector<PlannedDelivery> SchedulerState::plan_deliveries() {
    std::vector<PlannedDelivery> out;
    for (auto& [name, mq] : modules_) {
        while (mq.in_use < mq.config.maxdels && !mq.runnable.empty()) {
            std::string host = std::move(mq.runnable.front());
            mq.runnable.pop_front();
            HostQueue& hq = mq.hosts[host];
            std::deque<WorkItem>& from = hq.urgent.empty() ? hq.work : hq.urgent;
            WorkItem item = std::move(from.front());
            from.pop_front();
            ++hq.in_use;
            ++mq.in_use;
            hq.runnable = !hq.empty() && hq.in_use < mq.config.maxhost;
            if (hq.runnable) mq.runnable.push_back(host);   // hosts take turns

            Message& msg = messages_.at(item.qid);
            PlannedDelivery d{name, {}};
            d.request.id = next_delivery_id_++;
            d.request.queue_file = msg.queue_file;
            d.request.qid = msg.id.text;
            d.request.sender = msg.sender;
            d.request.host = host;
            for (size_t i : item.rcpts) {
                msg.phase[i] = RcptPhase::in_progress;
                d.request.rcpts.push_back({i, msg.rcpts[i].address});
            }
            deliveries_[d.request.id] = Delivery{item.qid, name, host, item.rcpts,
                                                 std::vector<bool>(item.rcpts.size(), false)};
            out.push_back(std::move(d));
        }
    }
    return out;
}

void SchedulerState::record(Message& m, const std::string& module, size_t index,
                            DeliveryStatus status, const std::string& text, std::time_t now,
                            Effects& fx) {
    StatusRecord r;
    r.kind = status == DeliveryStatus::ok      ? StatusRecord::Kind::delivered
             : status == DeliveryStatus::relayed ? StatusRecord::Kind::relayed
             : status == DeliveryStatus::fail  ? StatusRecord::Kind::failed
                                              : StatusRecord::Kind::deferred;
    r.rcpt = index;
    r.when = now;
    r.text = text;
    // Final records are fsynced before the delivery is forgotten (at-least-once); a lost
    // deferred record only costs an extra attempt. Notices for failed recipients are
    // sent when the message settles (settlement.h).
    fx.appends.push_back({m.id, r, status != DeliveryStatus::defer});
    fx.logs.push_back(delivery_log_line(m, index, module, status, text, now));
    if (m.phase[index] == RcptPhase::pending || m.phase[index] == RcptPhase::in_progress)
        --m.open;
    if (status == DeliveryStatus::defer) {
        m.phase[index] = RcptPhase::deferred;
        m.deferred = true;
    } else {
        m.phase[index] = RcptPhase::final_;
    }
}

Status SchedulerState::apply_reply(const std::string& module, const ModuleReply& reply,
                                   std::time_t now, Effects& fx) {
    if (reply.kind == ModuleReply::Kind::result) return apply_result(module, reply.result, now, fx);
    auto it = deliveries_.find(reply.done_id);
    if (it == deliveries_.end() || it->second.module != module)
        return Error{0, "done for unknown delivery " + std::to_string(reply.done_id)};
    finish_delivery(reply.done_id, now, fx);
    return ok_status();
}

Status SchedulerState::apply_result(const std::string& module, const DeliveryResult& r,
                                    std::time_t now, Effects& fx) {
    auto it = deliveries_.find(r.id);
    if (it == deliveries_.end() || it->second.module != module)
        return Error{0, "result for unknown delivery " + std::to_string(r.id)};
    Delivery& d = it->second;
    auto pos = std::find(d.rcpts.begin(), d.rcpts.end(), r.index);
    if (pos == d.rcpts.end())
        return Error{0, "result for recipient " + std::to_string(r.index) +
                            " not in delivery " + std::to_string(r.id)};
    auto slot = static_cast<size_t>(pos - d.rcpts.begin());
    if (d.reported[slot])
        return Error{0, "second result for recipient " + std::to_string(r.index)};
    d.reported[slot] = true;
    record(messages_.at(d.qid), module, r.index, r.status, r.text, now, fx);
    return ok_status();
}

void SchedulerState::finish_delivery(unsigned long id, std::time_t now, Effects& fx) {
    Delivery d = std::move(deliveries_.at(id));
    deliveries_.erase(id);
    Message& msg = messages_.at(d.qid);
    for (size_t k = 0; k < d.rcpts.size(); ++k)
        if (!d.reported[k])
            record(msg, d.module, d.rcpts[k], DeliveryStatus::defer,
                   "451 4.3.0 delivery module gave no result", now, fx);
    ModuleQueue& mq = modules_.at(d.module);
    auto host = mq.hosts.find(d.host);
    HostQueue& hq = host->second;
    --hq.in_use;
    --mq.in_use;
    if (!hq.runnable && !hq.empty() && hq.in_use < mq.config.maxhost) {
        hq.runnable = true;
        mq.runnable.push_back(d.host);
    }
    if (hq.empty() && hq.in_use == 0) mq.hosts.erase(host);
    settle(d.qid, now, fx);
}

void SchedulerState::settle(const std::string& qid, std::time_t now, Effects& fx) {
    auto it = messages_.find(qid);
    Message& m = it->second;
    if (m.open != 0) return;
    (void)now;
    fx.settled.push_back(m.id);
    messages_.erase(it);
}
