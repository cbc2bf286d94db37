// The userdb: SMTP AUTH accounts in Courier's userdb text format, compiled by
// makeuserdb into a Berkeley DB file that courieresmtpd reads.
//
//   <config>/userdb          text (or a folder of text files, read in name order):
//                            name<TAB>field=value|field=value...   '#' comments
//   <config>/userdb.dat      name -> "field=value|..." (makeuserdb; mode 0600)
//
// Fields used here: systempw (a crypt(3) hash, SHA-512 "$6$" from userdbpw) and
// crammd5pw (the CRAM-MD5 shared secret, base64, from userdbpw -cram-md5). Other
// Courier fields (uid, gid, home, ...) are kept and ignored.
// SECURITY: the .dat file holds password hashes and CRAM-MD5 secrets: readable by
// the mail user only.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include "esmtp/auth_sasl.h"
#include "lib/bdb.h"
#include "lib/result.h"

namespace esmtp {

struct UserDbEntry {
    std::string name;
    std::string fields;   // "field=value|..." as written
};
// One line of the text file: nullopt for blank lines and comments; an Error for
// malformed lines (no TAB, an empty name, a field without '=').
Result<std::optional<UserDbEntry>> parse_userdb_line(std::string_view line);
std::map<std::string, std::string> userdb_fields(std::string_view fields);

// Reads the text file or folder and writes the database (makeuserdb).
Status build_userdb(const std::string& source, const std::string& db_path, unsigned* count);

// crypt(3) with a new SHA-512 salt (userdbpw), and the check of a password against it.
Result<std::string> hash_password(const std::string& password);
bool check_crypt(const std::string& password, const std::string& hash);

class UserDbBackend : public AuthBackend {
public:
    explicit UserDbBackend(std::string db_path) : path_(std::move(db_path)) {}
    Verdict check_password(const std::string& user, const std::string& password) override;
    std::optional<std::string> cram_secret(const std::string& user) override;
    bool supports_cram() const override { return true; }

private:
    // nullopt: no such user; Error: the database cannot be read.
    Result<std::optional<std::map<std::string, std::string>>> lookup(const std::string& user);
    std::string path_;
};

}  // namespace esmtp
