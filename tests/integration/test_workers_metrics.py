#!/usr/bin/env python3
"""podgate with two worker threads against real Dovecot pods: connections
spread over both workers (SO_REUSEPORT), the admin API sees and kicks
sessions on every worker, a directory reload reaches them all, TLS sessions
resume, and /metrics carries the login phases, outcomes, directory time,
pod connect failures and relayed bytes that match the access log.

  python3 -m unittest -v tests/integration/test_workers_metrics.py
"""

import json
import os
import poplib
import signal
import subprocess
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import podlib  # noqa: E402
from adminlib import AdminClient  # noqa: E402

ALICE, BOB, DAN, FRANK = ("alice@example.com", "bob@example.com", "dan@example.com",
                          "frank@example.com")
LISTENERS = [{"protocol": "imap", "tls": "implicit"},
             {"protocol": "imap", "tls": "starttls"},
             {"protocol": "pop3", "tls": "implicit"}]
PHASES = ("tls", "credentials", "directory", "backend_connect", "backend_auth", "total")


def wait_until(condition, timeout=5.0):
    deadline = time.time() + timeout
    while not condition():
        if time.time() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def read_until(sock, marker):
    data = b""
    while marker not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise AssertionError("closed before %r: %r" % (marker, data))
        data += chunk
    return data


def series(name, **labels):
    return "%s{%s}" % (name, ",".join('%s="%s"' % item for item in labels.items()))


class WorkersAndMetricsTest(podlib.NoSecretsMixin, podlib.WorldTestCase):
    world_kwargs = {"start_podgate": False, "pop3": True}

    @classmethod
    def set_up_more(cls):
        extra = {"workers": 2, "admin": {"listen": "127.0.0.1:%d" % podlib.free_port()}}
        cls.pg = cls.world.podgate = cls.world.new_podgate("podgate", extra, listeners=LISTENERS)
        cls.admin = AdminClient(cls.pg)

    def imaps(self, user):
        im = podlib.PodIMAP4_SSL(self.pg.port("imap", "implicit"))
        im.login(user, self.world.passwords[user])
        return im

    def delta(self, before, after, key):
        return after.get(key, 0) - before.get(key, 0)

    # ------------------------------------------------------------------ workers

    def test_connections_spread_over_both_workers(self):
        self.assertIn("2 worker threads", self.pg.stderr_text())
        before = self.admin.metrics()
        clients = [self.raw() for _ in range(24)]
        for r in clients:
            self.assertTrue(r.greeting.startswith(b"* OK"), r.greeting)
        after = self.admin.metrics()
        per_worker = [self.delta(before, after, series("podgate_worker_connections_total",
                                                       worker=str(w))) for w in (0, 1)]
        self.assertEqual(sum(per_worker), 24, per_worker)
        # The kernel hashes connections over the two sockets: all 24 on one
        # worker would happen once in 8 million runs.
        self.assertGreater(min(per_worker), 0, per_worker)

    def test_admin_lists_and_kicks_sessions_on_every_worker(self):
        before = self.admin.metrics()
        sessions = [self.imaps(ALICE) for _ in range(16)]
        after = self.admin.metrics()
        per_worker = [self.delta(before, after, series("podgate_worker_connections_total",
                                                       worker=str(w))) for w in (0, 1)]
        listed = self.admin.sessions(ALICE)
        self.assertEqual(len(listed), 16, listed)
        self.assertEqual(len({s["id"] for s in listed}), 16, "session ids are unique")
        # both workers hold some (all 16 on one: once in 30,000 runs)
        self.assertGreater(min(per_worker), 0, per_worker)
        self.assertEqual(self.admin.kick(ALICE), 16)
        for im in sessions:
            with self.assertRaises(Exception):
                im.noop()  # * BYE, then the connection is gone
            im.shutdown()
        self.assertEqual(self.admin.sessions(ALICE), [])

    def test_a_kick_logs_the_user_name_without_its_line_breaks(self):
        # The name comes from the request: it must not start a log line.
        forged = "mallory\nlockout end: user alice@example.com"
        self.assertEqual(self.admin.kick(urllib.parse.quote(forged)), 0)
        deadline = time.time() + 5
        while "kicked 0 session(s) of mallory" not in self.pg.stderr_text():
            self.assertLess(time.time(), deadline, "no log line for the kick")
            time.sleep(0.05)
        self.assertIn("kicked 0 session(s) of mallory?lockout end", self.pg.stderr_text())
        self.assertFalse(any(l.startswith("lockout end: user alice")
                             for l in self.pg.stderr_text().splitlines()))

    def test_directory_reload_reaches_every_worker(self):
        directory = self.world.directory()
        directory["users"][BOB] = {"pod": "pod-1"}  # bob moves from pod-2 to pod-1
        try:
            reloads = self.pg.stderr_text().count("directory reloaded")
            with open(self.pg.directory_path, "w") as f:
                json.dump(directory, f)
            self.pg.proc.send_signal(signal.SIGHUP)
            wait_until(lambda: self.pg.stderr_text().count("directory reloaded") > reloads)
            mark = self.log_mark()
            for _ in range(10):
                self.imaps(BOB).logout()
            bob_lines = lambda: [  # noqa: E731
                l for l in self.pg.access_log_lines()[mark:] if l.get("user") == BOB]
            wait_until(lambda: len(bob_lines()) >= 10)
            lines = bob_lines()
            self.assertEqual(len(lines), 10, lines)
            self.assertEqual({l["pod"] for l in lines}, {"pod-1"})
        finally:
            reloads = self.pg.stderr_text().count("directory reloaded")
            with open(self.pg.directory_path, "w") as f:
                json.dump(self.world.directory(), f)
            self.pg.proc.send_signal(signal.SIGHUP)
            wait_until(lambda: self.pg.stderr_text().count("directory reloaded") > reloads)

    def test_tls_sessions_resume_across_workers(self):
        before = self.admin.metrics()
        saved = None
        resumed = 0
        for _ in range(16):
            sock = podlib.client_tls_context().wrap_socket(
                podlib.connect(self.pg.port("imap", "implicit")), server_hostname="localhost",
                session=saved)
            with sock:
                resumed += sock.session_reused
                # TLS 1.3 tickets come after the handshake: read the greeting
                # and one answer before taking the session.
                read_until(sock, b"\r\n")
                sock.sendall(b"n NOOP\r\n")
                read_until(sock, b"n OK")
                saved = sock.session
        after = self.admin.metrics()
        per_worker = [self.delta(before, after, series("podgate_worker_connections_total",
                                                       worker=str(w))) for w in (0, 1)]
        # the first handshake is full, every later one resumes, on both
        # workers (all 16 on one: once in 30,000 runs)
        self.assertEqual(resumed, 15, per_worker)
        self.assertGreater(min(per_worker), 0, per_worker)

    def test_a_second_podgate_on_the_same_ports_is_refused(self):
        # SO_REUSEPORT would let it share the ports with the running one
        r = subprocess.run([self.pg.binary, "--config", self.pg.config_path],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=20)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"another podgate still running", r.stderr)
        self.assertIn(self.pg.listener_addr("imap", "implicit").encode(), r.stderr)
        # the running one still serves
        self.imaps(ALICE).logout()

    # ------------------------------------------------------------------ metrics

    def test_phase_histograms_and_outcomes_follow_the_logins(self):
        before = self.admin.metrics()
        mark = self.log_mark()
        for _ in range(3):
            self.imaps(ALICE).logout()
        self.assert_login_refused(ALICE, "not-the-password")
        pop = poplib.POP3_SSL("127.0.0.1", self.pg.port("pop3", "implicit"),
                              context=podlib.client_tls_context(), timeout=10)
        pop.user(BOB)
        pop.pass_(self.world.passwords[BOB])
        pop.stat()
        pop.quit()
        wait_until(lambda: len(self.pg.access_log_lines()) - mark >= 5)
        after = self.admin.metrics()

        def count(protocol, phase):
            return self.delta(before, after, series("podgate_login_phase_seconds_count",
                                                    protocol=protocol, phase=phase))

        for phase in PHASES:
            self.assertEqual(count("imap", phase), 4, phase)  # 3 good, 1 wrong password
            self.assertEqual(count("pop3", phase), 1, phase)
        logins = lambda protocol, result: self.delta(  # noqa: E731
            before, after, series("podgate_logins_total", protocol=protocol, result=result))
        self.assertEqual(logins("imap", "ok"), 3)
        self.assertEqual(logins("imap", "auth_failed"), 1)
        self.assertEqual(logins("pop3", "ok"), 1)
        self.assertEqual(self.delta(before, after, series(
            "podgate_directory_lookup_seconds_count", source="file")), 5)
        # buckets are cumulative, in order of their bounds, and end at the count
        prefix = 'podgate_login_phase_seconds_bucket{protocol="imap",phase="total",le="'
        buckets = sorted((float(key[len(prefix):-2]), value) for key, value in after.items()
                         if key.startswith(prefix))
        self.assertEqual(buckets[-1][0], float("inf"))
        counts = [value for _, value in buckets]
        self.assertEqual(counts, sorted(counts), buckets)
        self.assertEqual(counts[-1], after[series(
            "podgate_login_phase_seconds_count", protocol="imap", phase="total")])
        self.assertLess(counts[0], counts[-1], "a 100 us login through a pod is not real")
        # relayed bytes: exactly what the access log says the logged-in sessions moved
        lines = [l for l in self.pg.access_log_lines()[mark:] if l["result"] == "ok"]
        for protocol in ("imap", "pop3"):
            for direction in ("from_client", "to_client"):
                logged = sum(l["bytes_" + direction] for l in lines
                             if l["protocol"] == protocol)
                self.assertGreater(logged, 0)
                self.assertEqual(self.delta(before, after, series(
                    "podgate_relayed_bytes_total", protocol=protocol, direction=direction)),
                    logged, (protocol, direction))

    def assert_login_refused(self, user, password):
        im = podlib.PodIMAP4_SSL(self.pg.port("imap", "implicit"))
        try:
            with self.assertRaises(podlib.PodIMAP4_SSL.error):
                im.login(user, password)
        finally:
            im.shutdown()

    def test_pod_connect_failures_are_counted_by_pod(self):
        before = self.admin.metrics()
        self.assert_login_refused(DAN, self.world.passwords[DAN])  # pod-dead: refused
        self.imaps(FRANK).logout()  # pod-fo: a refusing server, then pod-1
        after = self.admin.metrics()
        failures = "podgate_backend_connect_failures_total"
        self.assertEqual(self.delta(before, after, series(failures, pod="pod-dead")), 1)
        self.assertEqual(self.delta(before, after, series(failures, pod="pod-fo")), 1)
        self.assertEqual(self.delta(before, after, series(failures, pod="pod-1")), 0)


if __name__ == "__main__":
    unittest.main()
