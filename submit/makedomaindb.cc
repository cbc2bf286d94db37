// The shared main of the domain database tools (makedomaindb.h).
#include "submit/makedomaindb.h"
#include <sysexits.h>
#include <cstdio>
#include "config/config.h"
#include "lib/bdb.h"
#include "lib/fileio.h"
#include "lib/paths.h"

namespace submit {

namespace {

int fail(const DomainDbTool& t, const std::string& why, int code) {
    std::fprintf(stderr, "%s: %s\n", t.program, why.c_str());
    return code;
}

int dump(const DomainDbTool& t, const std::string& out) {
    if (!path_exists(out)) return EX_OK;
    auto db = DbReader::open(out);
    if (!db) return fail(t, db.error().text, EX_NOINPUT);
    db->for_each([](std::string_view k, std::string_view v) {
        std::printf("%.*s\t%.*s\n", int(k.size()), k.data(), int(v.size()), v.data());
        return true;
    });
    return EX_OK;
}

}  // namespace

int run_domain_db_tool(const DomainDbTool& t, int argc, char** argv) {
    ConfigDir cfg(paths().config);
    std::string src = cfg.path(t.source), out = cfg.path(t.output);
    bool check_only = false, want_dump = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "-chk") check_only = true;
        else if (a == "-dump") want_dump = true;
        else if (a.rfind("-src=", 0) == 0) src = a.substr(5);
        else if (a.rfind("-out=", 0) == 0) out = a.substr(5);
        else return fail(t, "usage: " + std::string(t.program) + " [-chk] [-dump] [-src=path] [-out=path]", EX_USAGE);
    }
    if (want_dump) return dump(t, out);
    // A missing source compiles to an empty database: nothing is accepted through it.
    std::string label = src == cfg.path(t.source) ? t.source : "";
    CompiledDomains compiled = t.compile(read_config_lines(src, label), system_hostname());
    for (const auto& e : compiled.errors) std::fprintf(stderr, "%s\n", e.c_str());
    if (!compiled.errors.empty())
        return fail(t, std::to_string(compiled.errors.size()) + " error(s), " + out + " not changed", EX_DATAERR);
    if (check_only) return EX_OK;
    auto db = DbBuilder::create(out, 0644);
    if (!db) return fail(t, db.error().text, EX_CANTCREAT);
    for (const auto& [key, value] : compiled.table)
        if (auto st = db->put(key, value); !st) return fail(t, st.error().text, EX_IOERR);
    if (auto st = db->commit(); !st) return fail(t, st.error().text, EX_IOERR);
    return EX_OK;
}

}  // namespace submit
