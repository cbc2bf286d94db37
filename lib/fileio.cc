// Durable file primitives: the write/fsync/rename/fsync-directory sequence behind
// every promise that mail is on stable storage.
#include "lib/fileio.h"
#include <algorithm>
#include <cerrno>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

Status write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return sys_error("write");
        }
        data.remove_prefix(static_cast<size_t>(n));
    }
    return ok_status();
}

Result<std::string> read_all(int fd, size_t limit) {
    std::string out;
    char buf[8192];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            return sys_error("read");
        }
        if (n == 0) return out;
        if (out.size() + static_cast<size_t>(n) > limit) return Error{EFBIG, "input larger than limit"};
        out.append(buf, static_cast<size_t>(n));
    }
}

Result<std::string> read_file(const std::string& path, size_t limit) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return sys_error(path);
    auto r = read_all(fd.get(), limit);
    if (!r) return Error{r.error().sys_errno, path + ": " + r.error().text};
    return r;
}

Status fsync_fd(int fd, const std::string& what) {
    while (::fsync(fd) < 0) {
        if (errno != EINTR) return sys_error("fsync " + what);
    }
    return ok_status();
}

Status fsync_dir(const std::string& dir) {
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return sys_error("open " + dir);
    return fsync_fd(fd.get(), dir);
}

std::string dir_of(const std::string& path) {
    auto slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

bool path_exists(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0;
}

std::vector<std::string> directory_names(const std::string& dir) {
    std::vector<std::string> out;
    DIR* d = ::opendir(dir.c_str());
    if (!d) return out;
    while (const dirent* e = ::readdir(d))
        if (e->d_name[0] != '.') out.emplace_back(e->d_name);
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

Status ensure_dir(const std::string& dir, unsigned mode) {
    if (::mkdir(dir.c_str(), mode) == 0) return fsync_dir(dir_of(dir));
    if (errno == EEXIST) return ok_status();
    return sys_error("mkdir " + dir);
}

Status write_file_durably(const std::string& dir, const std::string& name,
                          std::string_view data, unsigned mode) {
    std::string tmp = dir + "/." + name + ".tmp";
    std::string final_path = dir + "/" + name;
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
    if (!fd) return sys_error("create " + tmp);
    Status s = write_all(fd.get(), data);
    if (s) s = fsync_fd(fd.get(), tmp);
    if (s && ::rename(tmp.c_str(), final_path.c_str()) < 0) s = sys_error("rename " + tmp);
    if (!s) {
        ::unlink(tmp.c_str());
        return s;
    }
    return fsync_dir(dir);
}
