// Paths in force: configure-time directories, or all under COURIER_ROOT (read with
// secure_getenv so that set-uid/set-gid programs never honour it).
#include "lib/paths.h"
#include <sys/auxv.h>
#include <sys/stat.h>
#include <cstdlib>

Paths paths_under_root(const std::string& root) {
    Paths p;
    p.root = root;
    p.config = root + "/etc";
    p.spool = root + "/spool";
    p.libexec = root + "/libexec";
    p.sbin = root + "/sbin";
    p.bin = root + "/bin";
    p.run = root + "/run";
    p.log = root + "/log";
    return p;
}

static Paths compute_paths() {
    const char* root = ::secure_getenv("COURIER_ROOT");
    if (root && *root) return paths_under_root(root);
    Paths p;
    p.config = COURIER_SYSCONFDIR;
    p.spool = COURIER_SPOOLDIR;
    p.libexec = COURIER_LIBEXECDIR;
    p.sbin = COURIER_SBINDIR;
    p.bin = COURIER_BINDIR;
    p.run = COURIER_RUNDIR;
    return p;
}

const Paths& paths() {
    static const Paths p = compute_paths();
    return p;
}

namespace {
// A folder owned by root or `owner` that nobody else may write to.
bool safe_dir(const std::string& path, uid_t owner) {
    struct stat st{};
    return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode) &&
           (st.st_uid == 0 || st.st_uid == owner) && (st.st_mode & (S_IWGRP | S_IWOTH)) == 0;
}
}  // namespace

bool trusted_instance_root(const std::string& root, uid_t mail_uid) {
    if (root.empty() || root[0] != '/') return false;
    struct stat st{};
    return safe_dir(root, mail_uid) && safe_dir(root + "/etc", mail_uid) &&
           ::lstat((root + "/spool").c_str(), &st) == 0 && S_ISDIR(st.st_mode) &&
           st.st_uid == mail_uid && (st.st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

Paths paths_for_setid_program(uid_t mail_uid) {
    if (::getauxval(AT_SECURE) == 0) return paths();
    // getenv, not secure_getenv: the instance's ownership is checked instead.
    const char* root = std::getenv("COURIER_ROOT");
    if (root && trusted_instance_root(root, mail_uid)) return paths_under_root(root);
    return paths();
}

const char* mail_user_name() { return COURIER_MAILUSER; }
const char* mail_group_name() { return COURIER_MAILGROUP; }
