// Transcript tests of the submit protocol: what the caller sends, what it reads back,
// and what lands in the spool (queue file envelope and byte-exact message).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>
#include "lib/bdb.h"
#include "lib/fileio.h"
#include "lib/queue.h"
#include "submit/session.h"

using namespace submit;

namespace {

bool fake_accounts(const std::string& a) { return a == "alice" || a == "bob"; }

struct Sandbox {
    std::string root, config, spool;
    Sandbox() {
        char tmpl[] = "/tmp/submit-ss-XXXXXX";
        root = mkdtemp(tmpl);
        config = root + "/etc";
        spool = root + "/spool";
        for (const std::string& d : {config, spool, spool + "/tmp", spool + "/msgs"})
            ::mkdir(d.c_str(), 0750);
        put("me", "mx.example.com\n");
        put("locals", "example.com\n");
        put("defaultdomain", "example.com\n");
        // Unit tests never wait on DNS: DKIM/DMARC checking would look up every From:.
        put("dkimsettings", "DKIM_VERIFY=0\n");
    }
    ~Sandbox() { std::filesystem::remove_all(root); }
    void put(const std::string& name, const std::string& text) const {
        std::ofstream(config + "/" + name) << text;
    }
    SubmitOptions options(const std::string& source = "esmtp") const {
        SubmitOptions o;
        o.source = source;
        o.spool_dir = spool;
        o.config_dir = config;
        o.account_exists = fake_accounts;
        return o;
    }
    // Feeds `input` from a file (no pipe capacity limit), returns the replies.
    std::string run(const std::string& input, SubmitOptions o, int* exit_code = nullptr) const {
        std::string in_path = root + "/in", out_path = root + "/out";
        std::ofstream(in_path, std::ios::binary) << input;
        UniqueFd in(::open(in_path.c_str(), O_RDONLY));
        UniqueFd out(::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600));
        int rc = SubmitSession(in.get(), out.get(), std::move(o)).run();
        if (exit_code) *exit_code = rc;
        return read_file(out_path, 1 << 20).value();
    }
    std::vector<std::string> queue_files() const {
        std::vector<std::string> out;
        for (auto& e : std::filesystem::recursive_directory_iterator(spool + "/msgs"))
            if (e.is_regular_file()) out.push_back(e.path().string());
        return out;
    }
    size_t tmp_files() const {
        return size_t(std::distance(std::filesystem::directory_iterator(spool + "/tmp"),
                                    std::filesystem::directory_iterator()));
    }
};

std::string chunk(const std::string& bytes) {
    return "chunk " + std::to_string(bytes.size()) + "\n" + bytes;
}

const char* kSession =
    "session remote-ip 192.0.2.7\n"
    "session helo client.example.org\n"
    "session local-ip 192.0.2.1\n"
    "session protocol ESMTP\n";

}  // namespace

TEST_CASE("submit: a message is queued durably and reads back byte-exact") {
    Sandbox sb;
    std::string in = std::string(kSession) + "mail sender@example.org RET=HDRS ENVID=e1\n" +
                     "rcpt alice@example.com NOTIFY=NEVER\n" + "rcpt alice@EXAMPLE.com\n" +
                     "rcpt carol@example.com\n" + "rcpt x@remote.test\n" + "rcpt bob\n" +
                     "data\n" + chunk("Subject: hi\r") + chunk("\n\r\nbody\r") + chunk("\n") +
                     "chunk 0\nquit\n";
    int rc = -1;
    // main() sets umask 027; other tests in this binary may have changed it.
    mode_t old_umask = ::umask(027);
    std::string out = sb.run(in, sb.options(), &rc);
    ::umask(old_umask);
    CHECK(rc == EX_OK);
    auto files = sb.queue_files();
    REQUIRE(files.size() == 1);
    size_t offset = 0;
    auto env = read_envelope(files[0], &offset);
    REQUIRE(env);
    CHECK(out == "250 2.1.0 Ok\n250 2.1.5 Ok\n250 2.1.5 Ok\n"
                 "550 5.1.1 <carol@example.com>: unknown user\n550 5.7.1 Relaying denied\n"
                 "250 2.1.5 Ok\nqueue " + env->id.text + "\n250 2.0.0 Ok: queued as " + env->id.text + "\n");
    CHECK(files[0] == sb.spool + "/msgs/" + env->id.bucket() + "/Q" + env->id.text);
    CHECK(env->sender == "sender@example.org");
    CHECK(env->source == "esmtp");
    CHECK(env->ret == "HDRS");
    CHECK(env->envid == "e1");
    CHECK(env->remote_ip == "192.0.2.7");
    CHECK(env->helo == "client.example.org");
    CHECK(env->local_ip == "192.0.2.1");
    CHECK(env->vhost == "");
    REQUIRE(env->rcpts.size() == 2);
    CHECK(env->rcpts[0].address == "alice@example.com");
    CHECK(env->rcpts[0].module == "local");
    CHECK(env->rcpts[0].host == "alice");
    CHECK(env->rcpts[0].notify == "NEVER");
    CHECK(env->rcpts[1].address == "bob@example.com");

    std::string file = read_file(files[0], 1 << 20).value();
    std::string message = file.substr(offset);
    CHECK(message.size() == env->data_size);
    CHECK(message.rfind("Received: from client.example.org (unknown [192.0.2.7])\n"
                        "  by mx.example.com with ESMTP id " + env->id.text + ";\n", 0) == 0);
    CHECK(message.substr(message.find("\nSubject") + 1) == "Subject: hi\n\nbody\n");
    CHECK(sb.tmp_files() == 0);
    struct stat st{};
    REQUIRE(::stat(files[0].c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0640);
}

TEST_CASE("submit: refusals queue nothing") {
    Sandbox sb;
    SubmitOptions o = sb.options();
    o.size_limit = 10;
    std::string in = std::string("rcpt alice\n") + "data\n" + chunk("x\r\n") + "chunk 0\n" +
                     "mail <bad\n" + "mail \n" + "rcpt nobody@remote.test\n" + "data\n" +
                     chunk("x\r\n") + "chunk 0\n" + "mail a@b.example\n" + "rcpt alice\n" +
                     "data\n" + chunk("0123456789\r\n") + "chunk 0\n";
    std::string out = sb.run(in, o);
    CHECK(out == "503 5.5.1 MAIL first\n"
                 "503 5.5.1 MAIL first\n"
                 "501 5.1.7 Bad sender address syntax\n"
                 "250 2.1.0 Ok\n"
                 "550 5.7.1 Relaying denied\n"
                 "554 5.5.1 No valid recipients\n"
                 "250 2.1.0 Ok\n250 2.1.5 Ok\n"
                 "552 5.3.4 Message too big\n");
    CHECK(sb.queue_files().empty());
    CHECK(sb.tmp_files() == 0);
}

TEST_CASE("submit: relay yes, several messages, rset, vhost and the trigger FIFO") {
    Sandbox sb;
    sb.put("vhost.192.0.2.1", "");
    std::string fifo = sb.spool + "/trigger";
    REQUIRE(::mkfifo(fifo.c_str(), 0620) == 0);
    UniqueFd reader(::open(fifo.c_str(), O_RDONLY | O_NONBLOCK));
    REQUIRE(reader);
    std::string in = std::string(kSession) + "session relay yes\n" + "mail \n" +
                     "rcpt x@remote.test\n" + "data\n" + chunk("a\n") + "chunk 0\n" +
                     "mail a@b.example\n" + "rcpt bob\n" + "rset\n" + "mail c@d.example\n" +
                     "rcpt bob\n" + "data\n" + chunk("partial") + "rset\n" +
                     "mail e@f.example\n" + "rcpt bob\n" + "data\nchunk 0\n";
    int rc = -1;
    std::string out = sb.run(in, sb.options(), &rc);
    CHECK(rc == EX_OK);
    auto files = sb.queue_files();
    REQUIRE(files.size() == 2);
    std::sort(files.begin(), files.end());
    auto first = read_envelope(files[0], nullptr);
    auto second = read_envelope(files[1], nullptr);
    REQUIRE(first);
    REQUIRE(second);
    CHECK(first->sender == "");
    CHECK(first->vhost == "192.0.2.1");
    CHECK(first->rcpts[0].module == "esmtp");
    CHECK(first->rcpts[0].host == "remote.test");
    CHECK(second->sender == "e@f.example");
    CHECK(first->id.text != second->id.text);
    CHECK(out == "250 2.1.0 Ok\n250 2.1.5 Ok\nqueue " + first->id.text + "\n250 2.0.0 Ok: queued as " + first->id.text +
                     "\n250 2.1.0 Ok\n250 2.1.5 Ok\n250 2.1.0 Ok\n250 2.1.5 Ok\n"
                     "250 2.1.0 Ok\n250 2.1.5 Ok\nqueue " + second->id.text + "\n250 2.0.0 Ok: queued as " + second->id.text + "\n");
    char buf[512];
    ssize_t n = ::read(reader.get(), buf, sizeof buf);
    REQUIRE(n > 0);
    CHECK(std::string(buf, size_t(n)) ==
          "new " + first->id.bucket() + "/Q" + first->id.text + "\n" + "new " +
              second->id.bucket() + "/Q" + second->id.text + "\n");
}

TEST_CASE("submit: end of input inside a message leaves nothing behind") {
    Sandbox sb;
    int rc = -1;
    std::string out = sb.run("mail a@b.example\nrcpt bob\ndata\nchunk 10\nabc", sb.options(), &rc);
    CHECK(rc == EX_PROTOCOL);
    CHECK(out == "250 2.1.0 Ok\n250 2.1.5 Ok\n");
    CHECK(sb.queue_files().empty());
    CHECK(sb.tmp_files() == 0);
    CHECK(sb.run("bogus\n", sb.options(), &rc).empty());
    CHECK(rc == EX_PROTOCOL);
}

TEST_CASE("submit: a large message is spilled and stays byte-exact") {
    Sandbox sb;
    SubmitOptions o = sb.options("local");
    o.memory_limit = 1000;
    std::string body, want;
    for (int i = 0; i < 20000; ++i) {
        body += "line " + std::to_string(i) + "\r\n";
        want += "line " + std::to_string(i) + "\n";
    }
    std::string in = "mail alice\nrcpt x@remote.test\nrcpt bob\ndata\n";
    for (size_t i = 0; i < body.size(); i += 7777) in += chunk(body.substr(i, 7777));
    in += "chunk 0\n";
    std::string out = sb.run(in, o);
    auto files = sb.queue_files();
    REQUIRE(files.size() == 1);
    size_t offset = 0;
    auto env = read_envelope(files[0], &offset);
    REQUIRE(env);
    CHECK(env->sender == "alice@example.com");
    CHECK(env->rcpts.size() == 2);
    std::string message = read_file(files[0], 1 << 22).value().substr(offset);
    CHECK(message.size() == env->data_size);
    CHECK(message.rfind("Received: by mx.example.com with local id " + env->id.text + ";\n", 0) == 0);
    CHECK(message.substr(message.find("\nline 0\n") + 1) == want);
    CHECK(sb.tmp_files() == 0);
}

TEST_CASE("submit: the recipient limit") {
    Sandbox sb;
    SubmitOptions o = sb.options("local");
    o.max_rcpts = 2;
    std::string out = sb.run("mail \nrcpt a@r.test\nrcpt b@r.test\nrcpt a@r.test\nrcpt c@r.test\n", o);
    CHECK(out == "250 2.1.0 Ok\n250 2.1.5 Ok\n250 2.1.5 Ok\n250 2.1.5 Ok\n452 4.5.3 Too many recipients\n");
}

TEST_CASE("submit: aliases expand local recipients, ORCPT keeps the alias") {
    Sandbox sb;
    {
        auto db = DbBuilder::create(sb.config + "/aliases.dat");
        REQUIRE(db);
        REQUIRE(db->put("staff", "alice\nbob@example.com\nx@remote.test\nnobody"));
        REQUIRE(db->put("info@hosted.example", "bob"));
        REQUIRE(db->put("ghosts", "nobody\nnoone"));
        REQUIRE(db->commit());
    }
    sb.put("hosteddomains", "hosted.example\n");
    std::string in = std::string(kSession) + "mail s@example.org\n" + "rcpt Staff@example.com\n" +
                     "rcpt info@hosted.example NOTIFY=NEVER\n" + "rcpt ghosts\n" + "rcpt bob\n" +
                     "rcpt other@hosted.example\n" + "data\n" + chunk("x\n") + "chunk 0\nquit\n";
    std::string out = sb.run(in, sb.options());
    CHECK(out.rfind("250 2.1.0 Ok\n250 2.1.5 Ok\n250 2.1.5 Ok\n"
                    "550 5.1.1 <ghosts>: alias without valid recipients\n"
                    "250 2.1.5 Ok\n550 5.1.1 <other@hosted.example>: unknown user\n", 0) == 0);
    auto files = sb.queue_files();
    REQUIRE(files.size() == 1);
    auto env = read_envelope(files[0], nullptr);
    REQUIRE(env);
    REQUIRE(env->rcpts.size() == 3);
    CHECK(env->rcpts[0].address == "alice@example.com");
    CHECK(env->rcpts[0].orcpt == "rfc822;Staff@example.com");
    CHECK(env->rcpts[1].address == "bob@example.com");
    CHECK(env->rcpts[2].address == "x@remote.test");
    CHECK(env->rcpts[2].module == "esmtp");
}

TEST_CASE("submit: an untrusted caller's session facts are ignored; vhost by auth domain") {
    // Two spools: both runs are this process, so their queue ids would be the same.
    Sandbox sb, sb2;
    for (const Sandbox* s : {&sb, &sb2}) {
        s->put("vhost.auth.example", "");
        s->put("me.auth.example", "auth-host.example\n");
        s->put("vhost.192.0.2.1", "");
    }
    std::string in = std::string(kSession) + "session auth u@Auth.Example\n" + "mail s@example.org\n" +
                     "rcpt alice\n" + "data\n" + chunk("x\n") + "chunk 0\nquit\n";
    sb.run(in, sb.options());
    SubmitOptions o = sb.options("local");
    o.trusted = false;
    o.local_user = "mallory";
    o.local_uid = 1234;
    o.spool_dir = sb2.spool;
    o.config_dir = sb2.config;
    sb2.put("nochangingfrom", "");
    sb2.run(in, o);
    CHECK(read_envelope(sb2.queue_files().at(0), nullptr)->sender == "mallory@example.com");
    // The submitting account is recorded as the owner (cancelmsg); esmtp mail has none.
    CHECK(read_envelope(sb2.queue_files().at(0), nullptr)->owner_uid == 1234);
    CHECK(read_envelope(sb.queue_files().at(0), nullptr)->owner_uid == -1);
    auto files = sb.queue_files();
    for (const auto& f : sb2.queue_files()) files.push_back(f);
    REQUIRE(files.size() == 2);
    std::vector<std::string> vhosts, received;
    for (const auto& f : files) {
        size_t off = 0;
        auto env = read_envelope(f, &off);
        REQUIRE(env);
        vhosts.push_back(env->vhost + "/" + env->remote_ip);
        received.push_back(read_file(f, 1 << 20).value().substr(off, 120));
    }
    std::sort(vhosts.begin(), vhosts.end());
    CHECK(vhosts == std::vector<std::string>{"/", "auth.example/192.0.2.7"});
    std::sort(received.begin(), received.end());
    CHECK(received[0].rfind("Received: (from mallory uid 1234)\n  by mx.example.com with local", 0) == 0);
    CHECK(received[1].rfind("Received: from client.example.org (unknown [192.0.2.7])\n  by auth-host", 0) == 0);
}

TEST_CASE("submit: submitdelay writes a retry record before the queue file") {
    Sandbox sb;
    sb.put("submitdelay", "10m\n");
    std::string in = std::string(kSession) + "mail s@example.org\nrcpt alice\ndata\n" + chunk("x\n") +
                     "chunk 0\nquit\n";
    sb.run(in, sb.options());
    auto files = sb.queue_files();
    REQUIRE(files.size() == 2);
    std::sort(files.begin(), files.end());
    auto log = parse_status_log(read_file(files[1], 4096).value());
    REQUIRE(log.size() == 1);
    CHECK(log[0].kind == StatusRecord::Kind::retry);
    CHECK(log[0].next >= ::time(nullptr) + 590);
    CHECK(log[0].next <= ::time(nullptr) + 600);
    CHECK(log[0].attempts == 0);
}

TEST_CASE("submit: the backscatter list refuses recipients of listed sources") {
    Sandbox sb;
    REQUIRE(BackscatterList(sb.spool + "/backscatter.dat").add("alice@Example.COM", ::time(nullptr)));
    REQUIRE(BackscatterList(sb.spool + "/backscatter.dat").add("old@remote.test", ::time(nullptr) - 7201));
    const std::string refused = "450 4.7.1 <alice@example.com>: recent delivery failure; try later\n";
    std::string rcpts = "mail a@b.example\nrcpt alice\nrcpt bob\nrcpt old@remote.test\nrset\n";
    // Plain SMTP (the default "smtp"): alice is refused, the expired entry blocks nothing.
    CHECK(sb.run("session relay yes\n" + rcpts, sb.options()) ==
          "250 2.1.0 Ok\n" + refused + "250 2.1.5 Ok\n250 2.1.5 Ok\n");
    // Authenticated SMTP and local mail are not listed by default.
    CHECK(sb.run("session auth someone\n" + rcpts.substr(0, rcpts.find("rcpt bob")), sb.options()) ==
          "250 2.1.0 Ok\n250 2.1.5 Ok\n");
    CHECK(sb.run(rcpts.substr(0, rcpts.find("rcpt bob")), sb.options("local")) ==
          "250 2.1.0 Ok\n250 2.1.5 Ok\n");
    sb.put("bofh", "opt BOFHSUPPRESSBACKSCATTER=smtp,authsmtp\n");
    CHECK(sb.run("session auth someone\n" + rcpts.substr(0, rcpts.find("rcpt bob")), sb.options()) ==
          "250 2.1.0 Ok\n" + refused);
    // An alias whose only target is listed is refused with the target's reply.
    {
        auto db = DbBuilder::create(sb.config + "/aliases.dat");
        REQUIRE(db);
        REQUIRE(db->put("team", "alice"));
        REQUIRE(db->commit());
    }
    CHECK(sb.run("mail a@b.example\nrcpt team\n", sb.options()) == "250 2.1.0 Ok\n" + refused);
    sb.put("bofh", "opt BOFHSUPPRESSBACKSCATTER=none\n");
    CHECK(sb.run("mail a@b.example\nrcpt alice\n", sb.options()) == "250 2.1.0 Ok\n250 2.1.5 Ok\n");
}
