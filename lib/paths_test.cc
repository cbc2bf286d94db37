// Unit tests: the narrow COURIER_ROOT exception of set-uid programs (lib/paths.h):
// only an instance that no ordinary user can have made is trusted.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cstdlib>
#include <string>
#include "lib/paths.h"

namespace {
struct InstanceDir {
    std::string root;
    InstanceDir() {
        char tmpl[] = "/tmp/paths-test-XXXXXX";
        root = ::mkdtemp(tmpl);
        ::chmod(root.c_str(), 0755);
        ::mkdir((root + "/etc").c_str(), 0755);
        ::mkdir((root + "/spool").c_str(), 0750);
    }
    ~InstanceDir() {
        ::rmdir((root + "/etc").c_str());
        ::rmdir((root + "/spool").c_str());
        ::unlink((root + "/link").c_str());
        ::rmdir(root.c_str());
    }
};
}  // namespace

TEST_CASE("paths: a set-uid program trusts only an instance no user can have made") {
    InstanceDir d;
    // This process plays the mail user: it owns the spool (and, not root, the rest).
    const uid_t mail = ::getuid();
    CHECK(trusted_instance_root(d.root, mail));
    CHECK_FALSE(trusted_instance_root("relative/path", mail));
    CHECK_FALSE(trusted_instance_root("", mail));
    ::symlink(d.root.c_str(), (d.root + "/link").c_str());
    CHECK_FALSE(trusted_instance_root(d.root + "/link", mail));   // not followed
    ::chmod((d.root + "/etc").c_str(), 0775);
    CHECK_FALSE(trusted_instance_root(d.root, mail));             // etc/ group-writable
    ::chmod((d.root + "/etc").c_str(), 0755);
    ::chmod((d.root + "/spool").c_str(), 0770);
    CHECK_FALSE(trusted_instance_root(d.root, mail));             // spool/ group-writable
    ::chmod((d.root + "/spool").c_str(), 0750);
    ::chmod(d.root.c_str(), 0757);
    CHECK_FALSE(trusted_instance_root(d.root, mail));             // root writable by others
    ::chmod(d.root.c_str(), 0755);
    if (mail != 0) CHECK_FALSE(trusted_instance_root(d.root, mail + 1));   // spool not the mail user's
    else CHECK_FALSE(trusted_instance_root(d.root, 12345));   // root-owned spool, mail user 12345
    // Not set-id (unit tests never are): plain paths() rules apply.
    CHECK(paths_for_setid_program(mail).config == paths().config);
}
