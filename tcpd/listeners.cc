// Binding couriertcpd's listening sockets (couriertcpd(1), "MULTIPLE PORT LIST"):
// the IPv6 wildcard first, then the IPv4 wildcard, whose failure is ignored when the
// IPv6 socket exists (on Linux it already receives IPv4 connections).
#include "tcpd/listeners.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace {

socklen_t fill_sockaddr(const BindTarget& t, sockaddr_storage& ss) {
    std::memset(&ss, 0, sizeof ss);
    if (t.family == AF_INET6) {
        auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(t.port);
        inet_pton(AF_INET6, t.address.c_str(), &a->sin6_addr);
        return sizeof *a;
    }
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(t.port);
    inet_pton(AF_INET, t.address.c_str(), &a->sin_addr);
    return sizeof *a;
}

Result<UniqueFd> open_listener(const BindTarget& t, int backlog) {
    UniqueFd fd(::socket(t.family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) return sys_error("socket for " + t.label());
    int one = 1;
    // Lets a restarted server bind while old connections sit in TIME_WAIT.
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
        return sys_error("SO_REUSEADDR on " + t.label());
    // An explicit IPv6 address means exactly that address; the wildcard keeps the
    // system default so that one socket can serve IPv4 as well.
    if (t.family == AF_INET6 && t.role == BindTarget::Role::address &&
        ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0)
        return sys_error("IPV6_V6ONLY on " + t.label());
    sockaddr_storage ss;
    socklen_t len = fill_sockaddr(t, ss);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) < 0)
        return sys_error("bind " + t.label());
    if (::listen(fd.get(), backlog > 0 ? backlog : SOMAXCONN) < 0)
        return sys_error("listen " + t.label());
    return fd;
}

// The system simply has no IPv6: the IPv4 wildcard must then do the job alone.
bool no_ipv6(int err) {
    return err == EAFNOSUPPORT || err == EADDRNOTAVAIL || err == EPROTONOSUPPORT;
}

}  // namespace

Result<ListenerSet> ListenerSet::bind_all(const std::vector<BindTarget>& targets,
                                          int backlog) {
    ListenerSet set;
    bool last_wildcard6_bound = false;
    for (const BindTarget& t : targets) {
        auto fd = open_listener(t, backlog);
        if (t.role == BindTarget::Role::wildcard6) {
            last_wildcard6_bound = fd.ok();
            if (!fd && no_ipv6(fd.error().sys_errno)) continue;
        } else if (t.role == BindTarget::Role::wildcard4 && last_wildcard6_bound && !fd) {
            continue;
        }
        if (!fd) return fd.error();
        set.listeners_.push_back(Listener{std::move(*fd), t});
    }
    if (set.listeners_.empty()) return Error{0, "no socket could be bound"};
    return set;
}
