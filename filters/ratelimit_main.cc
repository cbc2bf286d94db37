// ratelimit(8): the bundled rate-limiting filter. A global filter (doc/filters.md) that
// counts messages and recipients per client IP, envelope sender and authenticated user
// over the sliding windows of <config>/ratelimit (ratelimit(5)) and answers 451 4.7.1
// when a limit would be exceeded. The counters live in <spool>/ratelimit.dat, shared by
// every receiver. "ratelimit -check [file]" only checks a config file.
// SECURITY: runs as the mail user under courierfilter; reads only the envelope (never
// the message) and writes only its own database.
#include <sysexits.h>
#include <chrono>
#include <cstdio>
#include <mutex>
#include "filters/filter_client.h"
#include "filters/ratelimit_store.h"
#include "filters/reloading_config.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/paths.h"

namespace {

using ratelimit::RateRule;
using Rules = std::vector<RateRule>;

constexpr int64_t kExpireEveryMs = 10 * 60 * 1000;

// A missing file means no limits: the filter passes everything until it is written.
Result<Rules> load_rules(const std::string& path) {
    if (!path_exists(path)) return Rules{};
    auto text = read_file(path, 1024 * 1024);
    if (!text) return text.error();
    return ratelimit::parse_rate_rules(*text, path);
}

std::string describe(const Rules& r) { return "limits=" + std::to_string(r.size()); }

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch()).count();
}

int check_only(const std::string& path) {
    auto text = read_file(path, 1024 * 1024);
    if (!text) {
        std::fprintf(stderr, "%s\n", text.error().text.c_str());
        return EX_CONFIG;
    }
    auto rules = ratelimit::parse_rate_rules(*text, path);
    if (!rules) {
        std::fprintf(stderr, "%s\n", rules.error().text.c_str());
        return EX_CONFIG;
    }
    std::printf("%s: %s\n", path.c_str(), describe(*rules).c_str());
    return 0;
}

// Old counters are removed now and then by whichever message comes along.
class Expiry {
public:
    bool due(int64_t now) {
        std::lock_guard<std::mutex> g(mu_);
        if (now - last_ < kExpireEveryMs) return false;
        last_ = now;
        return true;
    }

private:
    std::mutex mu_;
    int64_t last_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
    std::string config_path = paths().config + "/ratelimit";
    if (argc >= 2 && std::string(argv[1]) == "-check") return check_only(argc >= 3 ? argv[2] : config_path);
    log_open("ratelimit");
    ReloadingConfig<Rules> rules(config_path, load_rules, "limits", describe);
    if (Status st = rules.load(); !st) {
        log_error("ratelimit cannot start: " + log_safe(st.error().text));
        std::fprintf(stderr, "ratelimit: %s\n", st.error().text.c_str());
        return EX_CONFIG;
    }
    install_reload_signal();
    rules.start_watching();
    ratelimit::RateStore store(paths().spool + "/ratelimit.dat");
    Expiry expiry;
    int rc = courierfilter::run_filter(argc, argv, [&](const courierfilter::FilterMessage& m) {
        const auto& env = m.envelope;
        ratelimit::Usage usage{env.remote_ip, env.sender, env.auth, env.rcpts.size()};
        int64_t now = now_ms();
        if (expiry.due(now)) {
            if (auto n = store.expire(now); !n) log_warning("ratelimit expire: " + log_safe(n.error().text));
        }
        auto decision = store.check_and_record(*rules.current(), usage, now);
        if (!decision) {
            // The shared state is unusable: let the client retry rather than guess.
            log_error("ratelimit state: " + log_safe(decision.error().text));
            return courierfilter::Verdict::tempfail("4.3.0 Rate limit state unavailable, try again later");
        }
        if (decision->allowed) return courierfilter::Verdict::accept();
        log_info("ratelimit rule=" + log_safe(decision->rule_origin) + " counter=\"" + log_safe(decision->key) +
                 "\" in_window=" + std::to_string(decision->in_window) + " from=<" + log_safe(env.sender) +
                 "> client=" + log_safe(env.remote_ip.empty() ? "-" : env.remote_ip) +
                 " rcpts=" + std::to_string(env.rcpts.size()) + " reply=\"" + log_safe(decision->reply) + "\"");
        int code = std::stoi(decision->reply.substr(0, 3));
        std::string text = decision->reply.substr(4);
        return code / 100 == 4 ? courierfilter::Verdict::tempfail(text, code)
                               : courierfilter::Verdict::reject(text, code);
    });
    rules.stop_watching();
    return rc;
}
