// Spool reading and status log writing for the scheduler; see queue_scan.h.
#include "courierd/queue_scan.h"
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <csignal>
#include <cstdlib>
#include <algorithm>
#include <cerrno>
#include <vector>
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/process.h"

namespace {

// A status log holds a few lines per recipient and attempt; far beyond that it is not
// ours to read whole.
constexpr size_t kMaxStatusLog = 16 * 1024 * 1024;

std::vector<std::string> sorted_names(const std::string& dir) {
    std::vector<std::string> names;
    if (DIR* d = opendir(dir.c_str())) {
        while (dirent* e = readdir(d))
            if (e->d_name[0] != '.') names.emplace_back(e->d_name);
        closedir(d);
    }
    std::sort(names.begin(), names.end());
    return names;
}

bool is_bucket_name(const std::string& n) {
    return n.size() == 5 && std::all_of(n.begin(), n.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
    });
}

// submit names its tmp files T<qid>, and a queue id carries submit's pid: a file whose
// writer is gone can never be committed. EPERM means the pid is in use: keep the file.
bool writer_is_gone(const std::string& name) {
    if (name.size() < 2 || name[0] != 'T') return false;
    auto id = QueueId::parse(std::string_view(name).substr(1));
    if (!id) return false;
    long pid = std::strtol(id->text.substr(9, 8).c_str(), nullptr, 16);
    return pid > 1 && process_exited(static_cast<pid_t>(pid));
}

}  // namespace

void clean_spool_tmp(const std::string& tmp_dir, std::time_t now, long max_age) {
    for (const auto& name : sorted_names(tmp_dir)) {
        std::string path = tmp_dir + "/" + name;
        struct stat st;
        if (lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (st.st_mtime + max_age >= now && !writer_is_gone(name)) continue;
        if (unlink(path.c_str()) == 0)
            log_info("courierd: removed stale " + log_safe(path));
    }
}

bool scan_spool(const std::string& msgs_dir, const std::function<bool(const QueueId&)>& visit) {
    for (const auto& bucket : sorted_names(msgs_dir)) {
        if (!is_bucket_name(bucket)) continue;
        std::string dir = msgs_dir + "/" + bucket;
        std::vector<std::string> names = sorted_names(dir);
        for (const auto& name : names) {
            auto id = QueueId::parse(std::string_view(name).substr(1));
            if (!id || id->bucket() != bucket) continue;
            if (name[0] == 'S') {
                if (!std::binary_search(names.begin(), names.end(), "Q" + id->text) &&
                    !path_exists(dir + "/Q" + id->text))
                    unlink((dir + "/" + name).c_str());
                continue;
            }
            if (name[0] == 'Q' && !visit(*id)) return false;
        }
    }
    return true;
}

Result<LoadedMessage> load_message(const std::string& spool, const QueueId& id) {
    LoadedMessage m;
    m.queue_file = queue_file_path(spool, id);
    size_t data_offset = 0;
    auto env = read_envelope(m.queue_file, &data_offset);
    if (!env) return env.error();
    if (env->id.text != id.text)
        return Error{0, m.queue_file + ": id record says " + env->id.text};
    m.envelope = std::move(*env);
    std::string status_path = status_file_path(spool, id);
    auto log = read_file(status_path, kMaxStatusLog);
    if (!log && log.error().sys_errno != ENOENT) return log.error();
    m.status = summarize_status(log ? parse_status_log(*log) : std::vector<StatusRecord>{},
                                m.envelope.rcpts.size());
    return m;
}

Status remove_message_files(const std::string& spool, const QueueId& id) {
    std::string q = queue_file_path(spool, id);
    if (unlink(q.c_str()) != 0 && errno != ENOENT) return sys_error("unlink " + q);
    std::string s = status_file_path(spool, id);
    if (unlink(s.c_str()) != 0 && errno != ENOENT) return sys_error("unlink " + s);
    return ok_status();
}

Status append_status(const std::string& spool, const QueueId& id, const StatusRecord& r,
                     bool durable) {
    std::string path = status_file_path(spool, id);
    bool created = false;
    UniqueFd fd(open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
    if (!fd && errno == ENOENT) {
        fd.reset(open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0640));
        created = fd.valid();
    }
    if (!fd) return sys_error("open " + path);
    if (Status s = write_all(fd.get(), format_status(r)); !s) return s;
    if (durable)
        if (Status s = fsync_fd(fd.get(), path); !s) return s;
    // A new file's name is durable only once its directory is synced; done at creation
    // even for a deferred record, so later durable appends need no directory sync.
    return created ? fsync_dir(dir_of(path)) : ok_status();
}
