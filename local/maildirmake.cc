// maildirmake: creates a Maildir (tmp/ new/ cur/, mode 0700), a Maildir++ folder in
// one (-f name: "<maildir>/.name" with its maildirfolder marker), or sets the quota of
// one (-q "<bytes>S,<count>C": writes maildirsize with the quota and the current usage).
// Usage: maildirmake [-q quota] [-f folder] maildir. Runs as the invoking user; it
// changes no ids and touches only the folder named on its command line.
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include "lib/fileio.h"
#include "local/quota.h"

namespace {

int usage() {
    std::fputs("usage: maildirmake [-q quota] [-f folder] maildir\n", stderr);
    return EX_USAGE;
}

int fail(const std::string& what) {
    std::fprintf(stderr, "maildirmake: %s\n", what.c_str());
    return 1;
}

// mkdir that refuses an existing path (maildirmake never adopts a folder by accident).
bool make_dir(const std::string& path, std::string* error) {
    if (::mkdir(path.c_str(), 0700) != 0) {
        *error = path + ": " + std::strerror(errno);
        return false;
    }
    return true;
}

bool make_maildir(const std::string& dir, std::string* error) {
    for (const std::string& d : {dir, dir + "/tmp", dir + "/new", dir + "/cur"})
        if (!make_dir(d, error)) return false;
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    std::optional<std::string> quota, folder;
    int opt;
    while ((opt = ::getopt(argc, argv, "q:f:")) != -1) {
        if (opt == 'q') quota = optarg;
        else if (opt == 'f') folder = optarg;
        else return usage();
    }
    if (optind != argc - 1) return usage();
    std::string dir = argv[optind];
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    ::umask(077);
    std::string error;
    if (folder) {
        if (folder->empty() || folder->find('/') != std::string::npos || (*folder)[0] == '.')
            return fail("invalid folder name: " + *folder);
        std::string sub = dir + "/." + *folder;
        if (!make_maildir(sub, &error)) return fail(error);
        // The Maildir++ marker: deliveries into this folder count against the parent.
        if (auto st = write_file_durably(sub, "maildirfolder", "", 0600); !st)
            return fail(st.error().text);
        return 0;
    }
    if (quota) {
        auto q = local::parse_quota(*quota);
        if (!q) return fail("invalid quota: " + *quota + " (want e.g. 10000000S,1000C)");
        if (!path_exists(dir) && !make_maildir(dir, &error)) return fail(error);
        if (auto st = local::write_maildirsize(dir, *q, local::scan_usage(dir)); !st)
            return fail(st.error().text);
        return 0;
    }
    if (!make_maildir(dir, &error)) return fail(error);
    return 0;
}
