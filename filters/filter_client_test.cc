// libcourierfilter against submit's client side, over a real Unix socket: the request
// and envelope reach the handler, its Verdict comes back as submit parses it.
#include <doctest/doctest.h>
#include <unistd.h>
#include <cstdlib>
#include <thread>
#include "filters/filter_client.h"
#include "lib/fileio.h"
#include "submit/filtering.h"

using namespace courierfilter;

TEST_CASE("libcourierfilter: a handler's verdicts as submit receives them") {
    char tmpl[] = "/tmp/filterclient.XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    std::string dir = tmpl, sock = dir + "/f1";
    Envelope env;
    env.source = "esmtp";
    env.sender = "s@example.com";
    env.rcpts = {"r1@example.net", "r2@example.net"};
    REQUIRE(write_file_durably(dir, "m", "Subject: hi\n\nbody\n", 0640));
    REQUIRE(write_file_durably(dir, "e", format_envelope_file(env), 0640));
    FilterServerOptions opts;
    opts.stop_on_stdin_eof = false;
    FilterServer server(sock, [](const FilterMessage& m) {
        auto text = m.read_message();
        if (!text || text->find("body") == std::string::npos) return Verdict::tempfail("no body");
        if (m.envelope.rcpts.size() == 2) return Verdict::hold("two").with_header("X-Count: 2");
        return Verdict::reject("Spam");
    }, opts);
    REQUIRE(server.listen());
    CHECK(access((dir + "/.f1").c_str(), F_OK) != 0);   // renamed to its real name
    std::thread t([&] { server.run(); });

    auto a = submit::ask_filter(sock, Request{dir + "/m", dir + "/e"}, 5000);
    REQUIRE(a);
    CHECK(a->code == 250);
    CHECK(a->hold);
    CHECK(a->hold_reason == "two");
    CHECK(a->prepend == std::vector<std::string>{"X-Count: 2"});

    env.rcpts.pop_back();
    REQUIRE(write_file_durably(dir, "e", format_envelope_file(env), 0640));
    a = submit::ask_filter(sock, Request{dir + "/m", dir + "/e"}, 5000);
    REQUIRE(a);
    CHECK(a->code == 550);
    CHECK(a->text == "5.7.1 Spam");

    // A bad envelope file: the library answers a tempfail rather than guess.
    REQUIRE(write_file_durably(dir, "e", "nonsense\n", 0640));
    a = submit::ask_filter(sock, Request{dir + "/m", dir + "/e"}, 5000);
    REQUIRE(a);
    CHECK(a->code == 451);

    server.stop();
    t.join();
    CHECK(access(sock.c_str(), F_OK) != 0);   // removed on the way out
    auto down = submit::ask_filter(sock, Request{dir + "/m", dir + "/e"}, 1000);
    CHECK_FALSE(down);
    CHECK(std::system(("rm -rf " + dir).c_str()) == 0);
}
