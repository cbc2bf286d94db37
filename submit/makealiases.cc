// makealiases: compiles the `aliases` file (or the files of the `aliases/` folder) of
// the configuration folder into aliases.dat, the Berkeley DB file submit reads.
// makealiases(8), aliases(5). Usage: makealiases [-chk] [-dump] [-src=path] [-out=path]
// SECURITY: run by the administrator; it reads :include: files with the caller's
// rights, so submit (the mail user) never has to. Any error leaves the old database.
#include <sysexits.h>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include "config/config.h"
#include "lib/address.h"
#include "lib/bdb.h"
#include "lib/fileio.h"
#include "lib/paths.h"
#include "submit/aliases.h"

namespace {

int usage() {
    std::fputs("usage: makealiases [-chk] [-dump] [-src=path] [-out=path]\n", stderr);
    return EX_USAGE;
}

int run(int argc, char** argv) {
    ConfigDir cfg(paths().config);
    std::string src = cfg.path("aliases"), out = cfg.path("aliases.dat");
    bool check_only = false, dump = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "-chk") check_only = true;
        else if (a == "-dump") dump = true;
        else if (a.rfind("-src=", 0) == 0) src = a.substr(5);
        else if (a.rfind("-out=", 0) == 0) out = a.substr(5);
        else return usage();
    }
    if (dump) {
        if (!path_exists(out)) return EX_OK;
        auto db = DbReader::open(out);
        if (!db) {
            std::fprintf(stderr, "makealiases: %s\n", db.error().text.c_str());
            return EX_NOINPUT;
        }
        db->for_each([](std::string_view k, std::string_view v) {
            std::string list;
            for (const auto& r : submit::decode_alias_value(v)) list += (list.empty() ? "" : ", ") + r;
            std::printf("%.*s: %s\n", int(k.size()), k.data(), list.c_str());
            return true;
        });
        return EX_OK;
    }
    auto files = submit::read_alias_sources(src);
    if (!files) {
        std::fprintf(stderr, "makealiases: %s\n", files.error().text.c_str());
        return EX_NOINPUT;
    }
    std::vector<std::string> locals = cfg.locals();
    auto is_local = [&](std::string_view d) { return domain_in_list(d, locals); };
    auto include = [](const std::string& path, std::string* why) -> std::optional<std::string> {
        auto text = read_file(path, 16 * 1024 * 1024);
        if (!text) {
            *why = text.error().text;
            return std::nullopt;
        }
        return std::move(*text);
    };
    auto compiled = submit::compile_aliases(*files, include, is_local);
    for (const auto& w : compiled.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
    for (const auto& e : compiled.errors) std::fprintf(stderr, "%s\n", e.c_str());
    if (!compiled.errors.empty()) {
        std::fprintf(stderr, "makealiases: %zu error(s), %s not changed\n", compiled.errors.size(),
                     out.c_str());
        return EX_DATAERR;
    }
    if (check_only) return EX_OK;
    auto db = DbBuilder::create(out, 0644);
    if (!db) {
        std::fprintf(stderr, "makealiases: %s\n", db.error().text.c_str());
        return EX_CANTCREAT;
    }
    for (const auto& [key, rcpts] : compiled.table) {
        if (auto st = db->put(key, submit::encode_alias_value(rcpts)); !st) {
            std::fprintf(stderr, "makealiases: %s\n", st.error().text.c_str());
            return EX_IOERR;
        }
    }
    if (auto st = db->commit(); !st) {
        std::fprintf(stderr, "makealiases: %s\n", st.error().text.c_str());
        return EX_IOERR;
    }
    return EX_OK;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "makealiases: %s\n", e.what());
    }
    return EX_SOFTWARE;
}
