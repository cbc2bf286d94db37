// makeacceptmailfor: compiles the files of esmtpacceptmailfor.dir into
// esmtpacceptmailfor.dat, the domains submit accepts mail for from any SMTP client
// and relays onward (courier(8); makeacceptmailfor(8)). Bad lines: file:line, the old
// database stays. SECURITY: run by the administrator; reads only the config folder.
#include <cstdio>
#include <exception>
#include "submit/makedomaindb.h"

int main(int argc, char** argv) {
    try {
        return submit::run_domain_db_tool(
            {"makeacceptmailfor", "esmtpacceptmailfor.dir", "esmtpacceptmailfor.dat", submit::compile_acceptmailfor},
            argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "makeacceptmailfor: %s\n", e.what());
    }
    return 70;   // EX_SOFTWARE
}
