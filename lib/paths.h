// Where the MTA's files live. The defaults come from configure (Courier's layout:
// $sysconfdir/courier, $localstatedir/spool/courier, $libexecdir/courier). One run-time
// override, COURIER_ROOT, relocates all of them under one folder so that tests and the
// sandbox run many instances side by side; it is read with secure_getenv, so a
// set-uid or set-gid program never honours it.
#pragma once
#include <sys/types.h>
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

// For a program that may be installed set-uid or set-gid (submit, cancelmsg): paths()
// when it is not running set-id. Set-id, COURIER_ROOT is ignored except for an
// instance that only root or the mail user can have made (trusted_instance_root), so
// tests can exercise the set-id path while a user can never point the program at a
// configuration or spool of their own making.
Paths paths_for_setid_program(uid_t mail_uid);
// The narrow exception: `root` is absolute; it and its etc/ are folders owned by root
// or `mail_uid` that nobody else may write to; its spool/ is a folder owned by
// `mail_uid` that nobody else may write to. Symbolic links are not followed.
bool trusted_instance_root(const std::string& root, uid_t mail_uid);

// Names of the unprivileged mail user and group (configure --with-mailuser).
const char* mail_user_name();
const char* mail_group_name();
