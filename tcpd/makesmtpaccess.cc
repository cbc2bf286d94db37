// makesmtpaccess: compiles the access file of couriertcpd (makesmtpaccess(8)). Reads
// the text file `smtpaccess` of the configuration folder, or every file of the folder
// `smtpaccess/` in name order, and writes the Berkeley DB `smtpaccess.dat` through a
// temporary file renamed into place, so a running couriertcpd never sees a half-built
// database. A bad line is reported as file:line; then nothing is replaced.
// SECURITY: an administrator's command; it reads only the configuration folder.
#include <dirent.h>
#include <sys/stat.h>
#include <sysexits.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "lib/bdb.h"
#include "lib/fileio.h"
#include "lib/paths.h"
#include "tcpd/access_file.h"

namespace {

constexpr size_t k_max_source_size = 64 * 1024 * 1024;

std::string in_config(const std::string& name) {
    if (name.find('/') != std::string::npos) return name;
    return paths().config + "/" + name;
}

bool is_dir(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// The files to read, in order: the file itself, or the folder's files by name
// (hidden files skipped, as the shell's * does).
Result<std::vector<std::string>> source_files(const std::string& source) {
    if (!is_dir(source)) return std::vector<std::string>{source};
    DIR* d = ::opendir(source.c_str());
    if (!d) return sys_error(source);
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d))
        if (e->d_name[0] != '.') names.emplace_back(e->d_name);
    ::closedir(d);
    std::sort(names.begin(), names.end());
    std::vector<std::string> out;
    for (const auto& n : names)
        if (!is_dir(source + "/" + n)) out.push_back(source + "/" + n);
    return out;
}

// Adds the records of one file; false (after reporting file:line) on a bad line.
bool compile_file(const std::string& file, DbBuilder& db, size_t& records) {
    auto text = read_file(file, k_max_source_size);
    if (!text) {
        std::fprintf(stderr, "makesmtpaccess: %s\n", text.error().text.c_str());
        return false;
    }
    std::string_view rest = *text;
    for (size_t line_no = 1; !rest.empty(); ++line_no) {
        auto nl = rest.find('\n');
        std::string_view line = rest.substr(0, nl);
        rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
        auto recs = tcpd::compile_access_line(line);
        if (!recs) {
            std::fprintf(stderr, "%s:%zu: %s\n", file.c_str(), line_no, recs.error().text.c_str());
            return false;
        }
        for (const auto& [key, value] : *recs) {
            if (Status s = db.put(key, value); !s) {
                std::fprintf(stderr, "makesmtpaccess: %s\n", s.error().text.c_str());
                return false;
            }
            ++records;
        }
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc > 3 || (argc > 1 && argv[1][0] == '-')) {
        std::fprintf(stderr, "usage: makesmtpaccess [source [output]]\n");
        return EX_USAGE;
    }
    std::string source = in_config(argc > 1 ? argv[1] : "smtpaccess");
    std::string output = argc > 2 ? in_config(argv[2]) : source + ".dat";
    if (!path_exists(source)) {
        std::fprintf(stderr, "makesmtpaccess: %s: no such file or folder\n", source.c_str());
        return EX_NOINPUT;
    }
    auto files = source_files(source);
    if (!files) {
        std::fprintf(stderr, "makesmtpaccess: %s\n", files.error().text.c_str());
        return EX_NOINPUT;
    }
    auto db = DbBuilder::create(output, 0644);
    if (!db) {
        std::fprintf(stderr, "makesmtpaccess: %s\n", db.error().text.c_str());
        return EX_CANTCREAT;
    }
    size_t records = 0;
    for (const auto& f : *files)
        if (!compile_file(f, *db, records)) return EX_DATAERR;   // the builder drops its temp file
    if (Status s = db->commit(); !s) {
        std::fprintf(stderr, "makesmtpaccess: %s\n", s.error().text.c_str());
        return EX_CANTCREAT;
    }
    return 0;
}
