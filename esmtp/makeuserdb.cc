// makeuserdb: compiles the userdb text file (or folder) of the configuration into
// userdb.dat, the Berkeley DB that courieresmtpd's AUTH reads (auth_userdb.h).
// SECURITY: run by the administrator. The database holds password hashes and CRAM-MD5
// secrets: it is written mode 0600 and, when run as root, given to the mail user
// (courieresmtpd reads it after dropping to that user).
#include <cstdio>
#include <cstring>
#include <sysexits.h>
#include <unistd.h>
#include "config/config.h"
#include "esmtp/auth_userdb.h"
#include "lib/paths.h"
#include "lib/process.h"

int main(int argc, char** argv) {
    ConfigDir config(paths().config);
    std::string source = config.path("userdb"), db = config.path("userdb.dat");
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "-f") == 0 && i + 1 < argc) source = argv[++i];
        else if (std::strcmp(argv[i], "-o") == 0 && i + 1 < argc) db = argv[++i];
        else {
            std::fprintf(stderr, "usage: makeuserdb [-f source] [-o database]\n");
            return EX_USAGE;
        }
    }
    unsigned count = 0;
    if (Status s = esmtp::build_userdb(source, db, &count); !s) {
        std::fprintf(stderr, "makeuserdb: %s\n", s.error().text.c_str());
        return EX_DATAERR;
    }
    if (::geteuid() == 0) {
        uid_t uid;
        gid_t gid;
        if (lookup_mail_user(&uid, &gid).ok() && ::chown(db.c_str(), uid, gid) < 0) {
            std::perror("makeuserdb: chown");
            return EX_OSERR;
        }
    }
    std::printf("makeuserdb: %u accounts in %s\n", count, db.c_str());
    return EX_OK;
}
