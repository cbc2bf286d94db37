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

#include <poll.h>

#include <sys/wait.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>

#include "lib/dns.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/xtext.h"

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
    std::vector<std::pair<std::string, std::string>> env = {
        {"TCPREMOTEIP", c.remote_ip},
        {"TCPREMOTEPORT", std::to_string(c.remote_port)},
        {"TCPLOCALIP", c.local_ip},
        {"TCPLOCALPORT", std::to_string(c.local_port)},
    };
    if (!c.remote_info.empty()) env.emplace_back("TCPREMOTEINFO", c.remote_info);
    return env;
}

ConnectionInfo proxied_connection(const ConnectionInfo& real, const tcpd::ProxyParse& header) {
    ConnectionInfo c = real;
    if (header.addresses) {
        c.remote_ip = header.addresses->remote_ip;
        c.remote_port = header.addresses->remote_port;
        c.local_ip = header.addresses->local_ip;
        c.local_port = header.addresses->local_port;
    }
    c.remote_info = "haproxy " + c.local_ip + "." + std::to_string(c.local_port);
    return c;
}

std::string admit_request(const std::string& ip, std::optional<unsigned> max_per_ip) {
    return "admit " + ip + " " + (max_per_ip ? std::to_string(*max_per_ip) : "-") + "\n";
}

bool parse_admit_request(std::string_view line, std::string& ip,
                         std::optional<unsigned>& max_per_ip) {
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    if (!line.starts_with("admit ")) return false;
    line.remove_prefix(6);
    auto sp = line.find(' ');
    if (sp == std::string_view::npos || sp == 0) return false;
    ip = std::string(line.substr(0, sp));
    std::string_view m = line.substr(sp + 1);
    if (m == "-") {
        max_per_ip.reset();
        return true;
    }
    unsigned v = 0;
    auto [end, ec] = std::from_chars(m.data(), m.data() + m.size(), v);
    if (m.empty() || ec != std::errc() || end != m.data() + m.size()) return false;
    max_per_ip = v;
    return true;
}

void refuse_by_access(int fd, const std::string& ip, const std::string& key,
                      const std::optional<std::string>& deny_msg) {
    log_warning("refused ip=" + ip + " reason=access entry=" + (key.empty() ? "-" : key));
    // A fresh socket's send buffer is empty: a short message never blocks here.
    if (deny_msg) (void)!::send(fd, (*deny_msg + "\r\n").data(), deny_msg->size() + 2,
                                MSG_NOSIGNAL | MSG_DONTWAIT);
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

void set_variable(const std::string& name, const std::string& value) {
    if (::setenv(name.c_str(), value.c_str(), 1) < 0) child_fail("setenv");
}

void set_environment(const ConnectionInfo& info) {
    for (const char* const* v = k_connection_variables; *v; ++v) ::unsetenv(*v);
    for (const auto& [name, value] : connection_environment(info)) set_variable(name, value);
}

// The server's answer to a -haproxy child's admission request, within a bound.
bool admitted(int fd, const std::string& ip, std::optional<unsigned> max_per_ip) {
    if (!write_all(fd, admit_request(ip, max_per_ip))) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 30000) <= 0) return false;
    char buf[64];
    ssize_t n = ::read(fd, buf, sizeof buf - 1);
    return n >= 3 && std::string_view(buf, 3) == "ok\n";
}

// -haproxy: the client's real address, the access file and the limits, in the child
// so that a slow or silent proxy never holds up the accept loop.
void serve_proxy_header(int fd, ConnectionInfo& info, const ChildSetup& setup, ChildStart& start) {
    auto header = tcpd::read_proxy_header(fd, setup.haproxy.timeout_seconds);
    if (!header) {
        log_warning("haproxy from=" + info.remote_ip + " error=" + log_safe(header.error().text));
        ::_exit(0);
    }
    info = proxied_connection(info, *header);
    tcpd::AccessDecision d;
    if (setup.access) d = setup.access->check(info.remote_ip, info.local_ip, info.local_port);
    if (!d.allow) {
        refuse_by_access(fd, info.remote_ip, d.matched, setup.deny_msg);
        ::_exit(0);
    }
    if (!admitted(start.admit_fd, info.remote_ip, d.max_per_ip)) ::_exit(0);
    start.access_vars = std::move(d.variables);
}

dns::Answer<std::string> lookup_a(const std::string& n) { return dns::resolver().a(n); }
dns::Answer<std::string> lookup_aaaa(const std::string& n) { return dns::resolver().aaaa(n); }
dns::Answer<std::string> lookup_txt(const std::string& n) { return dns::resolver().txt(n); }
dns::Answer<std::string> lookup_ptr(const std::string& n) { return dns::resolver().ptr(n); }

// The DNS work, in a process of its own (see dns_phase): each result is written as
// soon as it is known, "NAME=<xtext value>" lines, and "#rdns" once reverse DNS is done.
[[noreturn]] void dns_worker(int out, const ConnectionInfo& info, const ChildSetup& setup) {
    auto emit = [out](const std::string& name, const std::string& value) {
        (void)!write_all(out, name + "=" + xtext_encode(value) + "\n");
    };
    if (setup.dns_lookup) {
        tcpd::ReverseResolver r{lookup_ptr, lookup_a, lookup_aaaa};
        if (auto h = tcpd::confirmed_host_name(info.remote_ip, r)) emit("TCPREMOTEHOST", *h);
        if (auto h = tcpd::confirmed_host_name(info.local_ip, r)) emit("TCPLOCALHOST", *h);
        (void)!write_all(out, "#rdns\n");
    }
    if (!setup.dns_lists.empty()) {
        std::map<std::string, std::string> set;
        for (const auto& l : setup.dns_lists)
            if (const char* v = ::getenv(l.var.c_str())) set[l.var] = v;
        auto vars = tcpd::evaluate_dns_lists(
            setup.dns_lists, info.remote_ip, std::move(set),
            tcpd::DnsListResolver{lookup_a, lookup_txt},
            [](const std::string& w) { log_warning("dns list lookup failed: " + log_safe(w)); });
        for (const auto& [name, value] : vars) emit(name, value);
    }
    ::_exit(0);
}

// Reverse DNS and the DNS lists, bounded by -dnstimeout: the resolver has no
// deadline of its own for a server that never answers, so the lookups run in a
// process that is killed when the time is up. What arrived by then is used; reverse
// DNS that did not finish counts as a temporary failure (TCPREMOTEHOST=softdnserr).
void dns_phase(const ConnectionInfo& info, const ChildSetup& setup) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) < 0) child_fail("pipe");
    UniqueFd rd(fds[0]), wr(fds[1]);
    pid_t pid = ::fork();
    if (pid < 0) child_fail("fork");
    if (pid == 0) {
        rd.reset();
        dns_worker(wr.get(), info, setup);
    }
    wr.reset();
    using Clock = std::chrono::steady_clock;
    auto deadline = Clock::now() + std::chrono::seconds(setup.dns_timeout_seconds);
    std::string data;
    bool finished = false;
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) break;
        pollfd p{rd.get(), POLLIN, 0};
        int n = ::poll(&p, 1, static_cast<int>(left.count()));
        if (n < 0 && errno != EINTR) break;
        if (n <= 0) continue;
        char buf[4096];
        ssize_t got = ::read(rd.get(), buf, sizeof buf);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            finished = got == 0;
            break;
        }
        data.append(buf, static_cast<size_t>(got));
    }
    if (!finished) {
        ::kill(pid, SIGKILL);
        log_warning("dns lookups for ip=" + info.remote_ip + " timed out after " +
                    std::to_string(setup.dns_timeout_seconds) + "s");
    }
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    bool rdns_done = false;
    std::string_view rest = data;
    while (!rest.empty()) {
        auto nl = rest.find('\n');
        if (nl == std::string_view::npos) break;   // a line cut short by the kill
        std::string_view line = rest.substr(0, nl);
        rest.remove_prefix(nl + 1);
        if (line == "#rdns") {
            rdns_done = true;
            continue;
        }
        auto eq = line.find('=');
        if (eq == std::string_view::npos) continue;
        if (auto v = xtext_decode(line.substr(eq + 1)))
            set_variable(std::string(line.substr(0, eq)), *v);
    }
    if (setup.dns_lookup && !rdns_done) set_variable("TCPREMOTEHOST", "softdnserr");
}

// -drop: a variable set to a non-empty value ends the connection here.
void apply_drop(const ConnectionInfo& info, const ChildSetup& setup) {
    if (setup.drop_vars.empty()) return;
    std::map<std::string, std::string> env;
    for (const auto& n : setup.drop_vars)
        if (const char* v = ::getenv(n.c_str())) env[n] = v;
    if (auto var = tcpd::drop_variable(setup.drop_vars, env)) {
        log_info("dropped ip=" + info.remote_ip + " var=" + *var + " value=" + log_safe(env[*var]));
        ::_exit(0);
    }
}

}  // namespace

void run_connection_child(UniqueFd sock, ConnectionInfo info, const ChildSetup& setup,
                          ChildStart start) {
    reset_signals(setup.signals_to_reset);
    if (start.proxied) serve_proxy_header(sock.get(), info, setup, start);
    set_environment(info);
    for (const auto& [name, value] : start.access_vars) set_variable(name, value);
    if (setup.dns_lookup || !setup.dns_lists.empty()) dns_phase(info, setup);
    apply_drop(info, setup);
    wire_descriptors(std::move(sock), setup);
    std::vector<char*> argv;
    for (const auto& a : setup.program) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    child_fail("exec " + setup.program[0]);
}
