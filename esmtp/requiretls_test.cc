// Unit tests for the REQUIRETLS rules (requiretls.h, RFC 8689).
#include <doctest/doctest.h>
#include "esmtp/requiretls.h"

using namespace requiretls;

TEST_CASE("REQUIRETLS inbound: only over TLS") {
    CHECK_FALSE(mail_refusal(false, false));
    CHECK_FALSE(mail_refusal(true, true));
    auto r = mail_refusal(true, false);
    REQUIRE(r);
    CHECK(r->rfind("530 5.7.10 ", 0) == 0);
}

TEST_CASE("REQUIRETLS outbound: verified TLS and the peer's REQUIRETLS, else 5.7.30") {
    NextHop ok{"mx.a.test", "192.0.2.1", true, true, true, "", true};
    CHECK_FALSE(delivery_refusal(true, ok));
    NextHop plain = ok;
    plain.tls = false;
    plain.authenticated = false;
    CHECK_FALSE(delivery_refusal(false, plain));   // ordinary mail is not affected
    auto r = delivery_refusal(true, plain);
    REQUIRE(r);
    CHECK(r->rfind("550 5.7.30 ", 0) == 0);
    CHECK(r->find("is not TLS-protected") != std::string::npos);
    NextHop unverified = ok;
    unverified.authenticated = false;
    unverified.why_not_authenticated = "self-signed certificate";
    r = delivery_refusal(true, unverified);
    REQUIRE(r);
    CHECK(r->find("not verified (self-signed certificate)") != std::string::npos);
    NextHop old = ok;
    old.advertises_requiretls = false;
    r = delivery_refusal(true, old);
    REQUIRE(r);
    CHECK(r->rfind("550 5.7.30 ", 0) == 0);
    CHECK(r->find("does not support REQUIRETLS") != std::string::npos);
    NextHop insecure_mx = ok;   // RFC 8689 4.2.1 step 1: found without DNSSEC or MTA-STS
    insecure_mx.mx_authenticated = false;
    r = delivery_refusal(true, insecure_mx);
    REQUIRE(r);
    CHECK(r->rfind("550 5.7.30 ", 0) == 0);
    CHECK(r->find("insecure MX lookup") != std::string::npos);
    CHECK_FALSE(delivery_refusal(false, insecure_mx));
}

TEST_CASE("TLS-Required: No in the header section") {
    CHECK(has_tls_required_no("Subject: x\nTLS-Required: No\n\nbody\n"));
    CHECK(has_tls_required_no("tls-required:   no  \r\n\r\n"));
    CHECK(has_tls_required_no("TLS-Required:\n no\n\n"));     // folded
    CHECK_FALSE(has_tls_required_no("TLS-Required: Yes\n\n"));
    CHECK_FALSE(has_tls_required_no("Subject: x\n\nTLS-Required: No\n"));   // in the body
    CHECK_FALSE(has_tls_required_no("X-TLS-Required: No\n\n"));
    // RFC 8689 5: with the REQUIRETLS parameter the header is ignored.
    CHECK(tls_optional(false, "TLS-Required: No\n\n"));
    CHECK_FALSE(tls_optional(true, "TLS-Required: No\n\n"));
}

// The pieces of the flag's way through: the MAIL parameter, the submit protocol, the queue.
#include "esmtp/smtp_command.h"
#include "lib/queue.h"
#include "submit/protocol.h"

TEST_CASE("REQUIRETLS: MAIL parameter, submit parameter, queue record") {
    std::string reply;
    auto p = check_mail_params("REQUIRETLS", 0, &reply);
    REQUIRE(p);
    CHECK(p->requiretls);
    CHECK(submit_mail_params(*p) == "REQUIRETLS=1");
    CHECK_FALSE(check_mail_params("REQUIRETLS=yes", 0, &reply));

    SubmitReply err;
    std::vector<std::string_view> params = {"REQUIRETLS=1"};
    auto sp = submit::parse_mail_params(params, &err);
    REQUIRE(sp);
    CHECK(sp->requiretls);
    std::vector<std::string_view> twice = {"REQUIRETLS=1", "REQUIRETLS=1"};
    CHECK_FALSE(submit::parse_mail_params(twice, &err));

    QueueEnvelope env;
    env.id = *QueueId::parse("6560A0B1.00001234.0001");
    env.arrival = 1700000000;
    env.sender = "a@b.test";
    env.source = "esmtp";
    env.requiretls = true;
    env.rcpts.push_back(QueueRecipient{"c@d.test", "esmtp", "d.test", "", ""});
    std::string text = format_envelope(env);
    CHECK(text.find("\nrequiretls 1\n") != std::string::npos);
    size_t off = 0;
    auto back = parse_envelope(text, &off);
    REQUIRE(back);
    CHECK(back->requiretls);
    // Files written before the record existed read as "not REQUIRETLS".
    env.requiretls = false;
    std::string old = format_envelope(env);
    CHECK(old.find("requiretls") == std::string::npos);
    auto old_back = parse_envelope(old, &off);
    REQUIRE(old_back);
    CHECK_FALSE(old_back->requiretls);
}
