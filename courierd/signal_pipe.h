// Self-pipe for signals: the handler only writes the signal number into a pipe that the
// daemon's poll() loop watches, so a signal is never lost between a check and a wait
// (SIGTERM during the supervisor's restart pause, or while the scheduler polls).
#pragma once
#include <initializer_list>
#include <vector>
#include "lib/result.h"

// Installs handlers for `signals` that write to the pipe. Call once per process.
Status install_signal_pipe(std::initializer_list<int> signals);
int signal_pipe_fd();                  // the read end, for poll()
std::vector<int> drain_signals();      // signals received since the last call
// In a forked child: default handlers for `signals` again and the pipe closed, so the
// child installs its own.
void reset_signal_pipe(std::initializer_list<int> signals);
