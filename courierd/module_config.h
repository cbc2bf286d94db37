// courierd's settings: the module.<name> files that describe the delivery modules
// (doc/architecture.md, "courierd and the modules") and the queuelo/queuehi/queuefill
// limits of the in-memory queue (courier(8)).
#pragma once
#include <optional>
#include <string>
#include <vector>
#include "config/config.h"

struct ModuleConfig {
    std::string name;        // NAME: matches the "module" record of recipients
    std::string prog;        // PROG: absolute path of the program
    unsigned maxdels = 1;    // deliveries in progress at once
    unsigned maxhost = 1;    // deliveries in progress to one host
    unsigned maxrcpt = 1;    // recipients per delivery
};

// Parses one module.<name> file's settings; `suffix` is the <name> of the file name,
// the default NAME. A relative PROG is taken under `libexec`. Errors name the file.
Result<ModuleConfig> module_from_settings(const Settings& s, const std::string& suffix,
                                          const std::string& libexec);
// Every module.<name> file in the configuration folder, in name order. Names with a
// further dot (module.local.dist, backups) are not modules. Bad files are logged and
// skipped.
std::vector<ModuleConfig> load_module_configs(const ConfigDir& config,
                                              const std::string& libexec);

struct QueueLimits {
    size_t lo = 200;        // refill the memory queue when it holds fewer messages
    size_t hi = 400;        // never hold more messages in memory
    long fill = 300;        // queuefill: seconds; 0 turns periodic refilling off
};
// Defaults per courier(8): queuelo = max(200, total MAXDELS), queuehi =
// min(2*queuelo, queuelo+1000); the queuelo, queuehi and queuefill files override.
QueueLimits compute_queue_limits(const std::vector<ModuleConfig>& modules,
                                 std::optional<std::string> lo_file,
                                 std::optional<std::string> hi_file,
                                 std::optional<std::string> fill_file);
QueueLimits load_queue_limits(const ConfigDir& config, const std::vector<ModuleConfig>& modules);
