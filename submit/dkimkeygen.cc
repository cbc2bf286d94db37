// dkimkeygen: makes a DKIM signing key for submit (courier-dkim(5), dkimkeygen(8)):
// writes <config>/dkim/<domain>/<selector>.private (PEM, mode 0600) and prints the
// TXT record to publish at <selector>._domainkey.<domain>.
// SECURITY: run by the administrator. The key folder and key are given to the mail
// user when run as root (submit signs as that user); nobody else may read the key.
// An existing key is never overwritten: replacing a published key breaks signatures.
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <string>
#include "config/config.h"
#include "lib/address.h"
#include "lib/dkim.h"
#include "lib/fileio.h"
#include "lib/paths.h"
#include "lib/process.h"

namespace {

int usage() {
    std::fprintf(stderr, "usage: dkimkeygen [-t rsa|ed25519] [-b bits] domain selector\n");
    return EX_USAGE;
}

bool valid_selector(const std::string& s) {
    return !s.empty() && s.size() <= 63 && s.front() != '.' && s.front() != '-' &&
           std::all_of(s.begin(), s.end(), [](char c) {
               return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
           }) && s.find("..") == std::string::npos;
}

// A folder of the key tree: created mode 0750, owned by the mail user when root.
bool make_private_dir(const std::string& dir, uid_t uid, gid_t gid, bool chown_it) {
    if (::mkdir(dir.c_str(), 0750) < 0 && errno != EEXIST) {
        std::fprintf(stderr, "dkimkeygen: %s: %s\n", dir.c_str(), std::strerror(errno));
        return false;
    }
    if (chown_it && ::chown(dir.c_str(), uid, gid) < 0) {
        std::fprintf(stderr, "dkimkeygen: chown %s: %s\n", dir.c_str(), std::strerror(errno));
        return false;
    }
    return true;
}

// A zone file line: TXT character-strings are at most 255 bytes, so the record is
// split into several quoted strings that resolvers join again.
std::string txt_line(const std::string& name, const std::string& record) {
    std::string out = name + ". IN TXT";
    for (size_t i = 0; i < record.size(); i += 250) out += " \"" + record.substr(i, 250) + "\"";
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    dkim::KeyType type = dkim::KeyType::rsa;
    int bits = 2048;
    int opt;
    while ((opt = ::getopt(argc, argv, "t:b:")) != -1) {
        if (opt == 't' && std::strcmp(optarg, "rsa") == 0) type = dkim::KeyType::rsa;
        else if (opt == 't' && std::strcmp(optarg, "ed25519") == 0) type = dkim::KeyType::ed25519;
        else if (opt == 'b') bits = std::atoi(optarg);
        else return usage();
    }
    if (argc - optind != 2) return usage();
    std::string domain = lowercase_ascii(argv[optind]), selector = argv[optind + 1];
    if (!domain.empty() && domain.back() == '.') domain.pop_back();
    if (domain.empty() || domain.front() == '[' || !is_valid_domain(domain)) {
        std::fprintf(stderr, "dkimkeygen: not a domain name: %s\n", argv[optind]);
        return EX_USAGE;
    }
    if (!valid_selector(selector)) {
        std::fprintf(stderr, "dkimkeygen: not a selector (letters, digits, '-', '_', '.'): %s\n",
                     selector.c_str());
        return EX_USAGE;
    }
    if (type == dkim::KeyType::rsa && (bits < 1024 || bits > 8192)) {
        std::fprintf(stderr, "dkimkeygen: -b must be from 1024 to 8192 (RFC 8301)\n");
        return EX_USAGE;
    }
    ConfigDir cfg(paths().config);
    uid_t uid = 0;
    gid_t gid = 0;
    bool root = ::geteuid() == 0;
    if (root && !lookup_mail_user(&uid, &gid).ok()) {
        std::fprintf(stderr, "dkimkeygen: no mail user %s\n", mail_user_name());
        return EX_NOUSER;
    }
    std::string top = cfg.path("dkim"), dir = top + "/" + domain, file = selector + ".private";
    if (path_exists(dir + "/" + file)) {
        std::fprintf(stderr, "dkimkeygen: %s/%s exists; remove it first to replace the key\n", dir.c_str(),
                     file.c_str());
        return EX_CANTCREAT;
    }
    if (!make_private_dir(top, uid, gid, root) || !make_private_dir(dir, uid, gid, root)) return EX_CANTCREAT;
    auto key = dkim::generate_key(type, bits);
    if (!key) {
        std::fprintf(stderr, "dkimkeygen: %s\n", key.error().text.c_str());
        return EX_SOFTWARE;
    }
    if (Status st = write_file_durably(dir, file, dkim::private_key_pem(*key), 0600); !st) {
        std::fprintf(stderr, "dkimkeygen: %s\n", st.error().text.c_str());
        return EX_CANTCREAT;
    }
    std::string path = dir + "/" + file;
    if (root && ::chown(path.c_str(), uid, gid) < 0) {
        std::fprintf(stderr, "dkimkeygen: chown %s: %s\n", path.c_str(), std::strerror(errno));
        return EX_OSERR;
    }
    std::fprintf(stderr, "dkimkeygen: wrote %s; publish this record:\n", path.c_str());
    std::printf("%s\n", txt_line(selector + "._domainkey." + domain,
                                 dkim::format_key_record(type, dkim::public_key_bytes(*key))).c_str());
    return EX_OK;
}
