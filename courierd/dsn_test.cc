#include <doctest/doctest.h>
#include "courierd/dsn.h"

using courierd::NoticeItem;

namespace {
QueueEnvelope env_for_dsn() {
    QueueEnvelope env;
    env.id = QueueId::make(0x60000000, 9, 2);
    env.arrival = 0;
    env.sender = "s@example.org";
    env.envid = "ENV-1";
    env.data_size = 40;
    env.rcpts.push_back({"a@x.org", "esmtp", "x.org", "rfc822;A@x.org", ""});
    env.rcpts.push_back({"b@test.example", "local", "b", "", ""});
    return env;
}
const char* kMessage = "Subject: hi\nFrom: s@example.org\n\nthe body\n";
}  // namespace

TEST_CASE("dsn_status and dates") {
    CHECK(courierd::dsn_status("550 5.1.1 No such user") == "5.1.1");
    CHECK(courierd::dsn_status("451 busy") == "4.0.0");
    CHECK(courierd::dsn_status("250 2.6.0 ok") == "2.6.0");
    CHECK(courierd::dsn_status("junk") == "5.0.0");
    CHECK(courierd::rfc5322_date(0) == "Thu, 01 Jan 1970 00:00:00 +0000");
}

TEST_CASE("a failure notice is a multipart/report with the whole message") {
    auto env = env_for_dsn();
    courierd::NoticeSettings s;
    s.me = "mx.test.example";
    std::vector<NoticeItem> items{{0, NoticeItem::Action::failed, "550 5.1.1 unknown", 60},
                                  {1, NoticeItem::Action::delivered, "250 2.0.0 ok", 60}};
    std::string n = courierd::build_notice(env, items, kMessage, s, 120);
    CHECK(n.find("To: <s@example.org>\n") != std::string::npos);
    CHECK(n.find("From: \"Courier mail server at mx.test.example\" <postmaster@mx.test.example>") == 0);
    CHECK(n.find("Subject: Delivery Status Notification (Failure)") != std::string::npos);
    CHECK(n.find("Content-Type: multipart/report; report-type=delivery-status;") != std::string::npos);
    CHECK(n.find("Reporting-MTA: dns; mx.test.example\nOriginal-Envelope-Id: ENV-1\n") != std::string::npos);
    CHECK(n.find("Original-Recipient: rfc822;A@x.org\nFinal-Recipient: rfc822; a@x.org\n"
                 "Action: failed\nStatus: 5.1.1\nRemote-MTA: dns; x.org\n"
                 "Diagnostic-Code: smtp; 550 5.1.1 unknown\n") != std::string::npos);
    CHECK(n.find("Final-Recipient: rfc822; b@test.example\nAction: delivered\nStatus: 2.0.0\n") !=
          std::string::npos);
    CHECK(n.find("Content-Type: message/rfc822\n\nSubject: hi\n") != std::string::npos);
    CHECK(n.find("the body") != std::string::npos);
    env.ret = "HDRS";
    n = courierd::build_notice(env, items, kMessage, s, 120);
    CHECK(n.find("Content-Type: text/rfc822-headers\n\nSubject: hi\nFrom: s@example.org\n\n") !=
          std::string::npos);
    CHECK(n.find("the body") == std::string::npos);
}

TEST_CASE("delay notices: headers only unless RET=FULL within dsnlimit; Will-Retry-Until") {
    auto env = env_for_dsn();
    courierd::NoticeSettings s;
    s.me = "m";
    s.dsnfrom = "\"Mailer\" <mailer@m>";
    s.will_retry_until = 7 * 86400;
    std::vector<NoticeItem> items{{0, NoticeItem::Action::delayed, "451 4.4.1 timeout", 60}};
    std::string n = courierd::build_notice(env, items, kMessage, s, 120);
    CHECK(n.find("From: \"Mailer\" <mailer@m>\n") == 0);
    CHECK(n.find("Subject: Delivery Status Notification (Delay)") != std::string::npos);
    CHECK(n.find("Action: delayed\nStatus: 4.4.1\n") != std::string::npos);
    CHECK(n.find("Will-Retry-Until: Thu, 08 Jan 1970 00:00:00 +0000") != std::string::npos);
    CHECK(n.find("text/rfc822-headers") != std::string::npos);
    CHECK(courierd::return_full_message(env, false, 32768) == false);
    env.ret = "FULL";
    CHECK(courierd::return_full_message(env, false, 32768));
    CHECK_FALSE(courierd::return_full_message(env, false, 39));   // over dsnlimit
    CHECK(courierd::return_full_message(env, true, 39));          // a bounce returns it
}
