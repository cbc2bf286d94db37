// Reading module.<name>, queuelo, queuehi and queuefill; see module_config.h.
#include "courierd/module_config.h"
#include <dirent.h>
#include <algorithm>
#include <charconv>
#include "lib/log.h"
#include "lib/unique_fd.h"

namespace {

// Limits are small positive counts; anything else in the file is an error.
std::optional<unsigned long> parse_count(std::string_view text) {
    unsigned long v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || p != text.data() + text.size() || v == 0 || v > 1000000)
        return std::nullopt;
    return v;
}

bool is_module_suffix(std::string_view s) {
    if (s.empty()) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    });
}

}  // namespace

Result<ModuleConfig> module_from_settings(const Settings& s, const std::string& suffix,
                                          const std::string& libexec) {
    ModuleConfig m;
    m.name = s.get_or("NAME", suffix);
    if (!is_module_suffix(m.name)) return Error{0, "module." + suffix + ": bad NAME"};
    auto prog = s.get("PROG");
    if (!prog || prog->empty()) return Error{0, "module." + suffix + ": PROG missing"};
    m.prog = (*prog)[0] == '/' ? *prog : libexec + "/" + *prog;
    struct Field { const char* key; unsigned* out; };
    for (Field f : {Field{"MAXDELS", &m.maxdels}, Field{"MAXHOST", &m.maxhost},
                    Field{"MAXRCPT", &m.maxrcpt}}) {
        auto v = s.get(f.key);
        if (!v) continue;
        auto n = parse_count(*v);
        if (!n) return Error{0, "module." + suffix + ": bad " + f.key + " \"" + *v + "\""};
        *f.out = static_cast<unsigned>(*n);
    }
    m.maxhost = std::min(m.maxhost, m.maxdels);
    return m;
}

std::vector<ModuleConfig> load_module_configs(const ConfigDir& config,
                                              const std::string& libexec) {
    std::vector<std::string> suffixes;
    if (DIR* d = opendir(config.dir().c_str())) {
        while (dirent* e = readdir(d)) {
            std::string_view n = e->d_name;
            if (n.substr(0, 7) == "module." && is_module_suffix(n.substr(7)))
                suffixes.emplace_back(n.substr(7));
        }
        closedir(d);
    }
    std::sort(suffixes.begin(), suffixes.end());
    std::vector<ModuleConfig> out;
    for (const auto& suffix : suffixes) {
        auto s = Settings::load(config.path("module." + suffix));
        if (!s) { log_error("courierd: " + s.error().text); continue; }
        auto m = module_from_settings(*s, suffix, libexec);
        if (!m) { log_error("courierd: " + m.error().text); continue; }
        bool dup = std::any_of(out.begin(), out.end(),
                               [&](const ModuleConfig& o) { return o.name == m->name; });
        if (dup) { log_error("courierd: module." + suffix + ": duplicate NAME"); continue; }
        out.push_back(std::move(*m));
    }
    return out;
}

QueueLimits compute_queue_limits(const std::vector<ModuleConfig>& modules,
                                 std::optional<std::string> lo_file,
                                 std::optional<std::string> hi_file,
                                 std::optional<std::string> fill_file) {
    QueueLimits q;
    size_t slots = 0;
    for (const auto& m : modules) slots += m.maxdels;
    q.lo = std::max<size_t>(200, slots);
    if (lo_file) {
        if (auto v = parse_count(*lo_file)) q.lo = *v;
        else log_warning("courierd: queuelo: bad value, using the default");
    }
    q.hi = std::min(2 * q.lo, q.lo + 1000);
    if (hi_file) {
        if (auto v = parse_count(*hi_file)) q.hi = *v;
        else log_warning("courierd: queuehi: bad value, using the default");
    }
    // A queuehi below queuelo would refill for ever without ever reaching queuelo.
    q.hi = std::max(q.hi, q.lo);
    if (fill_file) {
        auto v = parse_interval(*fill_file);
        if (v && *v >= 0) q.fill = *v;
        else log_warning("courierd: queuefill: bad interval, using the default");
    }
    return q;
}

QueueLimits load_queue_limits(const ConfigDir& config, const std::vector<ModuleConfig>& modules) {
    return compute_queue_limits(modules, config.first_line("queuelo"),
                                config.first_line("queuehi"), config.first_line("queuefill"));
}
