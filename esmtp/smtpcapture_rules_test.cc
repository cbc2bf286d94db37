// Unit tests of smtpcapture's rules: options, patterns, the capture file, and the
// callbacks it builds (refusals and deliveries written into the directory).
#include <doctest/doctest.h>
#include <cstdlib>
#include <filesystem>
#include "esmtp/smtpcapture_rules.h"
#include "lib/fileio.h"

using smtpembed::Message;

TEST_CASE("smtpcapture: options") {
    auto o = parse_capture_options({"-d", "/tmp/x", "-p", "0", "-a", "::1", "--reject-sender", "*@spam.example",
                                    "--reject-recipient", "a@b", "--reject-recipient", "c@d", "--max-messages", "2"});
    REQUIRE(o);
    CHECK(o->directory == "/tmp/x");
    CHECK(o->port == 0);
    CHECK(o->address == "::1");
    CHECK(o->reject_senders == std::vector<std::string>{"*@spam.example"});
    CHECK(o->reject_recipients.size() == 2);
    CHECK(o->max_messages == 2);
    CHECK_FALSE(parse_capture_options({"-p", "2525"}));                       // no -d
    CHECK(parse_capture_options({"-d", "x", "-p", "99999"}).error().text.find("-p") != std::string::npos);
    CHECK(parse_capture_options({"-d", "x", "--bogus"}).error().text.find("--bogus") != std::string::npos);
    CHECK_FALSE(parse_capture_options({"-d", "x", "--reject-sender"}));      // value missing
    CHECK_FALSE(parse_capture_options({"-d", "x", "--implicit-tls"}));       // needs a certificate
    CHECK(parse_capture_options({"--help"})->help);
}

TEST_CASE("smtpcapture: patterns ignore case") {
    std::vector<std::string> p = {"*@Spam.example", "bad?@x.example", "10.0.0.*"};
    CHECK(matches_any(p, "joe@spam.EXAMPLE"));
    CHECK(matches_any(p, "bad1@x.example"));
    CHECK_FALSE(matches_any(p, "bad12@x.example"));
    CHECK(matches_any(p, "10.0.0.7"));
    CHECK_FALSE(matches_any(p, "joe@ham.example"));
    CHECK_FALSE(matches_any({}, "x"));
}

TEST_CASE("smtpcapture: file name and text") {
    CHECK(capture_file_name("6921140C.000001") == "6921140C.000001.eml");
    CHECK(capture_file_name("../x") == "m.._x.eml");
    Message m;
    m.sender = "a@b";
    m.recipients = {"c@d", "e@f"};
    m.client_ip = "127.0.0.1";
    m.helo = "h\r\nX-Evil: 1";
    m.data = "Subject: s\r\n\r\nbody\r\n";
    CHECK(capture_file_text(m) ==
          "X-Envelope-From: <a@b>\r\nX-Envelope-To: <c@d>\r\nX-Envelope-To: <e@f>\r\n"
          "X-Envelope-Client: 127.0.0.1 helo=h??X-Evil: 1\r\nSubject: s\r\n\r\nbody\r\n");
}

TEST_CASE("smtpcapture: callbacks refuse, fail, defer and capture") {
    std::string dir = std::filesystem::temp_directory_path() / ("smtpcapture_test." + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    auto o = parse_capture_options({"-d", dir, "--refuse-host", "192.0.2.*", "--reject-sender", "*@spam.example",
                                    "--reject-recipient", "nobody@*", "--fail-delivery", "fail@*",
                                    "--defer-delivery", "later@*"});
    REQUIRE(o);
    std::vector<std::string> captured;
    auto cb = capture_callbacks(*o, [&](const std::string& n) { captured.push_back(n); });
    CHECK_FALSE(cb.validate_host("192.0.2.4").accepted());
    CHECK(cb.validate_host("127.0.0.1").accepted());
    CHECK_FALSE(cb.validate_sender("x@SPAM.example").accepted());
    CHECK(cb.validate_sender("").accepted());
    CHECK_FALSE(cb.validate_recipient("nobody@here").accepted());
    Message m;
    m.id = "ABC.1";
    m.sender = "s@x";
    m.recipients = {"ok@here", "fail@here"};
    m.data = "Subject: x\r\n\r\ny\r\n";
    auto v = cb.deliver(m);
    CHECK_FALSE(v.accepted());
    CHECK_FALSE(v.has_own_code());   // the documented 554
    m.recipients = {"later@here"};
    CHECK(cb.deliver(m).code() == 451);
    m.recipients = {"ok@here"};
    CHECK(cb.deliver(m).accepted());
    CHECK(captured == std::vector<std::string>{"ABC.1.eml"});
    auto text = read_file(dir + "/ABC.1.eml", 1 << 20);
    REQUIRE(text);
    CHECK(text->rfind("X-Envelope-From: <s@x>\r\nX-Envelope-To: <ok@here>\r\n", 0) == 0);
    std::filesystem::remove_all(dir);
    // An unwritable directory is a temporary failure: the client keeps the message.
    auto gone = parse_capture_options({"-d", dir + "/missing/deeper"});
    REQUIRE(gone);
    CHECK(capture_callbacks(*gone, nullptr).deliver(m).code() == 451);
}
