// courier: the administrative command, `courier start|stop|restart|flush [qid]`
// (courier(8)). Thin main; the work is in admin.cc.
#include <sysexits.h>
#include <cstdio>
#include "courierd/admin.h"

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    auto request = parse_admin_args(args);
    if (!request) {
        std::fputs(request.error().text.c_str(), stderr);
        return EX_USAGE;
    }
    return run_admin(*request);
}
