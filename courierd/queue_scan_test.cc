#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utime.h>
#include <cstdlib>
#include "courierd/queue_scan.h"
#include "lib/fileio.h"
#include "lib/process.h"

namespace {

std::string make_spool() {
    char tmpl[] = "/tmp/courierd-scan-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    std::string spool = tmpl;
    REQUIRE(ensure_dir(spool + "/msgs", 0750).ok());
    REQUIRE(ensure_dir(spool + "/tmp", 0750).ok());
    return spool;
}

QueueId write_message(const std::string& spool, std::time_t t, unsigned seq) {
    QueueEnvelope env;
    env.id = QueueId::make(t, 99, seq);
    env.arrival = t;
    env.sender = "a@b.example";
    env.source = "local";
    env.rcpts = {{"x@y", "local", "x", "", ""}, {"z@y", "local", "z", "", ""}};
    env.data_size = 3;
    std::string dir = spool + "/msgs/" + env.id.bucket();
    REQUIRE(ensure_dir(dir, 0750).ok());
    REQUIRE(write_file_durably(dir, "Q" + env.id.text, format_envelope(env) + "hi\n", 0640).ok());
    return env.id;
}

}  // namespace

TEST_CASE("scan_spool: oldest first, stops on request, removes orphan status logs") {
    std::string spool = make_spool();
    auto b = write_message(spool, 0x60010000, 1);
    auto a = write_message(spool, 0x60000000, 2);
    auto c = write_message(spool, 0x60010000, 0);
    std::vector<std::string> seen;
    CHECK(scan_spool(spool + "/msgs", [&](const QueueId& id) {
        seen.push_back(id.text);
        return true;
    }));
    REQUIRE(seen.size() == 3);
    CHECK(seen[0] == a.text);
    CHECK(seen[1] == c.text);
    CHECK(seen[2] == b.text);
    seen.clear();
    CHECK(!scan_spool(spool + "/msgs", [&](const QueueId& id) {
        seen.push_back(id.text);
        return seen.size() < 2;
    }));
    CHECK(seen.size() == 2);

    // Status log: records, reload, removal.
    StatusRecord r;
    r.kind = StatusRecord::Kind::delivered;
    r.rcpt = 1;
    r.when = 5;
    r.text = "250 ok";
    REQUIRE(append_status(spool, a, r, true).ok());
    auto m = load_message(spool, a);
    REQUIRE(m.ok());
    CHECK(m->envelope.rcpts.size() == 2);
    CHECK(!m->status.final_rcpt[0]);
    CHECK(m->status.final_rcpt[1]);
    REQUIRE(remove_message_files(spool, a).ok());
    CHECK(!path_exists(queue_file_path(spool, a)));
    CHECK(!path_exists(status_file_path(spool, a)));

    // An orphan S file goes on the next scan.
    REQUIRE(append_status(spool, a, r, false).ok());
    CHECK(scan_spool(spool + "/msgs", [](const QueueId&) { return true; }));
    CHECK(!path_exists(status_file_path(spool, a)));

    // Stale tmp files go, fresh ones stay.
    REQUIRE(write_file_durably(spool + "/tmp", "Told", "x", 0640).ok());
    REQUIRE(write_file_durably(spool + "/tmp", "Tnew", "x", 0640).ok());
    struct utimbuf old{1000, 1000};
    REQUIRE(utime((spool + "/tmp/Told").c_str(), &old) == 0);
    // A fresh file of a submit that no longer exists goes at once; one of a live
    // submit (this process's pid) stays.
    std::string dead = "T" + QueueId::make(std::time(nullptr), 0x7ffffff0, 1).text;
    std::string live = "T" + QueueId::make(std::time(nullptr), ::getpid(), 1).text;
    // A submit that was killed but not yet reaped (a zombie) is gone too.
    pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) _exit(0);
    for (int i = 0; i < 200 && !process_exited(child); ++i) usleep(10000);
    std::string zombie = "T" + QueueId::make(std::time(nullptr), child, 1).text;
    REQUIRE(write_file_durably(spool + "/tmp", dead, "x", 0640).ok());
    REQUIRE(write_file_durably(spool + "/tmp", live, "x", 0640).ok());
    REQUIRE(write_file_durably(spool + "/tmp", zombie, "x", 0640).ok());
    clean_spool_tmp(spool + "/tmp", std::time(nullptr), 3600);
    waitpid(child, nullptr, 0);
    CHECK(!path_exists(spool + "/tmp/Told"));
    CHECK(path_exists(spool + "/tmp/Tnew"));
    CHECK(!path_exists(spool + "/tmp/" + dead));
    CHECK(!path_exists(spool + "/tmp/" + zombie));
    CHECK(path_exists(spool + "/tmp/" + live));
    unlink((spool + "/tmp/" + live).c_str());

    for (const auto& id : {b, c}) REQUIRE(remove_message_files(spool, id).ok());
    unlink((spool + "/tmp/Tnew").c_str());
    rmdir((spool + "/msgs/" + a.bucket()).c_str());
    rmdir((spool + "/msgs/" + b.bucket()).c_str());
    rmdir((spool + "/msgs").c_str());
    rmdir((spool + "/tmp").c_str());
    rmdir(spool.c_str());
}
