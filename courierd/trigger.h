// The trigger FIFO (doc/architecture.md, "The trigger FIFO"): the notices submit and
// `courier flush` write, parsed here and only here, and the FIFO's creation and opening.
// SECURITY: any member of the mail group can write the FIFO, so every line is untrusted:
// a notice names at most a queue id, which is validated before it becomes a path.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include "lib/queue.h"
#include "lib/result.h"
#include "lib/unique_fd.h"

struct TriggerNotice {
    enum class Kind { new_message, flush_all, flush_one };
    Kind kind = Kind::flush_all;
    std::optional<QueueId> id;   // new_message, flush_one
};

// "new <bucket>/Q<qid>", "flush", "flush <qid>"; nullopt for anything else (also a
// bucket that is not the id's own).
std::optional<TriggerNotice> parse_trigger_notice(std::string_view line);
std::string format_flush_notice(const std::optional<QueueId>& id);

// The reading end for courierd: creates the FIFO when missing (mode 0620, owned by
// uid/gid unless they are -1) and opens it O_RDONLY|O_NONBLOCK. `dummy_writer` receives
// a write descriptor that courierd keeps open so the reader never sees EOF (which
// would make poll report the FIFO readable for ever once the last writer closed).
Result<UniqueFd> open_trigger_reader(const std::string& path, uid_t uid, gid_t gid,
                                     UniqueFd* dummy_writer);
// Writes one notice without blocking; fails when nobody reads the FIFO.
Status send_trigger_notice(const std::string& path, std::string_view line);
