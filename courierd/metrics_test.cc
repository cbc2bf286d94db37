#include <doctest/doctest.h>
#include "courierd/metrics.h"

using courierd::Metrics;

TEST_CASE("Metrics counts delivery lines by module and result") {
    Metrics m;
    CHECK(m.count_delivery_line("delivery id=X from=<a@b> rcpt=<c@d> module=local relay=c status=ok "
                                "code=2.0.0 delay=3 attempt=1 text=250 2.0.0 ok module=esmtp status=fail"));
    CHECK(m.count_delivery_line("delivery id=X from=<a@b> rcpt=<c@d> module=esmtp relay=d status=defer "
                                "code=4.4.1 delay=700 attempt=1 text=451 try later"));
    CHECK(m.count_delivery_line("delivery id=X from=<a@b> rcpt=<c@d> module=esmtp relay=d status=fail "
                                "code=5.1.1 delay=0 attempt=2 text=550 no"));
    CHECK(!m.count_delivery_line("removed id=X"));
    m.count_expired("esmtp");
    CHECK(m.value("courier_deliveries_total{module=\"local\",result=\"delivered\"}") == 1);
    CHECK(m.value("courier_deliveries_total{module=\"esmtp\",result=\"deferred\"}") == 1);
    CHECK(m.value("courier_deliveries_total{module=\"esmtp\",result=\"bounced\"}") == 2);
    CHECK(m.value("courier_deliveries_total{module=\"esmtp\",result=\"delivered\"}") == 0);
    // Only the delivered recipient is in the latency histogram: 3 s.
    CHECK(m.value("courier_delivery_latency_seconds_bucket{le=\"1\"}") == 0);
    CHECK(m.value("courier_delivery_latency_seconds_bucket{le=\"5\"}") == 1);
    CHECK(m.value("courier_delivery_latency_seconds_bucket{le=\"+Inf\"}") == 1);
    CHECK(m.value("courier_delivery_latency_seconds_sum") == 3);
    CHECK(m.value("courier_delivery_latency_seconds_count") == 1);
}

TEST_CASE("Metrics format and restore round-trip the counters") {
    Metrics m;
    m.count_received("esmtp", true);
    m.count_received("esmtp", false);
    m.count_received("esmtp", false);
    m.count_result("local", "ok", 20);
    courierd::QueueGauges q{3, 2, 1};
    std::string text = m.format(q, {{"0.25", 4, 90}}, 1700000000);
    CHECK(text.find("# TYPE courier_messages_received_total counter\n") != std::string::npos);
    CHECK(text.find("courier_messages_received_total{source=\"esmtp\",tls=\"no\"} 2\n") != std::string::npos);
    CHECK(text.find("courier_messages_received_total{source=\"esmtp\",tls=\"yes\"} 1\n") != std::string::npos);
    CHECK(text.find("courier_queue_messages{state=\"active\"} 3\n") != std::string::npos);
    CHECK(text.find("courier_queue_messages{state=\"deferred\"} 2\n") != std::string::npos);
    CHECK(text.find("courier_deliveries_in_progress 1\n") != std::string::npos);
    CHECK(text.find("courier_smtp_sessions_active{listener=\"0.25\"} 4\n") != std::string::npos);
    CHECK(text.find("courier_smtp_connections_total{listener=\"0.25\"} 90\n") != std::string::npos);
    // Buckets in increasing order, each present.
    size_t b15 = text.find("courier_delivery_latency_seconds_bucket{le=\"15\"} 0\n");
    size_t b60 = text.find("courier_delivery_latency_seconds_bucket{le=\"60\"} 1\n");
    size_t inf = text.find("courier_delivery_latency_seconds_bucket{le=\"+Inf\"} 1\n");
    CHECK(b15 != std::string::npos);
    CHECK(b15 < b60);
    CHECK(b60 < inf);
    Metrics r;
    r.restore(text);
    CHECK(r.value("courier_messages_received_total{source=\"esmtp\",tls=\"no\"}") == 2);
    CHECK(r.value("courier_delivery_latency_seconds_bucket{le=\"60\"}") == 1);
    CHECK(r.value("courier_delivery_latency_seconds_sum") == 20);
    // Gauges and couriertcpd's own counter are not restored.
    CHECK(r.value("courier_queue_messages{state=\"active\"}") == 0);
    CHECK(r.value("courier_smtp_connections_total{listener=\"0.25\"}") == 0);
}

TEST_CASE("received_with_tls reads the first Received: header") {
    CHECK(courierd::received_with_tls("Received: from x (x [1.2.3.4])\n  by me with ESMTPS id 1;\n  date\nSubject: x\n"));
    CHECK(courierd::received_with_tls("Received: from x by me with ESMTPSA; date\n"));
    CHECK(!courierd::received_with_tls("Received: from x by me with ESMTP; date\n"));
    CHECK(!courierd::received_with_tls("Received: from x\n  by me with ESMTP\nX-Fake: with ESMTPS\n"));
    CHECK(!courierd::received_with_tls("Subject: with ESMTPS\n"));
    CHECK(courierd::received_with_tls("Received-SPF: pass with ESMTP\nReceived: from x\n\tby me with UTF8SMTPS; d\n"));
    CHECK(!courierd::received_with_tls("Subject: x\n\nReceived: from x by me with ESMTPS\n"));
}

TEST_CASE("label_value escapes") {
    CHECK(courierd::label_value("a\"b\\c\nd") == "a\\\"b\\\\c\\nd");
}

TEST_CASE("session stats file round trip") {
    SessionStats s{"127.0.0.1.25,465", 3, 17};
    auto p = parse_session_stats(format_session_stats(s));
    REQUIRE(p);
    CHECK(p->listener == s.listener);
    CHECK(p->active == 3);
    CHECK(p->connections == 17);
    CHECK(!parse_session_stats("listener x\nactive 1\n"));
    CHECK(!parse_session_stats("listener x\nactive 1\nconnections 2"));   // torn
}
