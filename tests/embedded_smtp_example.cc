// A program outside the MTA that embeds libsmtpembed with lambdas, built against the
// installed header alone (see esmtp/Makefile.inc): it proves the public API is enough
// to receive mail. It checks itself and exits 0 on success (run by make check).
#include <embedded_smtp_server.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cstdio>
#include <string>
#include <vector>

namespace {
int passes = 0, failures = 0;
void expect(bool ok, const std::string& what) {
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
    ++(ok ? passes : failures);
}

// The smallest SMTP client: sends a line, returns the reply (one read is enough on
// loopback for these short replies).
struct Client {
    int fd = -1;
    explicit Client(uint16_t port) {
        fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) fd = -1;
    }
    ~Client() {
        if (fd >= 0) ::close(fd);
    }
    std::string read_reply() {
        std::string r;
        timeval tv{5, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        char buf[2048];
        // A reply ends with a line whose fourth character is a space.
        while (true) {
            ssize_t n = ::read(fd, buf, sizeof buf);
            if (n <= 0) return r;
            r.append(buf, static_cast<size_t>(n));
            if (r.size() < 6 || r.compare(r.size() - 2, 2, "\r\n") != 0) continue;
            size_t prev = r.rfind("\r\n", r.size() - 3);
            size_t start = prev == std::string::npos ? 0 : prev + 2;
            if (r.size() - start > 4 && r[start + 3] == ' ') return r;
        }
    }
    std::string say(const std::string& line) {
        std::string l = line + "\r\n";
        if (::write(fd, l.data(), l.size()) != static_cast<ssize_t>(l.size())) return "";
        return read_reply();
    }
};
}  // namespace

int main() {
    std::vector<smtpembed::Message> inbox;
    smtpembed::Callbacks callbacks;
    callbacks.validate_sender = [](const std::string& sender) {
        return sender.find("@spammer.example") != std::string::npos ? smtpembed::Verdict::refuse("spammer")
                                                                    : smtpembed::Verdict::accept();
    };
    callbacks.validate_recipient = [](const std::string& rcpt) {
        return rcpt == "nobody@test.example" ? smtpembed::Verdict::refuse() : smtpembed::Verdict::accept();
    };
    callbacks.deliver = [&inbox](const smtpembed::Message& m) {
        inbox.push_back(m);   // serialize_callbacks (the default): no lock needed
        return smtpembed::Verdict::accept();
    };
    smtpembed::Options options;
    options.port = 0;   // any free port
    options.server_name = "example.test";
    smtpembed::Server server(options, callbacks);
    std::string why;
    if (!server.start(&why)) {
        std::printf("FAIL start: %s\n", why.c_str());
        return 1;
    }
    {
        Client c(server.port());
        expect(c.read_reply().rfind("220 example.test", 0) == 0, "greeting");
        expect(c.say("EHLO client.test").rfind("250-example.test", 0) == 0, "EHLO");
        expect(c.say("MAIL FROM:<x@spammer.example>").rfind("553 ", 0) == 0, "refused sender: 553");
        expect(c.say("MAIL FROM:<me@client.test>").rfind("250 ", 0) == 0, "sender accepted");
        expect(c.say("RCPT TO:<nobody@test.example>").rfind("553 ", 0) == 0, "refused recipient: 553");
        expect(c.say("RCPT TO:<you@test.example>").rfind("250 ", 0) == 0, "recipient accepted");
        expect(c.say("DATA").rfind("354 ", 0) == 0, "DATA");
        expect(c.say("Subject: hello\r\n\r\nHello from the example.\r\n.").rfind("250 ", 0) == 0, "message accepted");
        expect(c.say("QUIT").rfind("221 ", 0) == 0, "QUIT");
    }
    server.stop();
    expect(inbox.size() == 1, "one message delivered");
    if (inbox.size() == 1) {
        expect(inbox[0].sender == "me@client.test", "envelope sender");
        expect(inbox[0].recipients == std::vector<std::string>{"you@test.example"}, "envelope recipients");
        expect(inbox[0].data.find("Hello from the example.") != std::string::npos, "message text");
    }
    // The line ./run-tests adds up, like every other test's.
    std::printf("RESULT: %d passed, %d failed\n", passes, failures);
    return failures ? 1 : 0;
}
