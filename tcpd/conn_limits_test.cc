// Unit tests for couriertcpd's connection accounting (-maxprocs, -maxperip, -maxperc,
// -warn).
#include <doctest/doctest.h>

#include "tcpd/conn_limits.h"

TEST_CASE("peer keys: IPv4 C block and IPv6 /64") {
    CHECK(peer_key("192.168.0.10").block == "192.168.0");
    CHECK(peer_key("192.168.0.10").ip == "192.168.0.10");
    CHECK(peer_key("2001:db8::1").block == "2001:db8:0:0");
    CHECK(peer_key("2001:db8:0:0:ffff::2").block == "2001:db8:0:0");
    CHECK(peer_key("::1").block == "0:0:0:0");
}

TEST_CASE("connection limits: per IP") {
    ConnectionLimits l({10, 2, 0, 9});
    auto a = peer_key("10.0.0.1");
    CHECK(l.admit(a) == Admission::accept);
    l.add(100, a);
    CHECK(l.admit(a) == Admission::accept);
    l.add(101, a);
    CHECK(l.admit(a) == Admission::too_many_from_ip);
    CHECK(l.admit(peer_key("10.0.0.2")) == Admission::accept);
    // MAXCPERIP from the access file overrides -maxperip for that address.
    CHECK(l.admit(a, 3u) == Admission::accept);
    CHECK(l.admit(a, 0u) == Admission::accept);
    CHECK(l.remove(100));
    CHECK(l.admit(a) == Admission::accept);
    CHECK(l.count_ip("10.0.0.1") == 1);
    CHECK_FALSE(l.remove(100));
}

TEST_CASE("connection limits: per C block") {
    ConnectionLimits l({10, 0, 2, 9});
    l.add(1, peer_key("10.0.0.1"));
    l.add(2, peer_key("10.0.0.2"));
    CHECK(l.admit(peer_key("10.0.0.3")) == Admission::too_many_from_block);
    CHECK(l.admit(peer_key("10.0.1.3")) == Admission::accept);
    CHECK(l.count_block("10.0.0") == 2);
    l.remove(1);
    CHECK(l.admit(peer_key("10.0.0.3")) == Admission::accept);
}

TEST_CASE("connection limits: total, warning and alert once per crossing") {
    ConnectionLimits l({3, 0, 0, 1});
    auto p = peer_key("127.0.0.1");
    CHECK(l.add(1, p) == LoadEvent::none);        // 1: not above 1
    CHECK(l.add(2, p) == LoadEvent::warning);     // 2 > 1
    CHECK_FALSE(l.full());
    CHECK(l.add(3, p) == LoadEvent::alert);       // reached the maximum
    CHECK(l.full());
    CHECK(l.active() == 3);
    l.remove(3);
    CHECK_FALSE(l.full());
    CHECK(l.add(4, p) == LoadEvent::alert);       // re-armed after dropping below
    l.remove(4);
    l.remove(2);
    CHECK(l.add(5, p) == LoadEvent::warning);     // re-armed at the warning level
    CHECK(l.add(5, p) == LoadEvent::none);        // the same pid twice is ignored
    int n = 0;
    l.for_each_pid([&](pid_t) { ++n; });
    CHECK(n == 2);
}

TEST_CASE("connection limits: a pending -haproxy child is assigned its address later") {
    ConnectionLimits l({10, 1, 0, 9});
    l.add(1, peer_key("10.0.0.1"));
    l.add(2, PeerKey{});
    CHECK(l.active() == 2);
    CHECK(l.count_ip("") == 0);
    CHECK(l.assign(2, peer_key("10.0.0.1")) == Admission::too_many_from_ip);
    CHECK(l.assign(2, peer_key("10.0.0.1"), 2u) == Admission::accept);
    CHECK(l.count_ip("10.0.0.1") == 2);
    CHECK(l.assign(2, peer_key("10.0.0.2")) == Admission::too_many_from_ip);   // not pending
    CHECK(l.assign(99, peer_key("10.0.0.2")) == Admission::too_many_from_ip);  // unknown pid
    l.add(3, PeerKey{});
    CHECK(l.remove(3));
    CHECK(l.remove(2));
    CHECK(l.count_ip("10.0.0.1") == 1);
}
