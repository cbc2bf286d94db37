// The shared counters of ratelimit(8): see ratelimit_store.h.
#include "filters/ratelimit_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <cerrno>
#include "lib/unique_fd.h"

namespace ratelimit {

namespace {
// Held for one check_and_record or expire: the DbStore's own per-operation lock is
// not enough, because a check reads several counters and then writes them.
Result<UniqueFd> take_lock(const std::string& path, unsigned mode) {
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, mode));
    if (!fd) return sys_error("open " + path);
    while (::flock(fd.get(), LOCK_EX) < 0)
        if (errno != EINTR) return sys_error("flock " + path);
    return fd;   // closing the descriptor releases the lock
}

// A counter as stored; a corrupt record (it should not happen) counts as empty rather
// than blocking that client for good.
WindowState load_window(const std::optional<std::string>& value) {
    if (!value) return {};
    auto w = parse_window(*value);
    return w ? *w : WindowState{};
}
}  // namespace

std::string refusal_reply(const RateRule& rule, Fit fit) {
    std::string what = std::string(counted_name(rule.counted)) + " per " + std::string(subject_name(rule.subject));
    if (fit == Fit::never)
        return "550 5.7.1 Too many recipients for the limit of " + std::to_string(rule.limit) + " " + what;
    return "451 4.7.1 Rate limit of " + std::to_string(rule.limit) + " " + what + " exceeded, try again later";
}

RateStore::RateStore(std::string db_path, unsigned mode)
    : lock_path_(db_path + ".check.lock"), mode_(mode), store_(std::move(db_path), mode) {}

Result<Decision> RateStore::check_and_record(const std::vector<RateRule>& rules, const Usage& usage,
                                             int64_t now_ms) {
    auto lock = take_lock(lock_path_, mode_);
    if (!lock) return lock.error();
    struct Pending { const RateRule* rule; std::string key; };
    std::vector<Pending> pending;
    for (const auto& rule : rules) {
        auto key = counter_key(rule, usage);
        if (!key) continue;
        auto value = store_.get(*key);
        if (!value) return value.error();
        int64_t window_ms = rule.window_seconds * 1000;
        uint64_t held = count_in_window(load_window(*value), now_ms, window_ms);
        Fit fit = fits(held, amount(rule, usage), rule.limit);
        if (fit != Fit::fits) return Decision{false, refusal_reply(rule, fit), rule.origin, *key, held};
        pending.push_back({&rule, std::move(*key)});
    }
    for (const auto& p : pending) {
        int64_t window_ms = p.rule->window_seconds * 1000;
        uint64_t n = amount(*p.rule, usage);
        auto st = store_.update(p.key, [&](const std::optional<std::string>& old) {
            WindowState w = load_window(old);
            add_to_window(w, now_ms, window_ms, n);
            return std::optional<std::string>(format_window(w));
        });
        if (!st) return st.error();
    }
    return Decision{};
}

Result<size_t> RateStore::expire(int64_t now_ms) {
    auto lock = take_lock(lock_path_, mode_);
    if (!lock) return lock.error();
    std::vector<std::string> stale;
    auto st = store_.for_each([&](std::string_view key, std::string_view value) {
        auto window = window_of_key(key);
        auto w = parse_window(value);
        if (!window || !w || count_in_window(*w, now_ms, *window * 1000) == 0) stale.emplace_back(key);
        return true;
    });
    if (!st) return st.error();
    for (const auto& key : stale) {
        auto e = store_.erase(key);
        if (!e) return e.error();
    }
    return stale.size();
}

}  // namespace ratelimit
