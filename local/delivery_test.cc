// Unit tests of one local delivery: account checks, reply texts, reading the envelope
// from a descriptor, a real delivery as the current user, and the dispatcher's
// request/result exchange over pipes.
#include "local/delivery.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>
#include <cerrno>
#include "lib/fileio.h"
#include "lib/unique_fd.h"
#include "local/dispatcher.h"
#include "local/test_support.h"

namespace {

// A queue file for `rcpts` (local module, account `host`) holding `body`.
std::string make_queue_file(const std::string& dir, const QueueId& id, const std::string& sender,
                            const std::vector<std::string>& rcpts, const std::string& host,
                            const std::string& body) {
    QueueEnvelope env;
    env.id = id;
    env.arrival = 1700000000;
    env.sender = sender;
    env.source = "local";
    for (const auto& r : rcpts) env.rcpts.push_back(QueueRecipient{r, "local", host, "", ""});
    env.data_size = body.size();
    std::string path = dir + "/Q" + id.text;
    spew(path, format_envelope(env) + body);
    ::chmod(path.c_str(), 0600);
    return path;
}

DeliveryRequest make_request(unsigned long id, const std::string& path, const QueueId& qid,
                             const std::string& host, const std::vector<std::string>& rcpts) {
    DeliveryRequest req;
    req.id = id;
    req.queue_file = path;
    req.qid = qid.text;
    req.sender = "s@example.com";
    req.host = host;
    for (size_t i = 0; i < rcpts.size(); ++i) req.rcpts.push_back({i, rcpts[i]});
    return req;
}

Account current_user_account(const std::string& home) {
    return Account{"me", ::getuid(), ::getgid(), home};
}

// deliver_as_recipient enters the home directory; the test process goes back after.
class CwdGuard {
public:
    CwdGuard() : fd_(::open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {}
    ~CwdGuard() {
        if (fd_) (void)::fchdir(fd_.get());
    }

private:
    UniqueFd fd_;
};

// Delivers a one-recipient message as the current user with `setup`; the result.
DeliveryResult deliver_one(const std::string& home, const std::string& rcpt,
                           const std::string& body, ChildSetup setup,
                           const std::string& sender = "s@example.com", int seq = 1) {
    CwdGuard cwd;
    TestDir spool;
    QueueId id = QueueId::make(1700000000, 99, seq);
    std::string path = make_queue_file(spool.path(), id, sender, {rcpt}, "me", body);
    UniqueFd fd(::open(path.c_str(), O_RDONLY));
    std::vector<DeliveryResult> results;
    deliver_as_recipient(make_request(1, path, id, "me", {rcpt}), current_user_account(home),
                         fd.get(), setup, [&](const DeliveryResult& r) { results.push_back(r); });
    REQUIRE(results.size() == 1);
    return results[0];
}

}  // namespace

TEST_CASE("failure replies map errno to the enhanced status code") {
    CHECK(failure_reply(Error{ENOSPC, "write: full"}) == "452 4.2.2 write: full");
    CHECK(failure_reply(Error{EDQUOT, "x"}) == "452 4.2.2 x");
    CHECK(failure_reply(Error{EACCES, "mkdir m"}) == "451 4.2.0 mkdir m");
    CHECK(failure_reply(Error{0, "bad queue file"}) == "451 4.3.0 bad queue file");
    CHECK(success_reply("/home/u/Maildir") == "250 2.0.0 delivered to /home/u/Maildir");
    CHECK(maildir_of(Account{"u", 1, 1, "/home/u/"}) == "/home/u/Maildir");
    CHECK(maildir_of(Account{"u", 1, 1, "/"}) == "/Maildir");
}

TEST_CASE("account lookup") {
    auto root = lookup_account("root");
    CHECK(root.kind == AccountLookup::Kind::found);
    CHECK(root.account.uid == 0);
    CHECK(lookup_account("no-such-user-courierlocal").kind == AccountLookup::Kind::unknown);
    CHECK(lookup_account("").kind == AccountLookup::Kind::unknown);
}

TEST_CASE("the parent's checks before forking") {
    DeliveryRequest::Rcpt rcpt{3, "u@example.com"};
    RunningAs root{true, 0}, user{false, 1000};
    AccountLookup unknown;
    auto r = refuse_account(unknown, root, 9, rcpt);
    REQUIRE(r);
    CHECK(r->status == DeliveryStatus::fail);
    CHECK(r->id == 9);
    CHECK(r->index == 3);
    CHECK(r->text == "550 5.1.1 <u@example.com>: unknown user");

    AccountLookup broken{AccountLookup::Kind::error, {}, "I/O error"};
    CHECK(refuse_account(broken, root, 9, rcpt)->status == DeliveryStatus::defer);

    AccountLookup rootacct{AccountLookup::Kind::found, {"root", 0, 0, "/root"}, ""};
    r = refuse_account(rootacct, root, 9, rcpt);
    REQUIRE(r);
    CHECK(r->status == DeliveryStatus::fail);
    CHECK(r->text == "550 5.7.1 delivery to root's mailbox is refused; use an alias");

    AccountLookup other{AccountLookup::Kind::found, {"bob", 1001, 1001, "/home/bob"}, ""};
    CHECK_FALSE(refuse_account(other, root, 9, rcpt));
    r = refuse_account(other, user, 9, rcpt);
    REQUIRE(r);
    CHECK(r->status == DeliveryStatus::defer);
    CHECK(r->text == "451 4.3.0 cannot switch to bob: not running as root");
    CHECK_FALSE(refuse_account(other, RunningAs{false, 1001}, 9, rcpt));

    AccountLookup relative{AccountLookup::Kind::found, {"bob", 1001, 1001, "home"}, ""};
    CHECK(refuse_account(relative, root, 9, rcpt)->status == DeliveryStatus::defer);
}

TEST_CASE("the envelope is read from a descriptor") {
    TestDir dir;
    QueueId id = QueueId::make(1700000000, 77, 1);
    std::string path = make_queue_file(dir.path(), id, "s@x", {"a@y"}, "acct", "body\n");
    UniqueFd fd(::open(path.c_str(), O_RDONLY));
    size_t offset = 0;
    auto env = read_envelope_from_fd(fd.get(), &offset);
    REQUIRE(env);
    CHECK(env->id.text == id.text);
    CHECK(env->sender == "s@x");
    CHECK(env->data_size == 5);
    CHECK(slurp(path).substr(offset) == "body\n");

    spew(path, "courier-queue 1\nid " + id.text + "\n");   // no data record
    UniqueFd fd2(::open(path.c_str(), O_RDONLY));
    auto bad = read_envelope_from_fd(fd2.get(), &offset);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().sys_errno == 0);
}

TEST_CASE("a real delivery into a temporary Maildir as the current user") {
    TestDir spool, home;
    QueueId id = QueueId::make(1700000000, 77, 2);
    std::string body = "Received: by test\nSubject: t\n\nHello\n";
    std::string path =
        make_queue_file(spool.path(), id, "s@example.com", {"a@x", "b@x"}, "me", body);
    UniqueFd fd(::open(path.c_str(), O_RDONLY));
    DeliveryRequest req = make_request(5, path, id, "me", {"a@x", "b@x"});
    req.rcpts.push_back({7, "c@x"});   // not in the queue file
    std::vector<DeliveryResult> results;
    CwdGuard cwd;
    deliver_as_recipient(req, current_user_account(home.path()), fd.get(),
                         ChildSetup{false, "h"},
                         [&](const DeliveryResult& r) { results.push_back(r); });
    REQUIRE(results.size() == 3);
    CHECK(results[0].status == DeliveryStatus::ok);
    CHECK(results[0].text == "250 2.0.0 delivered to " + home.path() + "/Maildir");
    CHECK(results[1].status == DeliveryStatus::ok);
    CHECK(results[2].status == DeliveryStatus::defer);
    CHECK(results[2].index == 7);
    auto files = entries(home.path() + "/Maildir/new");
    REQUIRE(files.size() == 2);
    std::vector<std::string> contents{slurp(home.path() + "/Maildir/new/" + files[0]),
                                      slurp(home.path() + "/Maildir/new/" + files[1])};
    std::sort(contents.begin(), contents.end());
    CHECK(contents[0] == "Return-Path: <s@example.com>\nDelivered-To: a@x\n" + body);
    CHECK(contents[1] == "Return-Path: <s@example.com>\nDelivered-To: b@x\n" + body);
}

TEST_CASE("a delivery for another queue id or another uid is deferred") {
    TestDir spool, home;
    QueueId id = QueueId::make(1700000000, 77, 3);
    std::string path = make_queue_file(spool.path(), id, "", {"a@x"}, "me", "m\n");
    UniqueFd fd(::open(path.c_str(), O_RDONLY));
    std::vector<DeliveryResult> results;
    auto collect = [&](const DeliveryResult& r) { results.push_back(r); };
    CwdGuard cwd;
    DeliveryRequest req = make_request(1, path, QueueId::make(1, 1, 1), "me", {"a@x"});
    deliver_as_recipient(req, current_user_account(home.path()), fd.get(), ChildSetup{false, "h"},
                         collect);
    Account stranger{"stranger", ::getuid() + 1, ::getgid(), home.path()};
    deliver_as_recipient(make_request(2, path, id, "me", {"a@x"}), stranger, fd.get(),
                         ChildSetup{false, "h"}, collect);
    REQUIRE(results.size() == 2);
    CHECK(results[0].status == DeliveryStatus::defer);
    CHECK(results[1].status == DeliveryStatus::defer);
    CHECK(results[1].text.rfind("451 4.3.0 cannot switch to stranger", 0) == 0);
    CHECK_FALSE(path_exists(home.path() + "/Maildir"));
}

namespace {
// Runs a dispatcher over `requests` and returns everything it wrote.
std::string run_dispatcher(const std::string& requests, size_t max_children, int* exit_code) {
    int in[2], out[2];
    REQUIRE(::pipe(in) == 0);
    REQUIRE(::pipe(out) == 0);
    UniqueFd in_r(in[0]), in_w(in[1]), out_r(out[0]), out_w(out[1]);
    REQUIRE(write_all(in_w.get(), requests));
    in_w.reset();
    DispatcherOptions opts;
    opts.in_fd = in_r.get();
    opts.out_fd = out_w.get();
    opts.max_children = max_children;
    opts.child_timeout_s = 60;
    opts.hostname = "h";
    *exit_code = DeliveryDispatcher(opts).run();
    out_w.reset();
    auto all = read_all(out_r.get(), 1 << 20);
    REQUIRE(all);
    return *all;
}
}  // namespace

TEST_CASE("dispatcher answers refused deliveries without forking") {
    DeliveryRequest unknown = make_request(1, "/nonexistent/Q", QueueId::make(1, 1, 1),
                                           "no-such-user-courierlocal", {"u@x", "v@x"});
    DeliveryRequest to_root = make_request(2, "/nonexistent/Q", QueueId::make(1, 1, 1), "root",
                                           {"root@x"});
    DeliveryRequest empty = make_request(3, "/nonexistent/Q", QueueId::make(1, 1, 1), "root", {});
    int code = -1;
    std::string out = run_dispatcher(
        format_request(unknown) + format_request(to_root) + format_request(empty), 4, &code);
    CHECK(code == 0);
    CHECK(out == format_result({1, 0, DeliveryStatus::fail, "550 5.1.1 <u@x>: unknown user"}) +
                     format_result({1, 1, DeliveryStatus::fail, "550 5.1.1 <v@x>: unknown user"}) +
                     format_done(1) +
                     format_result({2, 0, DeliveryStatus::fail,
                                    "550 5.7.1 delivery to root's mailbox is refused; use an alias"}) +
                     format_done(2) + format_done(3));
}

TEST_CASE("dispatcher stops at a malformed request") {
    int code = -1;
    std::string out = run_dispatcher("bogus line\n", 4, &code);
    CHECK(code == EX_PROTOCOL);
    CHECK(out.empty());
}

TEST_CASE("dispatcher forks a child that switches to the recipient (root only)") {
    AccountLookup nobody = lookup_account("nobody");
    if (::geteuid() != 0 || nobody.kind != AccountLookup::Kind::found ||
        path_exists(nobody.account.home))
        return;   // needs root and an account whose home does not exist
    TestDir spool;
    QueueId id = QueueId::make(1700000000, 77, 4);
    std::string path = make_queue_file(spool.path(), id, "s@x", {"n@x"}, "nobody", "m\n");
    DeliveryRequest first = make_request(1, path, id, "nobody", {"n@x"});
    DeliveryRequest second = make_request(2, path, id, "nobody", {"n@x"});
    int code = -1;
    // Both requests arrive in one read: the first child is still running when the
    // second is handled, so the limit of one child defers it.
    std::string out = run_dispatcher(format_request(first) + format_request(second), 1, &code);
    CHECK(code == 0);
    std::string too_many = format_result(
        {2, 0, DeliveryStatus::defer, "451 4.3.2 too many local deliveries in progress"});
    CHECK(out.rfind(too_many + format_done(2), 0) == 0);
    // The child read the root-only queue file through the inherited descriptor, then
    // failed, as nobody, to create the Maildir in the missing home.
    std::string rest = out.substr(too_many.size() + format_done(2).size());
    std::string error;
    auto reply = parse_module_reply(rest.substr(0, rest.find('\n')), &error);
    REQUIRE(reply);
    CHECK(reply->result.status == DeliveryStatus::defer);
    CHECK(reply->result.text.rfind("451 4.2.0 cannot enter the home directory " +
                                   nobody.account.home, 0) == 0);
    CHECK(rest.substr(rest.find('\n') + 1) == format_done(1));
}

TEST_CASE("without a .courier file DEFAULTDELIVERY applies; an mbox path makes an mbox") {
    TestDir home;
    ChildSetup setup{false, "h"};
    setup.config.default_delivery = "./mail/inbox";
    // A missing folder is not created for an mbox: the delivery waits for it.
    CHECK(deliver_one(home.path(), "me@x", "m\n", setup, "").status == DeliveryStatus::defer);
    ::mkdir((home.path() + "/mail").c_str(), 0700);
    auto r = deliver_one(home.path(), "me@x", "Subject: s\n\nFrom here\n", setup, "");
    CHECK(r.status == DeliveryStatus::ok);
    CHECK(r.text == "250 2.0.0 delivered to " + home.path() + "/mail/inbox");
    CHECK_FALSE(path_exists(home.path() + "/Maildir"));
}

TEST_CASE(".courier lines: Maildir, mbox, program with its environment; journal of steps") {
    TestDir home;
    ::mkdir((home.path() + "/mail").c_str(), 0700);
    spew(home.path() + "/.courier",
         "# comment\n\n./Other/\n" + home.path() + "/mail/box\n"
         "| echo \"$RECIPIENT $SENDER $EXT $HOME $USER $LOCAL $HOST\" > env.txt; "
         "echo \"$DTLINE|$RPLINE\" >> env.txt; cat >> env.txt\n");
    ChildSetup setup{false, "h"};
    std::vector<std::string> steps;
    setup.step_done = [&](size_t, const std::string& key) { steps.push_back(key); };
    auto r = deliver_one(home.path(), "me@x", "Subject: s\n\nbody\n", setup);
    REQUIRE(r.status == DeliveryStatus::ok);
    CHECK(entries(home.path() + "/Other/new").size() == 1);
    std::string box = slurp(home.path() + "/mail/box");
    CHECK(box.rfind("From s@example.com ", 0) == 0);
    CHECK(box.find("\nReturn-Path: <s@example.com>\nDelivered-To: me@x\nSubject: s\n\nbody\n\n") !=
          std::string::npos);
    CHECK(slurp(home.path() + "/env.txt") ==
          "me@x s@example.com  " + home.path() + " me me x\n"
          "Delivered-To: me@x|Return-Path: <s@example.com>\nSubject: s\n\nbody\n");
    REQUIRE(steps.size() == 2);   // mbox and program; a Maildir needs no journal
    // A repeated attempt that knows both steps writes neither again.
    setup.done_steps = {steps.begin(), steps.end()};
    ::unlink((home.path() + "/env.txt").c_str());
    r = deliver_one(home.path(), "me@x", "Subject: s\n\nbody\n", setup);
    CHECK(r.status == DeliveryStatus::ok);
    CHECK_FALSE(path_exists(home.path() + "/env.txt"));
    CHECK(slurp(home.path() + "/mail/box") == box);
    CHECK(entries(home.path() + "/Other/new").size() == 1);
}

TEST_CASE("program exit codes: 0 next, 99 stops, 75 defers, 77 fails with the output") {
    TestDir home;
    ChildSetup setup{false, "h"};
    spew(home.path() + "/.courier", "|exit 99\n./Maildir/\n");
    CHECK(deliver_one(home.path(), "me@x", "m\n", setup).status == DeliveryStatus::ok);
    CHECK_FALSE(path_exists(home.path() + "/Maildir"));
    spew(home.path() + "/.courier", "|echo try later; exit 75\n");
    auto r = deliver_one(home.path(), "me@x", "m\n", setup);
    CHECK(r.status == DeliveryStatus::defer);
    CHECK(r.text == "451 4.3.0 program \"echo try later; exit 75\" exited with status 75: try later");
    spew(home.path() + "/.courier", "|echo no such >&2; exit 77\n");
    r = deliver_one(home.path(), "me@x", "m\n", setup);
    CHECK(r.status == DeliveryStatus::fail);
    CHECK(r.text.rfind("550 5.3.0 program", 0) == 0);
    CHECK(r.text.find(": no such") != std::string::npos);
    spew(home.path() + "/.courier", "|kill -9 $$\n");
    CHECK(deliver_one(home.path(), "me@x", "m\n", setup).status == DeliveryStatus::defer);
    setup.config.timeout_s = 1;
    spew(home.path() + "/.courier", "|sleep 30\n");
    r = deliver_one(home.path(), "me@x", "m\n", setup);
    CHECK(r.status == DeliveryStatus::defer);
    CHECK(r.text.find("timed out after 1s") != std::string::npos);
}

TEST_CASE("extensions read .courier-ext, then the -default chain, else unknown user") {
    TestDir home;
    ChildSetup setup{false, "h"};
    spew(home.path() + "/.courier-list-default", "|echo \"$DEFAULT $EXT $EXT2\" > out.txt\n");
    CHECK(deliver_one(home.path(), "me-list-foo-bar@x", "m\n", setup).status == DeliveryStatus::ok);
    CHECK(slurp(home.path() + "/out.txt") == "foo-bar list-foo-bar foo-bar\n");
    auto r = deliver_one(home.path(), "me-other@x", "m\n", setup);
    CHECK(r.status == DeliveryStatus::fail);
    CHECK(r.text == "550 5.1.1 <me-other@x>: unknown user");
    spew(home.path() + "/.courier-default", "./Catch/\n");
    CHECK(deliver_one(home.path(), "me-other@x", "m\n", setup).status == DeliveryStatus::ok);
    CHECK(entries(home.path() + "/Catch/new").size() == 1);
    ::chmod((home.path() + "/.courier-default").c_str(), 0666);
    r = deliver_one(home.path(), "me-other@x", "m\n", setup);
    CHECK(r.status == DeliveryStatus::defer);
    CHECK(r.text.find("world-writable") != std::string::npos);
}

TEST_CASE("our own Delivered-To in the message is a loop; forwarding needs its sibling") {
    TestDir home;
    ChildSetup setup{false, "h"};
    auto r = deliver_one(home.path(), "me@x", "Delivered-To: other@x\ndelivered-to:  ME@x\n\nm\n", setup);
    CHECK(r.status == DeliveryStatus::fail);
    CHECK(r.text.rfind("550 5.4.6 mail loop", 0) == 0);
    // Delivered-To in the body does not count.
    CHECK(deliver_one(home.path(), "me@x", "Subject: a\n\nDelivered-To: me@x\n", setup).status ==
          DeliveryStatus::ok);
    spew(home.path() + "/.courier", "&you@example.org\n");
    r = deliver_one(home.path(), "me@x", "m\n", setup);
    CHECK(r.status == DeliveryStatus::defer);
    CHECK(r.text == "451 4.3.0 forwarding is not available");
}

TEST_CASE("a Maildir over its quota defers with 452 and takes mail again once space is freed") {
    TestDir home;
    ChildSetup setup{false, "h"};
    std::string md = home.path() + "/Maildir";
    ::mkdir(md.c_str(), 0700);
    spew(md + "/maildirsize", "2C\n");
    CHECK(deliver_one(home.path(), "me@x", "m\n", setup, "s@example.com", 1).status == DeliveryStatus::ok);
    CHECK(deliver_one(home.path(), "me@x", "m\n", setup, "s@example.com", 2).status == DeliveryStatus::ok);
    auto r = deliver_one(home.path(), "me@x", "m\n", setup, "s@example.com", 3);
    CHECK(r.status == DeliveryStatus::defer);
    CHECK(r.text.rfind("452 4.2.2 ", 0) == 0);
    auto files = entries(md + "/new");
    REQUIRE(files.size() == 2);
    ::unlink((md + "/new/" + files[0]).c_str());
    CHECK(deliver_one(home.path(), "me@x", "m\n", setup, "s@example.com", 3).status == DeliveryStatus::ok);
    CHECK(entries(md + "/new").size() == 2);
}
