// Local mail aliases: the text form (the `aliases` file, or every file of the
// `aliases/` folder) compiled by makealiases into aliases.dat, and the lookup submit
// makes for each local recipient. makealiases(8), aliases(5).
// Aliases are expanded completely at compile time: nested aliases are resolved,
// :include: lists read, loops reported. submit then needs one lookup per recipient
// and never reads an administrator's include file with the mail user's rights.
#pragma once
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include "lib/bdb.h"
#include "lib/result.h"

namespace submit {

// One text file of aliases: its name (for messages) and contents.
struct AliasFile {
    std::string origin;
    std::string text;
};

// Reads an :include: file; nullopt (with the reason in *why) when it cannot be read.
using IncludeReader = std::function<std::optional<std::string>(const std::string& path,
                                                               std::string* why)>;
// Domains that are "this host": alias names and targets in them are keyed by their
// local part alone (name@me and name are the same alias).
using IsLocalDomain = std::function<bool(std::string_view domain)>;

struct CompiledAliases {
    // Key: lowercase alias name ("name", or "name@domain" for other domains, such as
    // hosted domains). Value: the final recipients, in order, each once.
    std::map<std::string, std::vector<std::string>> table;
    std::vector<std::string> errors;     // "file:line: text"; any error: nothing is built
    std::vector<std::string> warnings;
};

CompiledAliases compile_aliases(const std::vector<AliasFile>& files, const IncludeReader& include,
                                const IsLocalDomain& is_local);

// The lookup key of an alias name or recipient: lowercased; the domain dropped when
// it is local. "" when the text is not an address.
std::string alias_key(std::string_view address, const IsLocalDomain& is_local);

// Values in aliases.dat: the recipients joined with LF.
std::string encode_alias_value(const std::vector<std::string>& rcpts);
std::vector<std::string> decode_alias_value(std::string_view value);

// The `aliases` file, or the files of the `aliases/` folder (sorted, skipping names
// starting with '.' or ending with '~'), of a configuration folder.
Result<std::vector<AliasFile>> read_alias_sources(const std::string& path);

// submit's view of aliases.dat: opened on first use, a missing file means no aliases.
class AliasTable {
public:
    explicit AliasTable(std::string path) : path_(std::move(path)) {}
    std::optional<std::vector<std::string>> lookup(const std::string& key);

private:
    std::string path_;
    std::optional<DbReader> db_;
    bool tried_ = false;
};

}  // namespace submit
