// courieresmtp: the outbound ESMTP delivery module, kept running by courierd and fed
// requests on stdin (doc/architecture.md, "courierd and the modules"). A dispatcher
// forks one worker per SMTP session (outbound_worker.h); routing, TLS policy and the
// SMTP transaction live in outbound_route.h, outbound_session.h, outbound_smtp.h.
// SECURITY: runs as the mail user (drops to it when started as root) before it reads
// anything; trusts only courierd's requests; everything from the network is parsed
// by the bounded reply parser of outbound_smtp.h.
#include <csignal>
#include <sysexits.h>
#include "config/config.h"
#include "esmtp/outbound_worker.h"
#include "lib/log.h"
#include "lib/paths.h"
#include "lib/process.h"

int main() {
    log_open("courieresmtp");
    ::signal(SIGPIPE, SIG_IGN);   // courierd or a peer gone: the write fails instead
    if (Status s = drop_to_mail_user(); !s) log_fatal("cannot drop to the mail user: " + s.error().text, EX_CONFIG);
    return outbound::run_dispatcher(ConfigDir(paths().config));
}
