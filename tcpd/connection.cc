// Per-connection child setup for couriertcpd (couriertcpd(1), DESCRIPTION and
// "ENVIRONMENT VARIABLES"). SECURITY: runs in the child as the -user, before the
// service exists; everything it hands over (addresses, ports) comes from the kernel,
// never from the peer.
#include "tcpd/connection.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sysexits.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "lib/log.h"

const char* const k_connection_variables[] = {
    "TCPREMOTEIP", "TCPREMOTEPORT", "TCPLOCALIP", "TCPLOCALPORT",
    "TCPREMOTEHOST", "TCPLOCALHOST", "TCPREMOTEINFO", nullptr,
};

std::string format_ip(const sockaddr_storage& ss) {
    char buf[INET6_ADDRSTRLEN] = "";
    if (ss.ss_family == AF_INET) {
        auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
        inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
    } else if (ss.ss_family == AF_INET6) {
        auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
        if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr))
            inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], buf, sizeof buf);
        else
            inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
    }
    return buf;
}

unsigned format_port(const sockaddr_storage& ss) {
    if (ss.ss_family == AF_INET)
        return ntohs(reinterpret_cast<const sockaddr_in*>(&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_port);
    return 0;
}

ConnectionInfo describe_connection(const sockaddr_storage& remote,
                                   const sockaddr_storage& local) {
    return ConnectionInfo{format_ip(remote), format_ip(local), format_port(remote),
                          format_port(local)};
}

std::vector<std::pair<std::string, std::string>> connection_environment(const ConnectionInfo& c) {
    return {
        {"TCPREMOTEIP", c.remote_ip},
        {"TCPREMOTEPORT", std::to_string(c.remote_port)},
        {"TCPLOCALIP", c.local_ip},
        {"TCPLOCALPORT", std::to_string(c.local_port)},
    };
}

namespace {

// The child starts with the server's handlers and mask; the service must not.
void reset_signals(const std::vector<int>& sigs) {
    for (int s : sigs) ::signal(s, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

[[noreturn]] void child_fail(const std::string& what) {
    log_error("connection child: " + what + ": " + std::strerror(errno));
    ::_exit(EX_OSERR);
}

// The socket may itself be descriptor 0-2 when couriertcpd was started with them
// closed; moving it above 2 first makes every dup2 below a real copy.
void wire_descriptors(UniqueFd sock, const ChildSetup& setup) {
    UniqueFd high(::fcntl(sock.get(), F_DUPFD_CLOEXEC, 3));
    if (!high) child_fail("dup");
    sock.reset();
    if (::dup2(high.get(), 0) < 0 || ::dup2(high.get(), 1) < 0) child_fail("dup2");
    if (setup.stderr_to_socket) {
        if (::dup2(high.get(), 2) < 0) child_fail("dup2");
    } else if (setup.stderr_fd >= 0) {
        if (::dup2(setup.stderr_fd, 2) < 0) child_fail("dup2");
    }
}

void set_environment(const ConnectionInfo& info) {
    for (const char* const* v = k_connection_variables; *v; ++v) ::unsetenv(*v);
    for (const auto& [name, value] : connection_environment(info))
        if (::setenv(name.c_str(), value.c_str(), 1) < 0) child_fail("setenv");
}

}  // namespace

void run_connection_child(UniqueFd sock, const ConnectionInfo& info, const ChildSetup& setup) {
    reset_signals(setup.signals_to_reset);
    wire_descriptors(std::move(sock), setup);
    set_environment(info);
    std::vector<char*> argv;
    for (const auto& a : setup.program) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    child_fail("exec " + setup.program[0]);
}
