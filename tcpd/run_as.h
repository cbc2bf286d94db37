// couriertcpd's -user and -group: looked up before anything is bound (so a typo is
// reported to the administrator, not to the log of a background process) and applied
// once the listening sockets exist. Only root may change ids (couriertcpd(1)).
#pragma once
#include <sys/types.h>
#include <string>
#include "lib/result.h"

struct RunAs {
    bool change_user = false, change_group = false;
    uid_t uid = 0;
    gid_t gid = 0;
    std::string user_name;   // for the supplementary groups of -user
};

// Resolves names or numbers. Fails for unknown ones, and when not root and the
// options ask for ids other than the current ones.
Result<RunAs> resolve_run_as(const std::string& user, const std::string& group);
// setgroups/setgid/setuid as resolved; a no-op when nothing is to change.
Status apply_run_as(const RunAs& r);
