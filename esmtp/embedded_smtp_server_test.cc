// Unit tests of smtpembed::Server over loopback sockets: start on port 0, a whole
// transaction reaching deliver, the refused-host conversation (550, then 503 until
// QUIT), the connection limit (421), and stop() ending sessions that are still open.
#include <doctest/doctest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <atomic>
#include <thread>
#include "esmtp/embedded_smtp_server.h"
#include "lib/unique_fd.h"

using smtpembed::Verdict;

namespace {
// A blocking test client that reads one reply (all its lines) at a time.
struct Client {
    UniqueFd fd;
    std::string buffered;

    explicit Client(uint16_t port) : fd(::socket(AF_INET, SOCK_STREAM, 0)) {
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    }
    // The next complete reply ("" when the server closed or 5 s passed).
    std::string reply() {
        std::string out;
        while (true) {
            size_t eol = buffered.find("\r\n");
            if (eol != std::string::npos) {
                std::string line = buffered.substr(0, eol + 2);
                buffered.erase(0, eol + 2);
                out += line;
                if (line.size() < 4 || line[3] != '-') return out;
                continue;
            }
            pollfd p{fd.get(), POLLIN, 0};
            if (::poll(&p, 1, 5000) <= 0) return out;
            char buf[4096];
            ssize_t n = ::read(fd.get(), buf, sizeof buf);
            if (n <= 0) return out;
            buffered.append(buf, static_cast<size_t>(n));
        }
    }
    std::string send(const std::string& line) {
        std::string l = line + "\r\n";
        REQUIRE(::write(fd.get(), l.data(), l.size()) == static_cast<ssize_t>(l.size()));
        return reply();
    }
    bool closed_by_server() {
        pollfd p{fd.get(), POLLIN, 0};
        if (::poll(&p, 1, 5000) <= 0) return false;
        char c;
        return ::read(fd.get(), &c, 1) == 0;
    }
};

smtpembed::Options test_options() {
    smtpembed::Options o;
    o.port = 0;
    o.server_name = "embed.test";
    return o;
}
}  // namespace

TEST_CASE("embedded server: a message over a socket reaches deliver") {
    std::vector<smtpembed::Message> got;
    smtpembed::Callbacks cb;
    cb.deliver = [&](const smtpembed::Message& m) {
        got.push_back(m);
        return Verdict::accept();
    };
    smtpembed::Server server(test_options(), cb);
    std::string why;
    REQUIRE(server.start(&why));
    REQUIRE(server.port() != 0);
    CHECK_FALSE(server.start(&why));   // already running
    Client c(server.port());
    CHECK(c.reply().rfind("220 embed.test ESMTP", 0) == 0);
    CHECK(c.send("EHLO me").find("250 CHUNKING") != std::string::npos);
    CHECK(c.send("MAIL FROM:<a@b.example>").rfind("250 ", 0) == 0);
    CHECK(c.send("RCPT TO:<c@d.example>").rfind("250 ", 0) == 0);
    CHECK(c.send("DATA").rfind("354", 0) == 0);
    CHECK(c.send("Subject: hi\r\n\r\n..dot\r\n.").find("Message accepted for delivery") != std::string::npos);
    CHECK(c.send("QUIT").rfind("221", 0) == 0);
    REQUIRE(got.size() == 1);
    CHECK(got[0].client_ip == "127.0.0.1");
    CHECK(got[0].data.find("\r\n.dot\r\n") != std::string::npos);
    server.stop();
    CHECK(server.port() == 0);
    CHECK_FALSE(server.running());
}

TEST_CASE("embedded server: refused host hears 550, then 503 until QUIT") {
    smtpembed::Callbacks cb;
    cb.validate_host = [](const std::string& ip) { return Verdict::refuse("no " + ip); };
    smtpembed::Server server(test_options(), cb);
    REQUIRE(server.start());
    Client c(server.port());
    CHECK(c.reply() == "550 Access denied: no 127.0.0.1\r\n");
    CHECK(c.send("EHLO me").rfind("503 ", 0) == 0);
    CHECK(c.send("MAIL FROM:<a@b.example>").rfind("503 ", 0) == 0);
    CHECK(c.send("QUIT").rfind("221 ", 0) == 0);
    CHECK(c.closed_by_server());
}

TEST_CASE("embedded server: clients past max_connections get 421") {
    smtpembed::Options o = test_options();
    o.max_connections = 1;
    smtpembed::Server server(o, {});
    REQUIRE(server.start());
    Client first(server.port());
    CHECK(first.reply().rfind("220", 0) == 0);
    Client second(server.port());
    CHECK(second.reply().rfind("421 4.7.0", 0) == 0);
    CHECK(second.closed_by_server());
    CHECK(server.active_sessions() == 1);
}

TEST_CASE("embedded server: stop() ends open sessions and waits for them") {
    smtpembed::Server server(test_options(), {});
    REQUIRE(server.start());
    Client c(server.port());
    CHECK(c.reply().rfind("220", 0) == 0);
    uint16_t port = server.port();
    auto t0 = std::chrono::steady_clock::now();
    server.stop(std::chrono::milliseconds(100));
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(3));
    CHECK(c.closed_by_server());
    CHECK(server.active_sessions() == 0);
    // The port is free again: a new server can take it.
    smtpembed::Options o = test_options();
    o.port = port;
    smtpembed::Server again(o, {});
    CHECK(again.start());
}

TEST_CASE("embedded server: start() reports what it cannot do") {
    smtpembed::Options o = test_options();
    o.tls_cert_file = "/nonexistent/cert.pem";
    smtpembed::Server bad_tls(o, {});
    std::string why;
    CHECK_FALSE(bad_tls.start(&why));
    CHECK(why.find("TLS") != std::string::npos);
    smtpembed::Options i = test_options();
    i.implicit_tls = true;
    smtpembed::Server no_cert(i, {});
    CHECK_FALSE(no_cert.start(&why));
    smtpembed::Options a = test_options();
    a.address = "192.0.2.1";   // TEST-NET: not ours
    smtpembed::Server wrong(a, {});
    CHECK_FALSE(wrong.start(&why));
    CHECK(why.find("bind") != std::string::npos);
}
