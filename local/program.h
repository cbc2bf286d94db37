// Delivery to a program (dot-courier(5), "|command"): /bin/sh -c command, already
// running as the recipient in the home directory, the message (without the
// Return-Path and Delivered-To lines, which are in $RPLINE and $DTLINE) on a seekable
// standard input, stdout and stderr captured (bounded) for the failure text, and the
// whole run limited by localtimeout.
#pragma once
#include <string>
#include <vector>
#include "lib/result.h"
#include "local/instructions.h"

namespace local {

struct ProgramRun {
    ProgramOutcome outcome = ProgramOutcome::temporary;
    int wait_status = 0;
    bool timed_out = false;
    std::string output;      // first bytes of stdout+stderr, one line, control bytes replaced
};

// Bytes of program output kept for the reply text.
constexpr size_t kProgramOutputLimit = 512;

// argv is run with `env` added to the environment and `stdin_fd` (rewound) as stdin.
Result<ProgramRun> run_program(const std::vector<std::string>& argv,
                               const std::vector<std::string>& env, int stdin_fd,
                               long timeout_s);

// The reply text for a program's outcome (next/stop: nothing to say).
std::string program_reply(const std::string& command, const ProgramRun& run, long timeout_s);

// Single-line, printable form of captured output, at most `limit` bytes.
std::string clean_output(std::string_view raw, size_t limit);

}  // namespace local
