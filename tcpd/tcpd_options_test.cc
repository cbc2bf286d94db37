// Unit tests for couriertcpd's option parsing (couriertcpd(1), OPTIONS).
#include <doctest/doctest.h>

#include "tcpd/tcpd_options.h"

namespace {
Result<TcpdOptions> parse(std::vector<std::string> a) { return parse_tcpd_options(a); }
}

TEST_CASE("tcpd options: the esmtpd command line") {
    auto o = parse({"-pid=/run/esmtpd.pid", "-maxprocs=40", "-maxperip=4", "-maxperc=10",
                    "-address=127.0.0.1", "-nodnslookup", "-noidentlookup", "-listen=50",
                    "-user=courier", "-group=courier", "-stderr=socket", "25,587",
                    "/usr/lib/courier/courieresmtpd", "-x", "arg"});
    REQUIRE(o.ok());
    CHECK(o->action == TcpdAction::serve);
    CHECK(o->pid_file == "/run/esmtpd.pid");
    CHECK(o->max_procs == 40);
    CHECK(o->max_per_ip == 4);
    CHECK(o->max_per_c == 10);
    CHECK(o->address == "127.0.0.1");
    CHECK_FALSE(o->dns_lookup);
    CHECK_FALSE(o->ident_lookup);
    CHECK(o->listen_backlog == 50);
    CHECK(o->user == "courier");
    CHECK(o->group == "courier");
    CHECK(o->stderr_mode == StderrMode::socket);
    CHECK(o->port_list == "25,587");
    // Options after the program belong to the program.
    CHECK(o->program == std::vector<std::string>{"/usr/lib/courier/courieresmtpd", "-x", "arg"});
}

TEST_CASE("tcpd options: defaults") {
    auto o = parse({"25", "/bin/cat"});
    REQUIRE(o.ok());
    CHECK(o->max_procs == 64);
    CHECK(o->max_per_ip == 0);
    CHECK(o->max_per_c == 0);
    CHECK(o->dns_lookup);
    CHECK(o->pid_file.empty());
    CHECK(o->stderr_mode == StderrMode::inherit);
    CHECK(o->warn_threshold() == 57);   // 90% of 64
}

TEST_CASE("tcpd options: -warn and -stderr=logfile") {
    auto o = parse({"-warn=5", "-maxprocs=10", "-stderr=/var/log/x", "25", "/bin/cat"});
    REQUIRE(o.ok());
    CHECK(o->warn_threshold() == 5);
    CHECK(o->stderr_mode == StderrMode::logfile);
    CHECK(o->stderr_file == "/var/log/x");
    CHECK_FALSE(parse({"-warn=11", "-maxprocs=10", "25", "/bin/cat"}).ok());
}

TEST_CASE("tcpd options: -stop and -restart") {
    auto o = parse({"-pid=/run/x.pid", "-stop"});
    REQUIRE(o.ok());
    CHECK(o->action == TcpdAction::stop);
    o = parse({"-restart", "-pid=/run/x.pid"});
    REQUIRE(o.ok());
    CHECK(o->action == TcpdAction::restart);
    CHECK_FALSE(parse({"-stop"}).ok());                          // no -pid
    CHECK_FALSE(parse({"-pid=/x", "-stop", "25", "/bin/cat"}).ok());
    CHECK_FALSE(parse({"-pid=/x", "-stop=1"}).ok());
}

TEST_CASE("tcpd options: usage errors") {
    CHECK_FALSE(parse({}).ok());
    CHECK_FALSE(parse({"25"}).ok());                              // no program
    CHECK_FALSE(parse({"-bogus", "25", "/bin/cat"}).ok());
    CHECK(parse({"-bogus", "25", "/bin/cat"}).error().text.find("-bogus") != std::string::npos);
    CHECK_FALSE(parse({"-maxprocs=0", "25", "/bin/cat"}).ok());
    CHECK_FALSE(parse({"-maxprocs=x", "25", "/bin/cat"}).ok());
    CHECK_FALSE(parse({"-maxprocs=-1", "25", "/bin/cat"}).ok());
    CHECK_FALSE(parse({"-maxprocs", "25", "/bin/cat"}).ok());
    CHECK_FALSE(parse({"-maxperip=99999999999", "25", "/bin/cat"}).ok());
    CHECK_FALSE(parse({"-pid=", "25", "/bin/cat"}).ok());
    CHECK_FALSE(parse({"-stderr=", "25", "/bin/cat"}).ok());
    CHECK_FALSE(parse({"-access=", "25", "/bin/cat"}).ok());
    CHECK_FALSE(parse({"-block", "25", "/bin/cat"}).ok());
    CHECK_FALSE(parse({"-block=bad zone", "25", "/bin/cat"}).ok());
    CHECK_FALSE(parse({"-haproxy=x", "25", "/bin/cat"}).ok());
    CHECK_FALSE(parse({"-haproxy", "-haproxy=5", "25", "/bin/cat"}).ok());
    CHECK_FALSE(parse({"-accesslocal=1", "25", "/bin/cat"}).ok());
}

TEST_CASE("tcpd options: access file, DNS lists, -drop, -haproxy, logger") {
    auto o = parse({"-access=/etc/smtpaccess.dat", "-accesslocal", "-denymsg=Go away",
                    "-allow=wl.example", "-block=bl.example,BLOCK,*", "-drop", "-drop=A,B",
                    "-haproxy=5/port=25", "-stderrlogger=/bin/logger", "-stderrloggername=smtp",
                    "25", "/bin/cat"});
    REQUIRE(o.ok());
    CHECK(o->access_file == "/etc/smtpaccess.dat");
    CHECK(o->access_local);
    CHECK(o->deny_msg == "Go away");
    REQUIRE(o->dns_lists.size() == 2);
    CHECK(o->dns_lists[0].allow);
    CHECK(o->dns_lists[1].zone == "bl.example");
    CHECK(o->drop_vars == std::vector<std::string>{"BLOCK", "A", "B"});
    CHECK(o->haproxy.enabled);
    CHECK(o->haproxy.timeout_seconds == 5);
    CHECK(o->stderr_logger == "/bin/logger");
    CHECK(o->stderr_logger_name == "smtp");
    CHECK(o->dns_timeout == 10);
    CHECK(parse({"-dnstimeout=3", "25", "/bin/cat"})->dns_timeout == 3);
    CHECK_FALSE(parse({"-dnstimeout=0", "25", "/bin/cat"}).ok());
    auto plain = parse({"25", "/bin/cat"});
    REQUIRE(plain.ok());
    CHECK_FALSE(plain->haproxy.enabled);
    CHECK(plain->drop_vars.empty());
}

TEST_CASE("tcpd options: -- ends the options") {
    auto o = parse({"-maxprocs=3", "--", "25", "/bin/cat"});
    REQUIRE(o.ok());
    CHECK(o->port_list == "25");
    CHECK(o->max_procs == 3);
}
