// The courierd scheduler process: starts the delivery modules, drops to the mail user,
// loads the queue and runs the event loop (trigger FIFO, module replies, timers) that
// feeds SchedulerState and carries out its Effects on the spool.
// SECURITY: runs as the mail user after start-up. Trusts the spool (only submit, as the
// mail user, writes it) and, as far as the protocol goes, its modules; FIFO notices are
// untrusted (any member of the mail group can write them) and only ever name a queue id.
#pragma once

// Runs the scheduler until SIGTERM (exit 0) or a fatal condition (a module died or broke
// the protocol, the spool cannot be written: a sysexits code; the supervisor restarts it).
int run_scheduler();
