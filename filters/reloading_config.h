// A configuration file the bundled filters (pcrefilter, ratelimit) re-read without a
// restart: when the file changes (inode, size or modification time), when it is checked
// by a message or once a second, and at once after SIGHUP. A file that does not load
// (a bad regex, a bad line) is refused as a whole with the loader's file:line error and
// the previous version stays in force, so a typo never opens or closes the gate.
#pragma once
#include <sys/stat.h>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include "lib/log.h"
#include "lib/result.h"

// Set by the SIGHUP handler (install_reload_signal); the watcher thread reloads.
extern std::atomic<bool> g_reload_requested;
void install_reload_signal();

template <typename T>
class ReloadingConfig {
public:
    using Loader = std::function<Result<T>(const std::string& path)>;
    // what: a name for log lines ("rules"); describe: a summary of a loaded config.
    ReloadingConfig(std::string path, Loader loader, std::string what,
                    std::function<std::string(const T&)> describe)
        : path_(std::move(path)), loader_(std::move(loader)), what_(std::move(what)),
          describe_(std::move(describe)) {}
    ~ReloadingConfig() { stop_watching(); }

    // The first load: an error here means the filter cannot start.
    Status load() {
        std::lock_guard<std::mutex> g(mu_);
        Stamp s = stamp();
        auto loaded = loader_(path_);
        if (!loaded) return loaded.error();
        current_ = std::make_shared<const T>(std::move(*loaded));
        loaded_ = s;
        refused_ = kNever;
        log_info("loaded " + what_ + " file=" + log_safe(path_) + " " + describe_(*current_));
        return ok_status();
    }

    // The version in force, after re-reading the file if it changed.
    std::shared_ptr<const T> current() {
        refresh(false);
        std::lock_guard<std::mutex> g(mu_);
        return current_;
    }

    // Reloads when the file changed since the last attempt, or always when forced.
    void refresh(bool force) {
        std::lock_guard<std::mutex> g(mu_);
        Stamp s = stamp();
        if (!force && (s == loaded_ || s == refused_)) return;
        auto loaded = loader_(path_);
        if (!loaded) {
            refused_ = s;   // logged once per version of the file, not once per message
            log_error("refused " + what_ + " file=" + log_safe(path_) + " error=" + log_safe(loaded.error().text) +
                      " (the previous " + what_ + " stay in force)");
            return;
        }
        current_ = std::make_shared<const T>(std::move(*loaded));
        loaded_ = s;
        refused_ = kNever;
        log_info("reloaded " + what_ + " file=" + log_safe(path_) + " " + describe_(*current_));
    }

    // A thread that checks the file once a second and answers SIGHUP.
    void start_watching() {
        watcher_ = std::thread([this] {
            while (!stopping_.load()) {
                for (int i = 0; i < 10 && !stopping_.load() && !g_reload_requested.load(); ++i)
                    std::this_thread::sleep_for(std::chrono::milliseconds(100));
                refresh(g_reload_requested.exchange(false));
            }
        });
    }
    void stop_watching() {
        stopping_.store(true);
        if (watcher_.joinable()) watcher_.join();
    }

private:
    struct Stamp {
        bool exists = false;
        dev_t dev = 0;
        ino_t ino = 0;
        off_t size = 0;
        long mtime_sec = 0, mtime_nsec = 0;
        bool operator==(const Stamp&) const = default;
    };
    Stamp stamp() const {
        struct stat st;
        if (::stat(path_.c_str(), &st) != 0) return Stamp{};
        return Stamp{true, st.st_dev, st.st_ino, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec};
    }

    std::string path_;
    Loader loader_;
    std::string what_;
    std::function<std::string(const T&)> describe_;
    std::mutex mu_;
    std::shared_ptr<const T> current_;
    static constexpr Stamp kNever{true, 0, 0, -1, 0, 0};   // matches no real file
    Stamp loaded_ = kNever, refused_ = kNever;
    std::atomic<bool> stopping_{false};
    std::thread watcher_;
};
