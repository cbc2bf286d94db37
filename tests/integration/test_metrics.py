"""Metrics (issue 13, doc/metrics.md): after a known sequence of messages -- one
delivered locally over SMTP, two relayed and delivered (one of them received with TLS),
one deferred, one bounced -- courierd's Prometheus textfile holds exactly those
counts; a held SMTP connection shows as an active session; the counters survive a
restart of courierd."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
import courierd_support as cs  # noqa: E402


def read_metrics(mta):
    """{series: value} of the textfile; {} while it does not exist."""
    try:
        with open(mta.path("spool", "metrics", "courier.prom")) as f:
            text = f.read()
    except FileNotFoundError:
        return {}
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            out[series] = int(value)
    return out


EXPECTED = {
    'courier_messages_received_total{source="esmtp",tls="no"}': 4,
    'courier_messages_received_total{source="esmtp",tls="yes"}': 1,
    'courier_deliveries_total{module="local",result="delivered"}': 1,
    'courier_deliveries_total{module="esmtp",result="delivered"}': 2,
    'courier_deliveries_total{module="esmtp",result="deferred"}': 1,
    'courier_deliveries_total{module="esmtp",result="bounced"}': 1,
    'courier_delivery_latency_seconds_count': 3,
    'courier_delivery_latency_seconds_bucket{le="+Inf"}': 3,
    'courier_queue_messages{state="deferred"}': 1,
    'courier_queue_messages{state="active"}': 0,
    'courier_deliveries_in_progress': 0,
}
COUNTERS = [k for k in EXPECTED if "_total" in k or "latency" in k]


class MetricsTest(harness.InstanceTestCase):
    @classmethod
    def configure(cls, mta):
        cs.install_script_module(mta)
        # The deferred message must stay deferred (one attempt) for the whole test.
        mta.write_config("retryalpha", "1h\n")
        mta.write_config("retrygamma", "1h\n")
        mta.write_config("esmtpdelay", "0\n")

    def wait_values(self, expected, timeout=30):
        def matches():
            m = read_metrics(self.mta)
            return all(m.get(k) == v for k, v in expected.items())
        try:
            harness.wait_for(matches, timeout=timeout, what="the expected metrics")
        except AssertionError:
            m = read_metrics(self.mta)
            self.assertEqual({k: m.get(k) for k in expected}, expected)

    def test_known_sequence(self):
        user = self.mta.add_user()
        with self.mta.smtp() as s:
            s.sendmail("someone@remote.example", [f"{user}@test.example"], "Subject: local\r\n\r\nhi\r\n")
        self.mta.wait_delivered(user, 1)
        _, q_ok = cs.submit(self.mta, "x@remote.example", ["ok1@remote.example"], "Subject: a\n\nx\n")
        _, q_tls = cs.submit(self.mta, "x@remote.example", ["ok2@remote.example"], "Subject: b\n\nx\n",
                             session={"tls": "TLSv1.3 TLS_AES_256_GCM_SHA384 256", "protocol": "ESMTPS"})
        _, q_defer = cs.submit(self.mta, "x@remote.example", ["defer1@remote.example"], "Subject: c\n\nx\n")
        # The null sender: the bounce needs no notice, which would be a sixth message.
        _, q_fail = cs.submit(self.mta, "", ["fail1@remote.example"], "Subject: d\n\nx\n")
        self.assertTrue(all([q_ok, q_tls, q_defer, q_fail]))
        self.wait_values(EXPECTED)
        m = read_metrics(self.mta)
        # The latency histogram is cumulative and its sum is whole seconds.
        self.assertLessEqual(m['courier_delivery_latency_seconds_bucket{le="1"}'], 3)
        self.assertEqual(m['courier_delivery_latency_seconds_bucket{le="86400"}'], 3)
        self.assertGreater(m["courier_metrics_updated_timestamp_seconds"], time.time() - 60)

        # A connection held open is an active session of the esmtpd listener.
        listener = f'courier_smtp_sessions_active{{listener="127.0.0.1.{self.mta.port}"}}'
        connections = f'courier_smtp_connections_total{{listener="127.0.0.1.{self.mta.port}"}}'
        self.wait_values({listener: 0})
        before = read_metrics(self.mta)[connections]
        with self.mta.smtp() as s:
            s.ehlo("held.example")
            self.wait_values({listener: 1})
        self.wait_values({listener: 0})
        self.assertEqual(read_metrics(self.mta)[connections], before + 1)

        # A restart of courierd continues the counters from the file.
        started = self.mta.log_text().count("scheduler started")
        self.mta.run("sbin/courier", "stop")
        os.utime(self.mta.path("spool", "metrics", "courier.prom"), (0, 0))
        self.mta.run("sbin/courier", "start")
        harness.wait_for(lambda: self.mta.log_text().count("scheduler started") > started, timeout=20,
                         what="a new scheduler")
        # The new scheduler has written the file (its time changed) with the old counts.
        harness.wait_for(lambda: os.stat(self.mta.path("spool", "metrics", "courier.prom")).st_mtime > 0,
                         timeout=20, what="the new scheduler's metrics")
        self.wait_values({k: EXPECTED[k] for k in COUNTERS})


if __name__ == "__main__":
    harness.main()
