// Paths in force: configure-time directories, or all under COURIER_ROOT (read with
// secure_getenv so that set-uid/set-gid programs never honour it).
#include "lib/paths.h"
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

const char* mail_user_name() { return COURIER_MAILUSER; }
const char* mail_group_name() { return COURIER_MAILGROUP; }
