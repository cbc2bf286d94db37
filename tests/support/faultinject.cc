// LD_PRELOAD shim for the fault-injection tests (issue 12): makes write (to regular
// files), fsync, fdatasync, rename and link fail with EIO or ENOSPC at random, in the
// processes named by FAULTINJECT_PROGRAMS (comma-separated program names), with the
// probability FAULTINJECT_RATE per call. Every other process is left alone.
#include <dlfcn.h>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

extern "C" char* program_invocation_short_name;

namespace {
bool active() {
    static int state = -1;
    if (state < 0) {
        const char* progs = std::getenv("FAULTINJECT_PROGRAMS");
        std::string list = std::string(",") + (progs ? progs : "") + ",";
        state = list.find("," + std::string(program_invocation_short_name) + ",") != std::string::npos;
    }
    return state == 1;
}

// Decided per call; seeded per process so forked children differ.
bool fail_now() {
    if (!active()) return false;
    static thread_local std::mt19937 rng(static_cast<unsigned>(::getpid()) * 2654435761u ^
                                         static_cast<unsigned>(std::random_device{}()));
    const char* rate = std::getenv("FAULTINJECT_RATE");
    double p = rate ? std::atof(rate) : 0.1;
    if (std::uniform_real_distribution<double>(0, 1)(rng) >= p) return false;
    errno = (rng() & 1) ? EIO : ENOSPC;
    return true;
}

template <typename F>
F next(const char* name) {
    return reinterpret_cast<F>(::dlsym(RTLD_NEXT, name));
}

bool regular(int fd) {
    struct stat st;
    return ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}
}  // namespace

extern "C" ssize_t write(int fd, const void* buf, size_t n) {
    static auto real = next<ssize_t (*)(int, const void*, size_t)>("write");
    if (regular(fd) && fail_now()) return -1;
    return real(fd, buf, n);
}

extern "C" int fsync(int fd) {
    static auto real = next<int (*)(int)>("fsync");
    if (fail_now()) return -1;
    return real(fd);
}

extern "C" int fdatasync(int fd) {
    static auto real = next<int (*)(int)>("fdatasync");
    if (fail_now()) return -1;
    return real(fd);
}

extern "C" int rename(const char* a, const char* b) {
    static auto real = next<int (*)(const char*, const char*)>("rename");
    if (fail_now()) return -1;
    return real(a, b);
}

extern "C" int link(const char* a, const char* b) {
    static auto real = next<int (*)(const char*, const char*)>("link");
    if (fail_now()) return -1;
    return real(a, b);
}
