// One accepted connection and the child process that serves it: the addresses as
// couriertcpd(1) "ENVIRONMENT VARIABLES" presents them, and the setup between fork
// and exec (standard descriptors, environment). Later stages of that setup (reverse
// DNS, access file, DNS lists, -drop) slot into run_connection_child, in the child,
// so that no slow lookup ever blocks the accept loop.
#pragma once
#include <sys/socket.h>
#include <optional>
#include <string>
#include <utility>
#include <vector>
#include "lib/unique_fd.h"
#include "tcpd/access_table.h"
#include "tcpd/dns_lists.h"
#include "tcpd/haproxy.h"

// The text form of an address: IPv4 dotted quad (also for IPv4-mapped IPv6
// addresses, as Courier shows them), IPv6 in RFC 5952 form; "" if not IP.
std::string format_ip(const sockaddr_storage& ss);
unsigned format_port(const sockaddr_storage& ss);

struct ConnectionInfo {
    std::string remote_ip, local_ip;
    unsigned remote_port = 0, local_port = 0;
    std::string remote_info;   // TCPREMOTEINFO (-haproxy only)
};
ConnectionInfo describe_connection(const sockaddr_storage& remote,
                                   const sockaddr_storage& local);

// The NAME=value pairs couriertcpd sets for the program.
std::vector<std::pair<std::string, std::string>> connection_environment(const ConnectionInfo& c);

// Variables couriertcpd owns: removed from the inherited environment first, so a
// value the administrator's shell happened to carry is never mistaken for a lookup.
extern const char* const k_connection_variables[];

// The connection as the PROXY header describes it; TCPREMOTEINFO repeats the local
// end (couriertcpd(1), TCPREMOTEINFO).
ConnectionInfo proxied_connection(const ConnectionInfo& real, const tcpd::ProxyParse& header);

// What every child needs; built once by the server.
struct ChildSetup {
    std::vector<std::string> program;   // absolute path, then arguments
    int stderr_fd = -1;                 // -stderr=logfile or -stderrlogger; -1: keep
    bool stderr_to_socket = false;      // -stderr=socket
    std::vector<int> signals_to_reset;  // handlers the server installed
    bool dns_lookup = true;             // TCPREMOTEHOST / TCPLOCALHOST
    unsigned dns_timeout_seconds = 10;  // -dnstimeout: all DNS work of one connection
    std::vector<tcpd::DnsList> dns_lists;
    std::vector<std::string> drop_vars;
    std::optional<std::string> deny_msg;
    tcpd::HaproxyConfig haproxy;
    tcpd::AccessTable* access = nullptr;   // checked in the child for -haproxy connections
};

// How the server hands one connection to its child.
struct ChildStart {
    bool proxied = false;   // read the PROXY header, check access, ask for admission
    int admit_fd = -1;      // proxied: the child's end of the admission socket
    std::vector<std::pair<std::string, std::string>> access_vars;   // not proxied
};

// The admission question a -haproxy child asks the server once it knows the client:
// "admit <ip> <MAXCPERIP or ->"; the answer is "ok" or "refused <limit>".
std::string admit_request(const std::string& ip, std::optional<unsigned> max_per_ip);
bool parse_admit_request(std::string_view line, std::string& ip,
                         std::optional<unsigned>& max_per_ip);

// Refusing a connection by the access file: the -denymsg text (with CRLF), if any,
// and a log line. The caller closes the socket.
void refuse_by_access(int fd, const std::string& ip, const std::string& key,
                      const std::optional<std::string>& deny_msg);

// In the forked child: reads the PROXY header when proxied, sets the environment
// (connection, access file, reverse DNS, DNS lists), applies -drop, wires the socket
// to stdin/stdout (and stderr when asked) and execs the program. Never returns.
[[noreturn]] void run_connection_child(UniqueFd sock, ConnectionInfo info,
                                       const ChildSetup& setup, ChildStart start);
