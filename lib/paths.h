// Where the MTA's files live. The defaults come from configure (Courier's layout:
// $sysconfdir/courier, $localstatedir/spool/courier, $libexecdir/courier). One run-time
// override, COURIER_ROOT, relocates all of them under one folder so that tests and the
// sandbox run many instances side by side; it is read with secure_getenv, so a
// set-uid or set-gid program never honours it.
#pragma once
#include <string>

struct Paths {
    std::string config;    // control files: me, locals, esmtpd, module.local, ...
    std::string spool;     // the queue: tmp/, msgs/, trigger FIFO
    std::string libexec;   // daemons and delivery modules
    std::string sbin;      // courier, esmtpd, couriertcpd
    std::string bin;       // sendmail, mailq, cancelmsg
    std::string run;       // pid files
    std::string log;       // empty: syslog; set (COURIER_ROOT only): folder of mail.log
    std::string root;      // the COURIER_ROOT in force, or empty

    std::string spool_tmp() const { return spool + "/tmp"; }
    std::string spool_msgs() const { return spool + "/msgs"; }
    std::string trigger_fifo() const { return spool + "/trigger"; }
};

// The paths in force for this process (computed once).
const Paths& paths();
// For unit tests: the layout under a given root.
Paths paths_under_root(const std::string& root);

// Names of the unprivileged mail user and group (configure --with-mailuser).
const char* mail_user_name();
const char* mail_group_name();
