// The scheduler's pure core: messages in memory, pending recipients grouped per
// (module, host), delivery slots (MAXDELS, MAXHOST, MAXRCPT), results, and the timers of
// deferred messages that wait on disk. No files, pipes or clocks: the event loop
// (scheduler.cc) feeds it and carries out the Effects it returns, so unit tests drive
// every scheduling rule without processes.
#pragma once
#include <ctime>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>
#include "courierd/message_state.h"
#include "courierd/module_config.h"
#include "lib/module_protocol.h"
#include "lib/result.h"

// What the event loop must do, in this order: append the records (fsync the durable
// ones), write the log lines, then settle each message whose attempt is complete:
// notices, expiry, and then its retry record or its removal (settlement.h).
struct Effects {
    struct Append { QueueId id; StatusRecord record; bool durable; };
    std::vector<Append> appends;
    std::vector<std::string> logs;
    std::vector<QueueId> settled;   // no longer in memory: every recipient has an outcome
};

struct PlannedDelivery {
    std::string module;
    DeliveryRequest request;
};

// Deferred messages that are not in memory, by due time. Bounded: past `cap` entries
// the latest ones are forgotten and overflowed() tells the caller that a spool scan must
// find them again.
class WaitingMessages {
public:
    explicit WaitingMessages(size_t cap) : cap_(cap) {}
    void add(const std::string& qid, std::time_t due);
    bool contains(const std::string& qid) const { return due_of_.count(qid) != 0; }
    std::optional<std::time_t> next_due() const;
    // The earliest entry due at `now`, removed; nullopt when none is due.
    std::optional<std::string> pop_due(std::time_t now);
    bool make_due(const std::string& qid, std::time_t now);   // false: not waiting here
    void remove(const std::string& qid);
    void make_all_due(std::time_t now);
    bool overflowed() const { return overflowed_; }
    void clear_overflow() { overflowed_ = false; }
    size_t size() const { return due_of_.size(); }

private:
    void erase_entry(const std::string& qid, std::time_t due);
    size_t cap_;
    bool overflowed_ = false;
    std::multimap<std::time_t, std::string> by_due_;
    std::map<std::string, std::time_t, std::less<>> due_of_;
};

// The log line of one delivery attempt to one recipient (documented in courierd(8)):
// "delivery id=<qid> from=<sender> rcpt=<address> module=<m> relay=<host>
// status=<ok|defer|fail> code=<enhanced or basic code> delay=<seconds since arrival>
// attempt=<n> text=<reply>"; the free text comes last so every other field parses as
// key=value without quoting.
std::string delivery_log_line(const Message& m, size_t index, const std::string& module,
                              DeliveryStatus status, const std::string& text, std::time_t now);

class SchedulerState {
public:
    // `modules`: the modules that are running; recipients of any other module are
    // deferred.
    SchedulerState(std::vector<ModuleConfig> modules, size_t waiting_cap);

    // Takes a message into memory; its recipients without a final record become
    // pending work. A message with nothing left to do is settled at once.
    // `priority` (queuefill, courier(8)): an older message that a refill found on disk
    // goes to the top of the scheduling queue: its work is handed out before the other
    // work of its host (priority work in arrival order), and a host that had no work
    // gets its turn first.
    void add_message(Message m, std::time_t now, Effects& fx, bool priority = false);
    bool holds(const std::string& qid) const { return messages_.count(qid) != 0; }
    size_t message_count() const { return messages_.size(); }
    size_t deliveries_in_progress() const { return deliveries_.size(); }

    // Hands out as much pending work as the free slots allow, oldest message first
    // per host, hosts of a module in turn.
    std::vector<PlannedDelivery> plan_deliveries();
    // One line from `module`. A reply that names no delivery of that module, or a
    // recipient not in it or already reported, is a protocol error.
    Status apply_reply(const std::string& module, const ModuleReply& reply, std::time_t now,
                       Effects& fx);

    WaitingMessages& waiting() { return waiting_; }

private:
    struct WorkItem { std::string qid; std::vector<size_t> rcpts; };
    struct HostQueue {
        std::deque<WorkItem> urgent;   // priority work, handed out first
        std::deque<WorkItem> work;
        unsigned in_use = 0;
        bool empty() const { return urgent.empty() && work.empty(); }
        bool runnable = false;   // listed in ModuleQueue::runnable
    };
    struct ModuleQueue {
        ModuleConfig config;
        unsigned in_use = 0;
        std::map<std::string, HostQueue, std::less<>> hosts;
        std::deque<std::string> runnable;   // hosts with work and a free host slot
    };
    struct Delivery {
        std::string qid, module, host;
        std::vector<size_t> rcpts;
        std::vector<bool> reported;
    };

    void queue_work(ModuleQueue& mq, const std::string& host, WorkItem item, bool priority);
    void record(Message& m, const std::string& module, size_t index, DeliveryStatus status,
                const std::string& text, std::time_t now, Effects& fx);
    Status apply_result(const std::string& module, const DeliveryResult& r, std::time_t now,
                        Effects& fx);
    void finish_delivery(unsigned long id, std::time_t now, Effects& fx);
    void settle(const std::string& qid, std::time_t now, Effects& fx);

    WaitingMessages waiting_;
    std::map<std::string, Message, std::less<>> messages_;
    std::map<std::string, ModuleQueue, std::less<>> modules_;
    std::map<unsigned long, Delivery> deliveries_;
    unsigned long next_delivery_id_ = 1;
};
