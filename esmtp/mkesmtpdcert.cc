// mkesmtpdcert: makes the self-signed certificate courieresmtpd uses for STARTTLS and
// port 465 until a real one is installed: key and certificate in one PEM file,
// <config>/esmtpd.pem by default (the TLS_CERTFILE default), made with the OpenSSL
// API (lib/tls.h), no shell. Refuses to overwrite an existing file unless -f.
// SECURITY: run by the administrator; the file is mode 0600 and, when run as root,
// owned by the mail user, which must read it.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sysexits.h>
#include <unistd.h>
#include "config/config.h"
#include "lib/fileio.h"
#include "lib/paths.h"
#include "lib/process.h"
#include "lib/tls.h"

int main(int argc, char** argv) {
    ConfigDir config(paths().config);
    std::string out = config.path("esmtpd.pem");
    std::string host;
    int days = 365;
    bool force = false, ec = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "-f") force = true;
        else if (a == "-ec") ec = true;
        else if (a == "-days" && i + 1 < argc) days = std::atoi(argv[++i]);
        else if (a == "-host" && i + 1 < argc) host = argv[++i];
        else if (a[0] != '-') out = a;
        else {
            std::fprintf(stderr, "usage: mkesmtpdcert [-f] [-ec] [-days n] [-host name] [file]\n");
            return EX_USAGE;
        }
    }
    if (days <= 0) days = 365;
    if (host.empty()) host = config.me();
    if (path_exists(out) && !force) {
        std::fprintf(stderr, "mkesmtpdcert: %s exists; remove it or use -f\n", out.c_str());
        return EX_CANTCREAT;
    }
    if (Status s = make_self_signed_cert(out, host, days, ec); !s) {
        std::fprintf(stderr, "mkesmtpdcert: %s\n", s.error().text.c_str());
        return EX_SOFTWARE;
    }
    if (::geteuid() == 0) {
        uid_t uid;
        gid_t gid;
        if (lookup_mail_user(&uid, &gid).ok() && ::chown(out.c_str(), uid, gid) < 0) {
            std::perror("mkesmtpdcert: chown");
            return EX_OSERR;
        }
    }
    std::printf("mkesmtpdcert: wrote %s for %s, valid %d days\n", out.c_str(), host.c_str(), days);
    return EX_OK;
}
