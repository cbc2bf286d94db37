// couriertcpd's -user/-group (couriertcpd(1)). SECURITY: the only place couriertcpd
// gives up root; supplementary groups go first, then the gid, then the uid, so no
// root group survives the switch.
#include "tcpd/run_as.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

#include "lib/process.h"

namespace {

template <typename T>
bool parse_id(const std::string& s, T& out) {
    unsigned long v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return false;
    out = static_cast<T>(v);
    return static_cast<unsigned long>(out) == v;
}

Status resolve_user(const std::string& user, RunAs& r) {
    uid_t uid = 0;
    const passwd* pw = parse_id(user, uid) ? ::getpwuid(uid) : ::getpwnam(user.c_str());
    if (!pw) return Error{ENOENT, "-user: no such user " + user};
    r.change_user = true;
    r.uid = pw->pw_uid;
    r.gid = pw->pw_gid;   // the user's own group unless -group says otherwise
    r.user_name = pw->pw_name;
    return ok_status();
}

Status resolve_group(const std::string& group, RunAs& r) {
    gid_t gid = 0;
    if (parse_id(group, gid)) {
        r.gid = gid;
    } else {
        const struct group* gr = ::getgrnam(group.c_str());
        if (!gr) return Error{ENOENT, "-group: no such group " + group};
        r.gid = gr->gr_gid;
    }
    r.change_group = true;
    return ok_status();
}

}  // namespace

Result<RunAs> resolve_run_as(const std::string& user, const std::string& group) {
    RunAs r;
    if (!user.empty())
        if (Status s = resolve_user(user, r); !s) return s.error();
    if (!group.empty())
        if (Status s = resolve_group(group, r); !s) return s.error();
    if (::geteuid() != 0) {
        // A developer run as the very user asked for is harmless; anything else is not
        // ours to grant.
        bool same_user = !r.change_user || r.uid == ::geteuid();
        bool same_group = !(r.change_user || r.change_group) || r.gid == ::getegid();
        if (!same_user || !same_group) return Error{EPERM, "only root may use -user and -group"};
        r.change_user = r.change_group = false;
    }
    return r;
}

Status apply_run_as(const RunAs& r) {
    if (r.change_user) return become_user(r.uid, r.gid, r.user_name);
    if (r.change_group) {
        if (::setgroups(1, &r.gid) < 0) return sys_error("setgroups");
        if (::setgid(r.gid) < 0) return sys_error("setgid");
    }
    return ok_status();
}
