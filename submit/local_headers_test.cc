// Unit tests for the headers of locally submitted mail.
#include <doctest/doctest.h>
#include "submit/local_headers.h"

using namespace submit;

namespace {
LocalHeaderOptions opts() {
    LocalHeaderOptions o;
    o.user_address = "alice@example.com";
    o.full_name = "Alice Example";
    o.msgid_host = "mx.example.com";
    o.unique = "1.2.3";
    o.date = "Sat, 22 Nov 2025 01:37:00 +0100";
    return o;
}
}  // namespace

TEST_CASE("missing Date, Message-ID and From are added; Bcc is removed; -t recipients") {
    auto h = prepare_local_headers("To: Bob <bob@example.org>\nCc: carol\nBcc: dave@example.net,\n  eve\nSubject: x\n", opts());
    CHECK(h.rcpts == std::vector<std::string>{"bob@example.org", "carol", "dave@example.net", "eve"});
    CHECK(h.block == "To: Bob <bob@example.org>\nCc: carol\nSubject: x\n"
                     "From: Alice Example <alice@example.com>\n"
                     "Date: Sat, 22 Nov 2025 01:37:00 +0100\n"
                     "Message-ID: <1.2.3@mx.example.com>\n");
}

TEST_CASE("existing headers are kept; Resent- recipients win") {
    auto h = prepare_local_headers("From: x@y.example\nDate: d\nMessage-ID: <m@y>\nTo: old@y.example\n"
                                   "Resent-To: new@y.example\n", opts());
    CHECK(h.rcpts == std::vector<std::string>{"new@y.example"});
    CHECK(h.block == "From: x@y.example\nDate: d\nMessage-ID: <m@y>\nTo: old@y.example\nResent-To: new@y.example\n");
}

TEST_CASE("nochangingfrom and usexsender") {
    auto o = opts();
    o.force_from = true;
    o.x_sender = true;
    o.full_name = "A. Example";
    auto h = prepare_local_headers("From: boss@example.com\nX-Sender: forged\nDate: d\nMessage-ID: <m@y>\n", o);
    CHECK(h.block == "Date: d\nMessage-ID: <m@y>\nFrom: \"A. Example\" <alice@example.com>\n"
                     "X-Sender: alice@example.com\n");
    CHECK(format_mailbox("", "a@b") == "a@b");
    CHECK(format_mailbox("Q \"x\"", "a@b") == "\"Q \\\"x\\\"\" <a@b>");
}
