// Unit tests for the Received: header and the RFC 5322 date.
#include <doctest/doctest.h>
#include <ctime>
#include <sstream>
#include "submit/received.h"

using namespace submit;

namespace {
std::tm utc(std::time_t t) {
    std::tm tm{};
    gmtime_r(&t, &tm);
    return tm;
}
}  // namespace

TEST_CASE("RFC 5322 dates") {
    CHECK(format_rfc5322_date(utc(0), 0) == "Thu, 1 Jan 1970 00:00:00 +0000");
    CHECK(format_rfc5322_date(utc(1763775420), 3600) == "Sat, 22 Nov 2025 01:37:00 +0100");
    CHECK(format_rfc5322_date(utc(1763775420), -(5 * 3600 + 30 * 60)) ==
          "Sat, 22 Nov 2025 01:37:00 -0530");
}

TEST_CASE("Received: with one recipient") {
    ReceivedInfo ri;
    ri.helo = "client.example.org";
    ri.remote_host = "";
    ri.remote_ip = "192.0.2.7";
    ri.me = "mx.example.com";
    ri.protocol = "ESMTP";
    ri.qid = "6921140C.00001F40.0000";
    ri.for_rcpt = "alice@example.com";
    ri.when = 1763775420;
    std::string h = format_received(ri);
    std::string date = rfc5322_date(ri.when);
    CHECK(h == "Received: from client.example.org (unknown [192.0.2.7])\n"
               "  by mx.example.com with ESMTP id 6921140C.00001F40.0000\n"
               "  for <alice@example.com>; " + date + "\n");
}

TEST_CASE("Received: no for clause with several recipients, no from clause locally") {
    ReceivedInfo ri;
    ri.me = "mx.example.com";
    ri.protocol = "local";
    ri.qid = "6921140C.00001F40.0001";
    ri.when = 1763775420;
    CHECK(format_received(ri) == "Received: by mx.example.com with local id 6921140C.00001F40.0001;\n  " +
                                     rfc5322_date(ri.when) + "\n");
}

TEST_CASE("Received: hostile values cannot add lines, long values fold") {
    ReceivedInfo ri;
    ri.helo = "evil\r\nX-Injected: yes";
    ri.remote_host = "host(with)parens";
    ri.remote_ip = "192.0.2.7";
    ri.me = "mx.example.com";
    ri.qid = "Q";
    ri.for_rcpt = std::string(90, 'a') + "@example.com";
    ri.when = 0;
    std::string h = format_received(ri);
    CHECK(h.find("X-Injected: yes\n") == std::string::npos);
    CHECK(h.find("from evil??X-Injected:?yes (host?with?parens [192.0.2.7])") != std::string::npos);
    // Every line but the first is a continuation; the date went to its own line.
    std::istringstream lines(h);
    std::string line;
    std::getline(lines, line);
    CHECK(line.rfind("Received: ", 0) == 0);
    int count = 1;
    while (std::getline(lines, line)) {
        CHECK(line.rfind("  ", 0) == 0);
        CHECK(line.size() > 2);
        ++count;
    }
    CHECK(count == 4);
}

TEST_CASE("Received: protocol word from the session facts (RFC 3848)") {
    CHECK(received_protocol("ESMTP", "esmtp", false, false) == "ESMTP");
    CHECK(received_protocol("ESMTP", "esmtp", true, false) == "ESMTPS");
    CHECK(received_protocol("ESMTP", "esmtp", true, true) == "ESMTPSA");
    CHECK(received_protocol("ESMTPSA", "esmtp", true, true) == "ESMTPSA");
    CHECK(received_protocol("UTF8SMTP", "esmtp", false, true) == "UTF8SMTPA");
    CHECK(received_protocol("SMTP", "esmtp", false, false) == "SMTP");
    CHECK(received_protocol("", "esmtp", false, false) == "ESMTP");
    CHECK(received_protocol("bogus\nX: y", "esmtp", false, false) == "ESMTP");
    CHECK(received_protocol("", "local", false, false) == "local");
}

TEST_CASE("Received: TLS and AUTH comment, local submitter") {
    ReceivedInfo ri;
    ri.helo = "client.example.org";
    ri.remote_ip = "192.0.2.7";
    ri.me = "mx.example.com";
    ri.protocol = "ESMTPSA";
    ri.qid = "Q";
    ri.tls = "TLSv1.3 TLS_AES_256_GCM_SHA384 256";
    ri.auth = "alice@example.com";
    ri.when = 0;
    std::string h = format_received(ri);
    CHECK(h.rfind("Received: from client.example.org (unknown [192.0.2.7])\n"
                  "  (AUTH: alice@example.com, TLS: TLSv1.3,256bits,TLS_AES_256_GCM_SHA384)\n"
                  "  by mx.example.com with ESMTPSA id Q;", 0) == 0);
    ri.auth = "evil) (x";
    ri.tls = "odd value";
    CHECK(format_received(ri).find("(AUTH: evil? ?x, TLS: odd value)") != std::string::npos);

    ReceivedInfo local;
    local.me = "mx.example.com";
    local.protocol = "local";
    local.qid = "Q";
    local.local_user = "alice";
    local.local_uid = 1000;
    CHECK(format_received(local).rfind("Received: (from alice uid 1000)\n  by mx.example.com with local id Q;", 0) == 0);
}
