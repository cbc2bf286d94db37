// The `courier` administrative command (courier(8)): start, stop, restart, flush, the
// backscatter list's show all, clear <address> and clear all, and check (the
// configuration check, config_check.h; start and restart run it first).
// SECURITY: run by root; talks to courierd only through its pid file, signals and the
// trigger FIFO, and passes it nothing but a validated queue id.
#pragma once
#include <cstdio>
#include <optional>
#include <string>
#include <vector>
#include "lib/queue.h"
#include "lib/result.h"

struct AdminRequest {
    enum class Command { start, stop, restart, flush, show_all, clear_one, clear_all, check, release };
    Command command = Command::start;
    std::optional<QueueId> id;   // flush <qid>, release <qid>
    std::string address;         // clear <user@domain>
    bool errors_only = false;    // check -q: print errors only (what esmtpd runs)
};

// The arguments after the program name; an Error holds the message for stderr.
Result<AdminRequest> parse_admin_args(const std::vector<std::string>& args);
// Carries out a request; returns the exit code (sysexits.h).
int run_admin(const AdminRequest& request);
const char* admin_usage();
// Runs the configuration check, prints each finding to `out` (errors only when
// errors_only) and returns how many errors there were.
size_t print_config_check(FILE* out, bool errors_only);
