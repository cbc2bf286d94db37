// One accepted connection and the child process that serves it: the addresses as
// couriertcpd(1) "ENVIRONMENT VARIABLES" presents them, and the setup between fork
// and exec (standard descriptors, environment). Later stages of that setup (reverse
// DNS, access file, DNS lists, -drop) slot into run_connection_child, in the child,
// so that no slow lookup ever blocks the accept loop.
#pragma once
#include <sys/socket.h>
#include <string>
#include <utility>
#include <vector>
#include "lib/unique_fd.h"

// The text form of an address: IPv4 dotted quad (also for IPv4-mapped IPv6
// addresses, as Courier shows them), IPv6 in RFC 5952 form; "" if not IP.
std::string format_ip(const sockaddr_storage& ss);
unsigned format_port(const sockaddr_storage& ss);

struct ConnectionInfo {
    std::string remote_ip, local_ip;
    unsigned remote_port = 0, local_port = 0;
};
ConnectionInfo describe_connection(const sockaddr_storage& remote,
                                   const sockaddr_storage& local);

// The NAME=value pairs couriertcpd sets for the program.
std::vector<std::pair<std::string, std::string>> connection_environment(const ConnectionInfo& c);

// Variables couriertcpd owns: removed from the inherited environment first, so a
// value the administrator's shell happened to carry is never mistaken for a lookup.
extern const char* const k_connection_variables[];

// What every child needs; built once by the server.
struct ChildSetup {
    std::vector<std::string> program;   // absolute path, then arguments
    int stderr_fd = -1;                 // -stderr=logfile: opened once; -1: keep
    bool stderr_to_socket = false;      // -stderr=socket
    std::vector<int> signals_to_reset;  // handlers the server installed
};

// In the forked child: wires the socket to stdin/stdout (and stderr when asked),
// sets the environment and execs the program. Never returns.
[[noreturn]] void run_connection_child(UniqueFd sock, const ConnectionInfo& info,
                                       const ChildSetup& setup);
