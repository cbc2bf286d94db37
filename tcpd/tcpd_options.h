// couriertcpd's command line (couriertcpd(1), OPTIONS): parsed here and nowhere else,
// without touching the system, so every option rule is unit-tested. Options come
// first, then the port list, the program and its arguments.
#pragma once
#include <optional>
#include <string>
#include <vector>
#include "lib/result.h"
#include "tcpd/dns_lists.h"
#include "tcpd/haproxy.h"

enum class TcpdAction { serve, stop, restart };

// Where the program's standard error goes (-stderr=); inherit: couriertcpd's own
// (which is /dev/null once it has put itself into the background with -pid).
enum class StderrMode { inherit, socket, logfile };

struct TcpdOptions {
    TcpdAction action = TcpdAction::serve;
    std::string pid_file;                 // -pid: background and pid file; empty: foreground
    std::string address;                  // -address: default address of bare ports
    int listen_backlog = 0;               // -listen: 0 means the system maximum
    // Courier's couriertcpd starts at most 64 processes unless told otherwise.
    unsigned max_procs = 64;              // -maxprocs
    unsigned max_per_ip = 0;              // -maxperip: 0 means no limit
    unsigned max_per_c = 0;               // -maxperc: 0 means no limit
    std::optional<unsigned> warn;         // -warn: default 90% of max_procs
    bool dns_lookup = true;               // cleared by -nodnslookup
    unsigned dns_timeout = 10;            // -dnstimeout (extension): seconds for all DNS work
    bool ident_lookup = true;             // cleared by -noidentlookup (no ident support)
    std::string user, group;              // -user, -group (names or numbers)
    StderrMode stderr_mode = StderrMode::inherit;
    std::string stderr_file;              // -stderr=<logfile>
    std::string access_file;              // -access: compiled database (makesmtpaccess)
    bool access_local = false;            // -accesslocal
    std::optional<std::string> deny_msg;  // -denymsg
    std::vector<tcpd::DnsList> dns_lists; // -block and -allow, in order
    std::vector<std::string> drop_vars;   // -drop (BLOCK when given without a value)
    tcpd::HaproxyConfig haproxy;          // -haproxy
    std::string stderr_logger;            // -stderrlogger: program reading every stderr
    std::string stderr_logger_name;       // -stderrloggername: its argument
    std::string port_list;                // the comma-separated list
    std::vector<std::string> program;     // program path, then its arguments

    // The -warn threshold in force: explicit, else 90% of max_procs.
    unsigned warn_threshold() const;
};

// Parses the arguments after argv[0]. A usage error (unknown option, bad number,
// missing list or program) comes back as an Error whose text is the message for
// stderr; the caller exits with EX_USAGE.
Result<TcpdOptions> parse_tcpd_options(const std::vector<std::string>& args);

// One-line synopsis for usage errors.
const char* tcpd_usage();
