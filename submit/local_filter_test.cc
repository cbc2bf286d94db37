// Unit tests of the local mail filter rules (localmailfilter(7)): argv, environment,
// exit status and output to the SMTP reply.
#include "submit/local_filter.h"
#include <sys/wait.h>
#include <algorithm>
#include <doctest/doctest.h>

using namespace submit;

namespace {
int exited(int code) { return (code & 0xff) << 8; }   // a wait(2) status for exit(code)
}

TEST_CASE("local_filter: filter mode names the phase and the extension") {
    CHECK(filter_mode(FilterPhase::rcpt, "") == "rcptfilter");
    CHECK(filter_mode(FilterPhase::smtp, "") == "smtpfilter");
    CHECK(filter_mode(FilterPhase::rcpt, "foo-bar") == "rcptfilter-foo-bar");
    CHECK(filter_mode(FilterPhase::rcpt, "alias-staff@example.com") == "rcptfilter-alias-staff@example.com");
}

TEST_CASE("local_filter: address extension of a local part") {
    CHECK(address_extension("user", "user") == "");
    CHECK(address_extension("user-foo", "user") == "foo");
    CHECK(address_extension("User-Foo-Bar", "user") == "Foo-Bar");
    CHECK(address_extension("userfoo", "user") == "");
    CHECK(address_extension("user-", "user") == "");
    CHECK(address_extension("other-foo", "user") == "");
}

TEST_CASE("local_filter: argv is Courier's -D uid/gid -M mode and positional facts") {
    FilterAccount a{1001, 1002, "/home/u", "ext"};
    FilterFacts f{"s@example.org", "client.example.org", "192.0.2.1"};
    auto argv = filter_argv("/usr/bin/maildrop", a, FilterPhase::rcpt, f);
    std::vector<std::string> want{"maildrop", "-D", "1001/1002", "-M", "rcptfilter-ext",
                                  "client.example.org", "192.0.2.1", "s@example.org", "", ""};
    CHECK(argv == want);
    CHECK(filter_argv("/x/f", a, FilterPhase::smtp, f)[4] == "smtpfilter-ext");
}

TEST_CASE("local_filter: environment is built from scratch") {
    FilterAccount a{1, 2, "/home/u", ""};
    FilterFacts f{"", "", "127.0.0.1"};
    auto env = filter_env(a, f);
    auto has = [&](const std::string& e) { return std::find(env.begin(), env.end(), e) != env.end(); };
    CHECK(has("HOME=/home/u"));
    CHECK(has("SENDER="));
    CHECK(has("TCPREMOTEIP=127.0.0.1"));
    CHECK(has("TCPREMOTEHOST="));
    CHECK(has("DEFAULT="));
    CHECK(env.size() == 8);
}

TEST_CASE("local_filter: output is bounded to one sanitised line") {
    CHECK(bounded_filter_text("\n\n550 go away\nsecond\n") == "go away");
    CHECK(bounded_filter_text("451-later\n") == "later");
    CHECK(bounded_filter_text("no code here\r\n") == "no code here");
    CHECK(bounded_filter_text("a\tb") == "a b");
    CHECK(bounded_filter_text(std::string(1000, 'x')).size() == kMaxFilterText);
    CHECK(bounded_filter_text("") == "");
}

TEST_CASE("local_filter: rcptfilter exit status") {
    auto r = filter_verdict(exited(0), "", FilterPhase::rcpt, "u@x");
    CHECK(r.verdict == FilterVerdict::accept);
    r = filter_verdict(exited(99), "", FilterPhase::rcpt, "u@x");
    CHECK(r.verdict == FilterVerdict::content_filter);
    r = filter_verdict(exited(1), "Spam not welcome here\n", FilterPhase::rcpt, "u@x");
    CHECK(r.verdict == FilterVerdict::refuse);
    CHECK(r.reply.code == 550);
    CHECK(r.reply.text == "5.7.1 Spam not welcome here");
    r = filter_verdict(exited(75), "busy\n", FilterPhase::rcpt, "u@x");
    CHECK(r.reply.code == 450);
    CHECK(r.reply.text == "4.7.1 busy");
    r = filter_verdict(exited(1), "", FilterPhase::rcpt, "u@x");
    CHECK(r.reply.text == "5.7.1 <u@x>: delivery not authorized, message refused");
}

TEST_CASE("local_filter: the output's own codes win when well formed") {
    auto r = filter_verdict(exited(1), "554 5.7.0 nope\n", FilterPhase::rcpt, "u@x");
    CHECK(r.reply.code == 554);
    CHECK(r.reply.text == "5.7.0 nope");
    r = filter_verdict(exited(1), "421 4.4.5 later\n", FilterPhase::smtp, "u@x");
    CHECK(r.reply.code == 421);
    CHECK(r.reply.text == "4.4.5 later");
    // An enhanced code of the other class is text, not a code.
    r = filter_verdict(exited(1), "550 4.7.1 odd\n", FilterPhase::smtp, "u@x");
    CHECK(r.reply.code == 550);
    CHECK(r.reply.text == "5.7.1 4.7.1 odd");
    // A 2xx line is not a refusal code.
    r = filter_verdict(exited(1), "250 fine\n", FilterPhase::smtp, "u@x");
    CHECK(r.reply.code == 550);
}

TEST_CASE("local_filter: smtpfilter treats 99 as a refusal, a signal as a temporary failure") {
    auto r = filter_verdict(exited(99), "", FilterPhase::smtp, "u@x");
    CHECK(r.verdict == FilterVerdict::refuse);
    CHECK(r.reply.code == 550);
    r = filter_verdict(SIGKILL, "", FilterPhase::smtp, "u@x");   // killed: status is the signal
    CHECK(r.verdict == FilterVerdict::refuse);
    CHECK(r.reply.code == 451);
    CHECK(filter_verdict(exited(0), "ignored", FilterPhase::smtp, "u@x").verdict == FilterVerdict::accept);
}
