// makehosteddomains: compiles hosteddomains (a file or a folder) into
// hosteddomains.dat: hosted domains and their aliases ("alias<TAB>domain"), whose
// user@domain mail goes to the local mailbox "user@domain" (courier(8);
// makehosteddomains(8)). Bad lines: file:line, the old database stays.
// SECURITY: run by the administrator; reads only the config folder.
#include <cstdio>
#include <exception>
#include "submit/makedomaindb.h"

int main(int argc, char** argv) {
    try {
        return submit::run_domain_db_tool(
            {"makehosteddomains", "hosteddomains", "hosteddomains.dat", submit::compile_hosteddomains}, argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "makehosteddomains: %s\n", e.what());
    }
    return 70;   // EX_SOFTWARE
}
