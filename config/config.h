// Reading the /etc/courier-style configuration: one-line control files (me,
// defaultdomain, ...), list files that may also be a folder of files concatenated
// (locals, ...), shell-style KEY=value files (esmtpd, module.local, courierd), time
// intervals, and the per-message vhost override "filename.<address>" before "filename"
// (courier(8), "Servers with multiple IP addresses").
#pragma once
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include "lib/result.h"

// One meaningful line of a list file, with where it came from ("locals:3", or
// "hosteddomains/a:3" for a folder), so every parse error and policy decision can
// name its line.
struct ConfigLine {
    std::string text;    // trimmed; never blank, never a '#' comment
    std::string where;   // "<name relative to the config folder>:<line>"
};

// The lines of a list file, or of every file of a folder of that name (sorted by file
// name; names starting with '.' or ending in '~' skipped). `label` names the file in
// `where` ("" = the last path component). Missing file: empty.
std::vector<ConfigLine> read_config_lines(const std::string& path, const std::string& label = "");
// The same for text already read: its meaningful lines, numbered from 1 as "<label>:<n>".
std::vector<ConfigLine> split_config_lines(std::string_view text, const std::string& label);
void append_config_lines(std::string_view text, const std::string& label, std::vector<ConfigLine>& out);

class ConfigDir {
public:
    explicit ConfigDir(std::string dir);   // usually paths().config
    const std::string& dir() const { return dir_; }
    std::string path(std::string_view name) const { return dir_ + "/" + std::string(name); }

    // The file that applies to a message whose vhost key is `vhost` (an IP address or
    // an authenticated domain, "" for none): "name.<vhost>" when it exists, else "name".
    std::string file_for(std::string_view name, std::string_view vhost = "") const;
    // First line of a control file (trimmed), nullopt when the file is missing.
    std::optional<std::string> first_line(std::string_view name, std::string_view vhost = "") const;
    // All meaningful lines of a list file, or of every file in the folder of that name
    // (sorted by file name, concatenated). Blank lines and '#' comments are dropped.
    std::vector<std::string> list(std::string_view name, std::string_view vhost = "") const;
    // Like list(), with file:line for each line.
    std::vector<ConfigLine> lines(std::string_view name, std::string_view vhost = "") const;
    bool exists(std::string_view name) const;

    // me: the file, else the fully qualified host name.
    std::string me(std::string_view vhost = "") const;
    // defaultdomain: the file, else me.
    std::string default_domain(std::string_view vhost = "") const;
    // The local domains: locals, else me (courier(8), locals); hostname-dependent
    // entries ("*", "*.example.com") already expanded (expand_hostname_entry).
    std::vector<std::string> locals(std::string_view vhost = "") const;
    bool is_local_domain(std::string_view domain, std::string_view vhost = "") const;

private:
    std::string dir_;
};

// Rule for one `locals` list: exact names, ".domain" wildcards (any subdomain) and
// "!host" exclusions ("!.domain" excludes a whole subtree); the first matching line
// decides. Both sides are compared in normal form (normalize_domain): case, IDN
// spelling (A-label or UTF-8) and a trailing dot make no difference.
bool domain_in_list(std::string_view domain, const std::vector<std::string>& list);
// The entry of `list` that decides `domain` as domain_in_list does (its index), or -1.
int domain_list_match(std::string_view domain, const std::vector<std::string>& list);

// The one normal form in which domains from configuration files and from addresses are
// compared (courier(8): "International domain names should be listed in UTF-8
// lowercase"): lowercase UTF-8 (U-labels; "xn--" A-labels converted through libidn2
// with UTS #46 mapping), no trailing dot. Address literals are only lowercased. A name
// libidn2 rejects is kept, lowercased (it then matches only itself).
std::string normalize_domain(std::string_view domain);

// Hostname-dependent configuration (courier(8)): in locals, esmtpacceptmailfor(.dir),
// hosteddomains and me, an entry "*" stands for the system's fully qualified host name
// and "*.example.com" for its first label followed by ".example.com". A leading '!'
// or '.' is kept in front of the expansion. Other entries are returned unchanged.
std::string expand_hostname_entry(std::string_view entry, std::string_view hostname);

// The blank-separated words of a config line (spaces, tabs, any white space).
std::vector<std::string> split_words(std::string_view line);

// Time intervals as the manual writes them: "300", "5m", "1h30m", "1w", "2d" (units
// s, m, h, d, w; a bare number is seconds). nullopt when malformed.
std::optional<long> parse_interval(std::string_view text);

// A shell-style settings file: NAME=value lines, values optionally in '...' or "...",
// '#' comments. Bad lines are reported as file:line.
class Settings {
public:
    static Result<Settings> load(const std::string& path);
    static Settings parse(std::string_view text, std::vector<std::string>* errors,
                          const std::string& origin = "");
    std::optional<std::string> get(std::string_view name) const;
    std::string get_or(std::string_view name, std::string fallback) const;
    long get_long(std::string_view name, long fallback) const;
    const std::map<std::string, std::string, std::less<>>& all() const { return values_; }
    void set(std::string name, std::string value) { values_[std::move(name)] = std::move(value); }

private:
    std::map<std::string, std::string, std::less<>> values_;
};

// The system's fully qualified host name (gethostname, then canonical name lookup).
std::string system_hostname();
