// The scheduler's event loop; see scheduler.h.
#include "courierd/scheduler.h"
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sysexits.h>
#include <algorithm>
#include <csignal>
#include <ctime>
#include "courierd/dsn.h"
#include "courierd/metrics.h"
#include "courierd/module_pool.h"
#include "courierd/queue_scan.h"
#include "courierd/scheduler_state.h"
#include "courierd/settlement.h"
#include "courierd/signal_pipe.h"
#include "courierd/supervisor.h"
#include "courierd/trigger.h"
#include "lib/backscatter.h"
#include "lib/fileio.h"
#include "lib/lineio.h"
#include "lib/log.h"
#include "lib/paths.h"
#include "lib/submit_client.h"

namespace {

constexpr long kStaleTmpAge = 3600;          // architecture.md: tmp files older than 1 h
constexpr std::time_t kMinScanGap = 1;       // at most one unforced spool scan per second
constexpr int kModuleShutdownMs = 5000;

class Scheduler {
public:
    int run();

private:
    Status start_up();
    int loop();
    bool execute(Effects& fx);                       // false: the spool is not writable
    bool settle(const QueueId& id);                  // false: the spool is not writable
    bool send_notice(const QueueEnvelope& env, const std::vector<courierd::NoticeItem>& items);
    bool append(const QueueId& id, const StatusRecord& r, bool durable);
    bool load(const QueueId& id, bool ignore_retry, bool priority = false);
    bool load_due();
    bool maybe_scan();
    bool read_trigger();
    void dispatch();
    void write_metrics();
    int poll_timeout() const;
    // The periodic rescan also finds messages whose FIFO notice was dropped, so it runs
    // every 5 minutes even when queuefill is 0.
    long refill_interval() const { return limits_.fill > 0 ? limits_.fill : 300; }
    void want_scan(bool forced) { scan_wanted_ = true; scan_forced_ |= forced; }

    const Paths& paths_ = paths();
    ConfigDir config_{paths().config};
    QueueLimits limits_;
    courierd::SettlementOptions settle_opts_;
    courierd::NoticeSettings notice_;
    ModulePool pool_;
    std::unique_ptr<SchedulerState> state_;
    UniqueFd trigger_, trigger_writer_;
    std::unique_ptr<LineReader> trigger_reader_;
    std::time_t now_ = 0;
    bool scan_wanted_ = true, scan_forced_ = true, flush_pending_ = false;
    bool draining_ = false;   // SIGHUP: no new deliveries, exit once none is in progress
    std::time_t next_scan_allowed_ = 0, next_refill_ = 0;
    bool filled_up_ = false;   // the last scan stopped because memory was full
    bool refilling_ = false;   // this scan is a queuefill refill: its finds get priority
    std::string backuprelay_;   // host of the backuprelay file, "" when none
    courierd::Metrics metrics_;   // doc/metrics.md
    std::string metrics_path_;
    std::time_t metrics_written_ = 0;
};

Status ensure_spool(uid_t uid, gid_t gid) {
    const Paths& p = paths();
    for (const std::string& dir : {p.spool, p.spool_tmp(), p.spool_msgs(), session_stats_dir()}) {
        if (Status s = ensure_dir(dir, 0750); !s) return s;
        if (uid != static_cast<uid_t>(-1) && lchown(dir.c_str(), uid, gid) != 0)
            return sys_error("chown " + dir);
    }
    return ok_status();
}

Status Scheduler::start_up() {
    uid_t uid = static_cast<uid_t>(-1);
    gid_t gid = static_cast<gid_t>(-1);
    if (geteuid() == 0)
        if (Status s = lookup_mail_user(&uid, &gid); !s) return s;
    if (Status s = ensure_spool(uid, gid); !s) return s;
    auto fifo = open_trigger_reader(paths_.trigger_fifo(), uid, gid, &trigger_writer_);
    if (!fifo) return fifo.error();
    trigger_ = std::move(*fifo);
    trigger_reader_ = std::make_unique<LineReader>(trigger_.get(), PIPE_BUF);

    auto modules = load_module_configs(config_, paths_.libexec);
    limits_ = load_queue_limits(config_, modules);
    // Modules are started before the drop: the local module keeps root.
    pool_.start(modules, uid, gid);
    if (Status s = drop_to_mail_user(); !s) return s;

    settle_opts_.retry = load_retry_settings(config_);
    settle_opts_.backuprelay = config_.exists("backuprelay");
    backuprelay_ = config_.first_line("backuprelay").value_or("");
    settle_opts_.backscatter_sources = load_backscatter_sources(config_);
    notice_.me = config_.me();
    notice_.dsnfrom = config_.first_line("dsnfrom").value_or("");
    if (auto lim = config_.first_line("dsnlimit")) {
        char* end = nullptr;
        unsigned long long v = std::strtoull(lim->c_str(), &end, 10);
        if (end && *end == '\0' && !lim->empty()) notice_.dsnlimit = v;
    }
    metrics_path_ = courierd::metrics_file_path(config_);
    // Counters continue from the last file: a restart is not a reset for rate().
    if (auto previous = read_file(metrics_path_, 4u * 1024 * 1024)) metrics_.restore(*previous);
    state_ = std::make_unique<SchedulerState>(pool_.running(),
                                              std::max<size_t>(10 * limits_.hi, 10000));
    now_ = std::time(nullptr);
    clean_spool_tmp(paths_.spool_tmp(), now_, kStaleTmpAge);
    next_refill_ = now_ + refill_interval();
    log_info("courierd: scheduler started queuelo=" + std::to_string(limits_.lo) +
             " queuehi=" + std::to_string(limits_.hi));
    return ok_status();
}

bool Scheduler::execute(Effects& fx) {
    for (const auto& a : fx.appends) {
        if (Status s = append_status(paths_.spool, a.id, a.record, a.durable); !s) {
            log_error("courierd: " + s.error().text);
            return false;
        }
    }
    for (const auto& line : fx.logs) {
        log_info(line);
        metrics_.count_delivery_line(line);
    }
    for (const auto& id : fx.settled)
        if (!settle(id)) return false;
    fx = Effects{};
    return true;
}

bool Scheduler::append(const QueueId& id, const StatusRecord& r, bool durable) {
    if (Status s = append_status(paths_.spool, id, r, durable); !s) {
        log_error("courierd: " + s.error().text);
        return false;
    }
    return true;
}

// Submits one notice from the null sender to the message's sender; false when submit
// refused it or could not run (the caller tries again later).
bool Scheduler::send_notice(const QueueEnvelope& env,
                            const std::vector<courierd::NoticeItem>& items) {
    std::string path = queue_file_path(paths_.spool, env.id);
    size_t offset = 0;
    auto file = read_file(path, 64u * 1024 * 1024 * 4);
    if (!file || !parse_envelope(*file, &offset)) {
        log_error("courierd: notice for " + env.id.text + ": cannot read " + path);
        return false;
    }
    courierd::NoticeSettings ns = notice_;
    ns.will_retry_until = env.arrival + settle_opts_.retry.queuetime;
    std::string text = courierd::build_notice(env, items, std::string_view(*file).substr(offset),
                                              ns, now_);
    SubmitClient client("dsn");
    SubmitReply r = client.mail("", env.body == "8BITMIME" ? "BODY=8BITMIME" : "");
    if (r.positive()) r = client.rcpt(env.sender, "");
    if (r.positive()) {
        if (Status s = client.send_data(text); !s) log_error("courierd: " + s.error().text);
        r = client.finish();
    }
    client.quit();
    const char* kind = items[0].action == courierd::NoticeItem::Action::delayed ? "delay" : "dsn";
    if (!r.positive()) {
        log_error("notice id=" + env.id.text + " kind=" + kind + " to=<" + log_safe(env.sender) +
                  "> status=fail text=" + log_safe(r.line()));
        return false;
    }
    log_info("notice id=" + env.id.text + " kind=" + kind + " to=<" + log_safe(env.sender) +
             "> rcpts=" + std::to_string(items.size()) + " text=" + log_safe(r.line()));
    return true;
}

// A message whose attempt is over: expiry, notices, backscatter list, then its retry
// record or its removal (settlement.h).
bool Scheduler::settle(const QueueId& id) {
    size_t data_offset = 0;
    auto env = read_envelope(queue_file_path(paths_.spool, id), &data_offset);
    if (!env) {
        if (env.error().sys_errno != ENOENT) log_error("courierd: " + env.error().text);
        return true;
    }
    auto log = read_file(status_file_path(paths_.spool, id), 16u * 1024 * 1024);
    std::vector<StatusRecord> records = log ? parse_status_log(*log) : std::vector<StatusRecord>{};
    auto plan = courierd::plan_settlement(*env, records, now_, settle_opts_);
    for (const auto& f : plan.expired) {
        if (!append(id, f, true)) return false;
        metrics_.count_expired(env->rcpts[f.rcpt].module);
        log_info("expired id=" + id.text + " rcpt=<" + log_safe(env->rcpts[f.rcpt].address) +
                 "> text=" + log_safe(f.text));
    }
    BackscatterList backscatter;
    for (const auto& a : plan.backscatter_add)
        if (Status s = backscatter.add(a, now_); !s) log_error("courierd: backscatter: " + s.error().text);
        else log_info("backscatter add rcpt=<" + log_safe(a) + ">");
    for (const auto& a : plan.backscatter_remove)
        if (Status s = backscatter.remove(a); !s) log_error("courierd: backscatter: " + s.error().text);

    StatusRecord marker;
    marker.kind = StatusRecord::Kind::notice;
    marker.when = now_;
    bool notice_failed = false;
    if (!plan.report.empty()) {
        if (send_notice(*env, plan.report)) {
            marker.text = "dsn";
            if (!append(id, marker, true)) return false;
        } else {
            notice_failed = true;
        }
    } else if (plan.mark_handled && !plan.remove) {
        marker.text = "none";
        if (!append(id, marker, false)) return false;
    }
    if (!plan.delay.empty() && send_notice(*env, plan.delay)) {
        marker.text = "delay";
        if (!append(id, marker, true)) return false;
    }
    if (plan.remove && !notice_failed) {
        if (Status s = remove_message_files(paths_.spool, id); !s) {
            log_error("courierd: " + s.error().text);
            return false;
        }
        log_info("removed id=" + id.text);
        return true;
    }
    StatusRecord retry;
    retry.kind = StatusRecord::Kind::retry;
    retry.when = now_;
    retry.attempts = plan.attempts;
    // A notice that could not be submitted is tried again after retryalpha.
    retry.next = plan.remove ? now_ + settle_opts_.retry.alpha : plan.next;
    if (!append(id, retry, false)) return false;
    state_->waiting().add(id.text, retry.next);
    return true;
}

// Takes one message from disk into memory, unless its retry time has not come.
bool Scheduler::load(const QueueId& id, bool ignore_retry, bool priority) {
    if (state_->holds(id.text)) return true;
    auto m = load_message(paths_.spool, id);
    if (!m) {
        if (m.error().sys_errno != ENOENT) log_error("courierd: " + m.error().text);
        return true;
    }
    Effects fx;
    if (m->status.all_final()) {
        // Cancelled (cancelmsg), or a crash hit between the last record and the
        // settlement: notices still due are sent before the message is removed.
        state_->waiting().remove(id.text);
        return settle(id);
    }
    if (m->status.held) {   // a filter's HOLD: nothing goes out until `courier release`
        state_->waiting().remove(id.text);
        return true;
    }
    if (!ignore_retry && m->status.retry_next > now_) {
        state_->waiting().add(id.text, m->status.retry_next);
        return true;
    }
    state_->waiting().remove(id.text);
    // First time in memory (no attempt, no final record): a received message.
    if (m->status.attempts == 0 &&
        std::none_of(m->status.final_rcpt.begin(), m->status.final_rcpt.end(), [](bool b) { return b; }))
        metrics_.count_received(m->envelope.source,
                                m->envelope.source == "esmtp" && courierd::queue_file_used_tls(m->queue_file));
    Message msg = make_message(m->envelope, m->queue_file, m->status);
    for (size_t i : courierd::reroute_to_backuprelay(msg, backuprelay_, now_, settle_opts_.retry))
        log_info("backuprelay id=" + id.text + " rcpt=<" + log_safe(msg.rcpts[i].address) +
                 "> relay=" + log_safe(backuprelay_));
    state_->add_message(std::move(msg), now_, fx, priority);
    return execute(fx);
}

bool Scheduler::load_due() {
    while (state_->message_count() < limits_.hi) {
        auto qid = state_->waiting().pop_due(now_);
        if (!qid) break;
        auto id = QueueId::parse(*qid);
        if (id && !load(*id, true)) return false;
    }
    return true;
}

// Fills memory from the spool, oldest first: at start-up, after a flush, when memory
// fell below queuelo while mail was left on disk, and every queuefill interval. A
// refill after a scan that stopped because memory was full (queuefill, courier(8))
// puts the older messages it finds at the top of the scheduling queue.
bool Scheduler::maybe_scan() {
    if (now_ >= next_refill_) {
        want_scan(true);
        refilling_ |= filled_up_ && limits_.fill > 0;
        // A submit killed while courierd runs leaves its tmp file; do not wait for a restart.
        clean_spool_tmp(paths_.spool_tmp(), now_, kStaleTmpAge);
        next_refill_ = now_ + refill_interval();
    }
    size_t count = state_->message_count();
    // The gap keeps an idle queue from being rescanned over and over; after a scan that
    // stopped because memory was full, mail is known to wait on disk: no gap then, or
    // a large spool would be served at (queuehi - queuelo) messages per second at most.
    if (!scan_wanted_ || count >= limits_.hi || (now_ < next_scan_allowed_ && !filled_up_)) return true;
    if (!scan_forced_ && count >= limits_.lo) return true;
    bool ok = true;
    size_t loaded = 0;
    bool complete = scan_spool(paths_.spool_msgs(), [&](const QueueId& id) {
        if (!ok || state_->message_count() >= limits_.hi) return false;
        if (!flush_pending_ && state_->waiting().contains(id.text)) return true;
        size_t before = state_->message_count();
        ok = load(id, flush_pending_, refilling_);
        loaded += state_->message_count() > before;
        return true;
    });
    if (!ok) return false;
    next_scan_allowed_ = now_ + kMinScanGap;
    scan_forced_ = false;
    scan_wanted_ = !complete;   // memory filled up first: come back below queuelo
    log_info("courierd: queue scan in_memory=" + std::to_string(state_->message_count()) +
             " queuehi=" + std::to_string(limits_.hi) + " complete=" + (complete ? "yes" : "no") +
             (refilling_ ? " refill=" + std::to_string(loaded) : std::string()));
    refilling_ = false;
    if (complete) {
        flush_pending_ = false;
        state_->waiting().clear_overflow();
    }
    filled_up_ = !complete;
    return true;
}

bool Scheduler::read_trigger() {
    std::string line;
    for (;;) {
        auto st = trigger_reader_->read_line(line, 0);
        if (st == LineReader::Status::too_long) continue;
        if (st != LineReader::Status::line) return true;
        auto n = parse_trigger_notice(line);
        if (!n) {
            log_warning("courierd: ignored trigger notice \"" + log_safe(line.substr(0, 80)) + "\"");
            continue;
        }
        switch (n->kind) {
        case TriggerNotice::Kind::new_message:
            if (state_->message_count() < limits_.hi) {
                if (!load(*n->id, false)) return false;
            } else {
                want_scan(false);
            }
            break;
        case TriggerNotice::Kind::flush_all:
            log_info("courierd: flush");
            state_->waiting().make_all_due(now_);
            flush_pending_ = true;
            want_scan(true);
            next_scan_allowed_ = 0;
            break;
        case TriggerNotice::Kind::flush_one:
            // Loaded at once, even into a full memory queue (one message over queuehi
            // per command): the original could not flush one message of a backed-up
            // queue (courier(8), BUGS).
            log_info("courierd: flush id=" + n->id->text);
            if (!load(*n->id, true)) return false;
            break;
        case TriggerNotice::Kind::flush_domain: {
            // ETRN (RFC 1985) from courieresmtpd: the messages for that domain, now.
            auto ids = etrn_messages(paths_.spool, n->domain);
            log_info("courierd: etrn domain=" + n->domain + " messages=" + std::to_string(ids.size()));
            for (const QueueId& id : ids)
                if (!load(id, true)) return false;
            break;
        }
        }
    }
}

// At most once a second while counters change, and every 15 s for the gauges.
void Scheduler::write_metrics() {
    if (!(metrics_.dirty() && now_ != metrics_written_) && now_ < metrics_written_ + 15) return;
    courierd::QueueGauges q;
    q.active = state_->message_count();
    q.deferred = state_->waiting().size();
    q.in_progress = state_->deliveries_in_progress();
    std::string text = metrics_.format(q, courierd::collect_session_stats(), now_);
    if (Status s = courierd::write_metrics_file(metrics_path_, text); !s) {
        if (metrics_written_ >= 0) log_warning("courierd: metrics: " + s.error().text);
        metrics_written_ = -1;   // say it once until a write works again
        return;
    }
    metrics_.clear_dirty();
    metrics_written_ = now_;
}

void Scheduler::dispatch() {
    for (auto& d : state_->plan_deliveries()) pool_.send(d.module, format_request(d.request));
}

int Scheduler::poll_timeout() const {
    std::time_t next = next_refill_;
    if (state_->message_count() < limits_.hi) {
        if (auto due = state_->waiting().next_due()) next = std::min(next, *due);
        bool scan_would_run = scan_forced_ || state_->message_count() < limits_.lo;
        if (scan_wanted_ && scan_would_run)
            next = std::min(next, std::max(next_scan_allowed_, now_));
    }
    std::time_t wait = std::clamp<std::time_t>(next - now_, 0, metrics_.dirty() ? 1 : 15);
    // Whole seconds are coarse; a due time "now" must not be polled with 0 for ever,
    // but every due time <= now is handled before poll, so 0 only means "just passed".
    return static_cast<int>(wait * 1000) + (wait > 0 ? 0 : 50);
}

int Scheduler::loop() {
    for (;;) {
        now_ = std::time(nullptr);
        if (draining_ && state_->deliveries_in_progress() == 0) return kSchedulerRestartCode;
        if (!draining_) {
            if (!load_due() || !maybe_scan()) return EX_IOERR;
            dispatch();
        }
        write_metrics();
        std::vector<pollfd> fds{{signal_pipe_fd(), POLLIN, 0}, {trigger_.get(), POLLIN, 0}};
        for (size_t i = 0; i < pool_.size(); ++i) {
            if (Status s = pool_.write_pending(i); !s) {
                log_error("courierd: " + s.error().text);
                return EX_SOFTWARE;
            }
            short ev = pool_.at(i).pending_output.empty() ? 0 : POLLOUT;
            fds.push_back({pool_.at(i).child.stdout_fd(), POLLIN, 0});
            fds.push_back({pool_.at(i).child.stdin_fd(), ev, 0});
        }
        if (poll(fds.data(), fds.size(), poll_timeout()) < 0 && errno != EINTR)
            return EX_OSERR;
        now_ = std::time(nullptr);
        for (int sig : drain_signals()) {
            if (sig == SIGTERM || sig == SIGINT) return EX_OK;
            if (sig == SIGHUP && !draining_) {
                log_info("courierd: restart: waiting for " +
                         std::to_string(state_->deliveries_in_progress()) + " deliveries in progress");
                draining_ = true;
            }
        }
        if (fds[1].revents && !read_trigger()) return EX_IOERR;
        for (size_t i = 0; i < pool_.size(); ++i) {
            if (fds[3 + 2 * i].revents & (POLLERR | POLLHUP)) {
                log_error("courierd: module " + pool_.at(i).config.name + " closed its input");
                return EX_SOFTWARE;
            }
            if (!fds[2 + 2 * i].revents) continue;
            const std::string name = pool_.at(i).config.name;
            bool io_ok = true;
            Status s = pool_.read_replies(i, [&](const std::string& line) -> Status {
                std::string why;
                auto reply = parse_module_reply(line, &why);
                if (!reply) return Error{0, "module " + name + ": malformed reply: " + why};
                Effects fx;
                if (Status a = state_->apply_reply(name, *reply, now_, fx); !a)
                    return Error{0, "module " + name + ": " + a.error().text};
                io_ok = execute(fx);
                return io_ok ? ok_status() : Error{0, "spool write failed"};
            });
            if (!s) {
                log_error("courierd: " + s.error().text);
                return io_ok ? EX_SOFTWARE : EX_IOERR;
            }
        }
    }
}

int Scheduler::run() {
    if (Status s = start_up(); !s) {
        log_error("courierd: scheduler start-up: " + s.error().text);
        pool_.shutdown(kModuleShutdownMs);
        return EX_OSERR;
    }
    int code = loop();
    metrics_written_ = 0;
    write_metrics();
    log_info(code == EX_OK                    ? "courierd: scheduler stopping"
             : code == kSchedulerRestartCode ? "courierd: scheduler restarting"
                                             : "courierd: scheduler exiting, status " + std::to_string(code));
    // Unfinished deliveries are simply attempted again by the next scheduler.
    pool_.shutdown(kModuleShutdownMs);
    return code;
}

}  // namespace

int run_scheduler() {
    signal(SIGPIPE, SIG_IGN);   // a dead module shows up as EPIPE, handled as fatal
    if (Status s = install_signal_pipe({SIGTERM, SIGINT, SIGHUP}); !s) {
        log_error("courierd: " + s.error().text);
        return EX_OSERR;
    }
    Scheduler scheduler;
    return scheduler.run();
}
