#!/usr/bin/env python3
"""Faults, one by one, and what every side sees afterwards:

  a pod dies mid-session    Dovecot killed (SIGKILL to all its processes) or
                            `doveadm kick`, and a scripted pod that resets
                            (RST) a logged-in connection (IMAP and POP3)
  a pod never greets        accepts and says nothing: the next server of the
                            pod, or NO [UNAVAILABLE] / -ERR [SYS/TEMP]
  a pod hangs on the login  greets, never answers LOGIN / AUTHENTICATE / AUTH:
                            NO [UNAVAILABLE] after timeouts.backend_auth_seconds
  a pod resets              at accept (the next server) and during the login
  the directory times out   directory "url" at a port that accepts and never
                            answers, and a frozen (SIGSTOP) podgate-directory
                            that comes back
  the client vanishes       (RST) while the pod login is under way, and while
                            a 20 MB FETCH is being relayed

Each test checks (a) the client's answer (DESIGN.md's error table), (b) that
podgate closed its side of the pod connection (the scripted pod sees EOF or a
reset; for Dovecot, `ss` shows no socket of podgate's to the pod's port),
(c) the access-log line (result, close_reason), and (d) that podgate is still
healthy: a normal login works and podgate holds no more sockets than at rest.
test_zy stops the extra podgates and wants exit status 0; the main podgate's
exit status (and any sanitizer report: run under ASan/LSan with
PODGATE_BIN=<asan build>/proxy/podgate) is checked by ImapWorld.stop() in
tearDownClass.

Short timeouts: backend_connect_seconds=1, backend_auth_seconds=1,
auth_failure_delay_ms=0, directory timeout_ms=300.

  python3 -m unittest -v tests/integration/test_faults.py
"""

import hashlib
import os
import signal
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import directorylib  # noqa: E402
import podlib  # noqa: E402
from podlib import plain_b64  # noqa: E402
from scripted_pods import FaultPod  # noqa: E402
from test_pop3 import Pop3Client  # noqa: E402

ALICE, BOB, DAVE, ERIN, FRANK, GRACE = (
    "alice@example.com", "bob@example.com", "dave@example.com", "erin@example.org",
    "frank@example.com", "grace@example.com")
IVAN = "ivan@example.com"             # on pod-3, a Dovecot that test_pod_dies_dovecot_killed_* kills
MUTE = "mute@example.com"             # pod-mute: accepts, never greets
HANG = "hang@example.com"             # pod-hang: greets, never answers AUTHENTICATE / AUTH
HANG_LOGIN = "hanglogin@example.com"  # pod-hang-login: no SASL-IR, never answers LOGIN
RST_LOGIN = "rstlogin@example.com"    # pod-rst-login: resets when the login arrives
DROP = "drop@example.com"             # pod-drop: logs in, reset_sessions() resets
SLOW = "slow@example.com"             # pod-slow: answers the login OK after 0.5 s
SCRIPTED_PASSWORDS = {u: "%s-Pw-%s" % (u.split("@")[0], hashlib.sha1(u.encode()).hexdigest()[:6])
                      for u in (MUTE, HANG, HANG_LOGIN, RST_LOGIN, DROP, SLOW)}
IVAN_PASSWORD = "ivan-Pw-6b2e7"

BACKEND_CONNECT_S = 1
BACKEND_AUTH_S = 1
DIRECTORY_TIMEOUT_MS = 300
TIMEOUTS = {"preauth_seconds": 15, "backend_connect_seconds": BACKEND_CONNECT_S,
            "backend_auth_seconds": BACKEND_AUTH_S, "auth_failure_delay_ms": 0}
LISTENERS = [{"protocol": "imap", "tls": "implicit"}, {"protocol": "pop3", "tls": "implicit"}]
# slack for a loaded machine or a sanitizer build
SLACK_S = 2.0


class FaultsTest(podlib.NoSecretsMixin, podlib.WorldTestCase):
    world_kwargs = {"start_podgate": False, "pop3": True}
    extra_secrets = list(SCRIPTED_PASSWORDS.values()) + [IVAN_PASSWORD]

    @classmethod
    def set_up_more(cls):
        world = cls.world
        cls.service = None
        cls.faults = {}
        # pod-3: a Dovecot of its own, killed by test_pod_dies_dovecot_killed_*
        cls.pod3 = podlib.DovecotPod(
            "pod-3", os.path.join(world.root, "pod-3"), {IVAN: IVAN_PASSWORD},
            marker="pod-3 marker", protocols={"imap": podlib.free_port(),
                                              "pop3": podlib.free_port()})
        world.pods["pod-3"] = cls.pod3  # stopped (and logged) with the world
        cls.pod3.start()
        faults = {
            "mute": FaultPod("mute"),
            "mute-pop3": FaultPod("mute", "pop3"),
            "reset": FaultPod("reset"),
            "hang": FaultPod("hang_login"),
            "hang-login": FaultPod("hang_login", sasl_ir=False),
            "hang-pop3": FaultPod("hang_login", "pop3"),
            "rst-login": FaultPod("reset_login"),
            "rst-login-pop3": FaultPod("reset_login", "pop3"),
            "drop": FaultPod("ok"),
            "drop-pop3": FaultPod("ok", "pop3"),
            "slow": FaultPod("ok", login_delay=0.5),
            "directory-mute": FaultPod("mute"),  # an HTTP directory that never answers
        }
        for pod in faults.values():
            podlib.register_cleanup(pod.close)
        cls.faults = faults
        f = {k: v.addr for k, v in faults.items()}
        directory = world.directory()
        pods = directory["pods"]
        pods["pod-3"] = {"imap": [cls.pod3.imap_addr], "pop3": [cls.pod3.pop3_addr]}
        pods["pod-mute"] = {"imap": [f["mute"]], "pop3": [f["mute-pop3"]]}
        pods["pod-mute-fo"] = {"imap": [f["mute"], world.pod1.imap_addr],
                               "pop3": [f["mute-pop3"], world.pod1.pop3_addr]}
        pods["pod-reset-fo"] = {"imap": [f["reset"], world.pod1.imap_addr]}
        pods["pod-hang"] = {"imap": [f["hang"]], "pop3": [f["hang-pop3"]]}
        pods["pod-hang-login"] = {"imap": [f["hang-login"]]}
        pods["pod-rst-login"] = {"imap": [f["rst-login"]], "pop3": [f["rst-login-pop3"]]}
        pods["pod-drop"] = {"imap": [f["drop"]], "pop3": [f["drop-pop3"]]}
        pods["pod-slow"] = {"imap": [f["slow"]]}
        users = directory["users"]
        users[IVAN] = {"pod": "pod-3"}
        users[FRANK] = {"pod": "pod-mute-fo"}   # exists on pod-1 (pod-1 marker)
        users[DAVE] = {"pod": "pod-reset-fo"}   # exists on pod-1 (pod-1 marker)
        for user, pod in ((MUTE, "pod-mute"), (HANG, "pod-hang"), (HANG_LOGIN, "pod-hang-login"),
                          (RST_LOGIN, "pod-rst-login"), (DROP, "pod-drop"), (SLOW, "pod-slow")):
            users[user] = {"pod": pod}
        cls.directory = directory
        world.podgate = cls.pg = world.new_podgate(
            "podgate", {"timeouts": TIMEOUTS}, directory=directory, listeners=LISTENERS)

        # directory "url" at a server that accepts and never answers
        cls.pg_dir_mute = world.new_podgate(
            "podgate-dir-mute",
            {"timeouts": TIMEOUTS,
             "directory": {"url": "http://%s" % f["directory-mute"],
                           "timeout_ms": DIRECTORY_TIMEOUT_MS}},
            directory=directory, listeners=LISTENERS)
        # a real podgate-directory, frozen (SIGSTOP) by a test and thawed again
        cls.service = directorylib.DirectoryService(
            os.path.join(world.root, "directory-service"), directory, ttl=30)
        cls.service.start()
        cls.pg_dir = world.new_podgate(
            "podgate-dir",
            {"timeouts": TIMEOUTS,
             "directory": {"url": [cls.service.url], "timeout_ms": DIRECTORY_TIMEOUT_MS}},
            directory=directory, listeners=LISTENERS)

        # podgate at rest, after one session of each protocol: how many
        # sockets it holds (listeners, the admin API...)
        im = podlib.PodIMAP4_SSL(cls.pg.port("imap", "implicit"))
        im.login(ALICE, world.passwords[ALICE])
        im.logout()
        c = Pop3Client(cls.pg.port("pop3", "implicit"))
        c.command("USER " + BOB)
        c.command("PASS " + world.passwords[BOB])
        c.command("QUIT")
        c.close()
        cls.rest_sockets = cls.settled_sockets(cls.pg)

    @classmethod
    def settled_sockets(cls, pg, timeout=3.0):
        """podgate's socket count once it stopped changing for 0.3 s."""
        deadline = time.time() + timeout
        last, since = None, time.time()
        while time.time() < deadline:
            n = podlib.open_fds(pg.proc.pid, "socket:")
            if n != last:
                last, since = n, time.time()
            elif time.time() - since >= 0.3:
                break
            time.sleep(0.05)
        return last

    @classmethod
    def tearDownClass(cls):
        service = getattr(cls, "service", None)
        try:
            super().tearDownClass()
        finally:
            for pod in getattr(cls, "faults", {}).values():
                pod.close()
            if service is not None:
                service.signal(signal.SIGCONT)
                service.stop()

    def setUp(self):
        super().setUp()
        self._pops = []

    def tearDown(self):
        for c in self._pops:
            c.close()
        super().tearDown()

    # -- helpers ----------------------------------------------------------

    def pw(self, user):
        return SCRIPTED_PASSWORDS.get(user) or self.world.passwords.get(user) or IVAN_PASSWORD

    def pop3(self, pg=None):
        pg = pg or self.pg
        mark = self.log_mark(pg)
        c = Pop3Client(pg.port("pop3", "implicit"))
        c.log_mark = mark
        self._pops.append(c)
        return c

    def pop3_login(self, c, user):
        self.assertTrue(c.command("USER " + user).startswith(b"+OK"))
        return c.command("PASS " + self.pw(user))

    def pop3_access_line(self, c, pg=None):
        return self.access_line(c.client_addr, pg=pg, since=c.log_mark)

    def assert_pod_side_closed(self, pod, conn, within):
        """The scripted pod saw podgate close the connection (FIN or RST)."""
        self.assertIsNotNone(conn, "podgate never connected to the scripted pod")
        how = pod.wait_closed(conn, within)
        self.assertIsNotNone(how, "podgate still holds its connection to the pod %.1f s later"
                             % within)
        self.assertIn(how, ("eof", "reset"), "the pod closed it, not podgate")
        return conn.closed_at

    def assert_no_connection_to(self, port, pg=None, timeout=3.0):
        """podgate holds no socket (in any state) to 127.0.0.1:port."""
        pg = pg or self.pg
        deadline = time.time() + timeout
        while True:
            left = podlib.tcp_connections(pg.proc.pid, port)
            if not left or time.time() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(left, [], "podgate still holds connections to port %d" % port)

    def assert_healthy(self, pg=None):
        """podgate is alive, logs alice in on pod-1, and holds no more
        sockets than at rest once every client is gone."""
        pg = pg or self.pg
        self.assertTrue(pg.alive(), "podgate died:\n" + pg.stderr_text()[-3000:])
        for r in self._raws:
            r.close()
        for c in self._pops:
            c.close()
        r = self.raw(pg=pg)
        self.assertTagged(self.login(r, ALICE, self.pw(ALICE), tag="h1"), "h1", "OK")
        tagged, _ = r.command("h2", "NOOP")
        self.assertTagged(tagged, "h2", "OK")
        tagged, _ = r.command("h3", "LOGOUT")
        self.assertTagged(tagged, "h3", "OK")
        r.close()
        if pg is self.pg:
            deadline = time.time() + 5
            while podlib.open_fds(pg.proc.pid, "socket:") > self.rest_sockets:
                if time.time() > deadline:
                    self.fail("podgate holds %d sockets, %d at rest: %r"
                              % (podlib.open_fds(pg.proc.pid, "socket:"), self.rest_sockets,
                                 podlib.tcp_connections(pg.proc.pid)))
                time.sleep(0.05)

    def imap_refused(self, user, pg=None, mechanism="LOGIN"):
        """Logs in as `user`; wants NO [UNAVAILABLE], then a working LOGOUT.
        Returns (client, seconds to the answer, access-log line)."""
        pg = pg or self.pg
        r = self.raw(pg=pg)
        t0 = time.time()
        if mechanism == "LOGIN":
            tagged = self.login(r, user, self.pw(user))
        else:
            tagged, _ = r.command("L", "AUTHENTICATE PLAIN " + plain_b64(user, self.pw(user)))
        elapsed = time.time() - t0
        self.assertEqual(tagged, b"L NO [UNAVAILABLE] Mail server temporarily unavailable, "
                                 b"try again later.")
        tagged, untagged = r.command("o", "LOGOUT")
        self.assertTagged(tagged, "o", "OK")
        self.assertTrue(untagged and untagged[0].startswith(b"* BYE"), untagged)
        line = self.access_line(r.client_addr, pg=pg)
        self.assertEqual(line.get("result"), "unavailable")
        self.assertEqual(line.get("close_reason"), "logout")
        return r, elapsed, line

    def pop3_refused(self, user, pg=None):
        pg = pg or self.pg
        c = self.pop3(pg)
        t0 = time.time()
        answer = self.pop3_login(c, user)
        elapsed = time.time() - t0
        self.assertEqual(answer, b"-ERR [SYS/TEMP] Mail server temporarily unavailable, "
                                 b"try again later.")
        self.assertTrue(c.command("QUIT").startswith(b"+OK"))
        line = self.pop3_access_line(c, pg)
        self.assertEqual(line.get("result"), "unavailable")
        self.assertEqual(line.get("close_reason"), "logout")
        return c, elapsed, line

    def imap_logged_in(self, user, pg=None):
        r = self.raw(pg=pg)
        self.assertTagged(self.login(r, user, self.pw(user), tag="a"), "a", "OK")
        return r

    def assert_closed_with_bye_or_nothing(self, r, timeout=5.0):
        self.assertTrue(r.is_closed(timeout), "client connection still open %.0f s after the "
                        "pod went away" % timeout)
        if os.environ.get("PODLIB_VERBOSE"):
            sys.stderr.write("[test_faults] the client saw %r\n" % r.closing_lines)
        for line in r.closing_lines:
            self.assertTrue(line.startswith(b"* BYE"), "unexpected %r before the close"
                            % r.closing_lines)
        return r.closing_lines

    # -- the pod dies mid-session -------------------------------------------

    def test_pod_dies_dovecot_killed_with_imap_and_pop3_sessions(self):
        pod = self.pod3
        r = self.imap_logged_in(IVAN)
        tagged, _ = r.command("b", "SELECT INBOX")
        self.assertTagged(tagged, "b", "OK")
        c = self.pop3()
        self.assertTrue(self.pop3_login(c, IVAN).startswith(b"+OK"))
        self.assertTrue(c.command("STAT").startswith(b"+OK"))
        pod.kill()  # SIGKILL to every Dovecot process of pod-3
        self.assert_closed_with_bye_or_nothing(r)
        self.assertTrue(c.closed(5), "POP3 client still open after the pod stopped")
        self.assertEqual(c.stray, [])
        for line in (self.access_line(r.client_addr), self.pop3_access_line(c)):
            self.assertEqual(line.get("result"), "ok")
            self.assertEqual(line.get("close_reason"), "backend_closed")
            self.assertEqual(line.get("pod"), "pod-3")
        self.assert_no_connection_to(pod.imap_port)
        self.assert_no_connection_to(pod.protocols["pop3"])
        # the pod is down now: the error table's answers, at once
        _, elapsed, line = self.imap_refused(IVAN)
        self.assertLess(elapsed, 1.0)
        self.assertEqual(line.get("backend"), pod.imap_addr)
        self.pop3_refused(IVAN)
        self.assert_healthy()

    def test_pod_dies_doveadm_kick(self):
        r = self.imap_logged_in(ERIN)
        tagged, _ = r.command("b", "SELECT INBOX")
        self.assertTagged(tagged, "b", "OK")
        res = self.world.pod2.kick(ERIN)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assert_closed_with_bye_or_nothing(r)
        line = self.access_line(r.client_addr)
        self.assertEqual(line.get("result"), "ok")
        self.assertEqual(line.get("close_reason"), "backend_closed")
        self.assert_no_connection_to(self.world.pod2.imap_port)
        self.assert_healthy()

    def test_pod_dies_scripted_reset_after_login_imap(self):
        pod = self.faults["drop"]
        r = self.imap_logged_in(DROP)
        tagged, _ = r.command("b", "NOOP")
        self.assertTagged(tagged, "b", "OK")
        self.assertEqual(pod.reset_sessions(), 1)
        # a reset is no goodbye: podgate says it for the pod
        self.assertTrue(r.is_closed(3), "client still open after the pod reset the session")
        self.assertEqual(r.closing_lines,
                         [b"* BYE [UNAVAILABLE] Connection to the mail server was lost."])
        line = self.access_line(r.client_addr)
        self.assertEqual(line.get("result"), "ok")
        self.assertEqual(line.get("close_reason"), "backend_closed")
        self.assertEqual(line.get("backend"), pod.addr)
        self.assert_no_connection_to(pod.port)
        self.assert_healthy()

    def test_pod_dies_scripted_reset_after_login_pop3(self):
        pod = self.faults["drop-pop3"]
        c = self.pop3()
        self.assertTrue(self.pop3_login(c, DROP).startswith(b"+OK"))
        self.assertEqual(c.command("STAT"), b"+OK 0 0")
        self.assertEqual(pod.reset_sessions(), 1)
        # POP3 has no unsolicited replies: just the close
        self.assertTrue(c.closed(3), "client still open after the pod reset the session")
        self.assertEqual(c.stray, [])
        line = self.pop3_access_line(c)
        self.assertEqual(line.get("result"), "ok")
        self.assertEqual(line.get("close_reason"), "backend_closed")
        self.assert_no_connection_to(pod.port)
        self.assert_healthy()

    # -- the pod accepts and never greets -----------------------------------

    def test_pod_never_greets_imap(self):
        pod = self.faults["mute"]
        before = len(pod.connections)
        _, elapsed, line = self.imap_refused(MUTE)
        self.assertGreaterEqual(elapsed, BACKEND_CONNECT_S - 0.2)
        self.assertLess(elapsed, BACKEND_CONNECT_S + SLACK_S)
        self.assertEqual(len(pod.connections), before + 1)
        self.assert_pod_side_closed(pod, pod.connections[-1], 1.0)
        self.assertEqual(line.get("pod"), "pod-mute")
        self.assertEqual(line.get("backend"), pod.addr)
        self.assert_no_connection_to(pod.port)
        self.assert_healthy()

    def test_pod_never_greets_imap_failover_to_next_server(self):
        pod = self.faults["mute"]
        before = len(pod.connections)
        r = self.raw()
        t0 = time.time()
        self.assertTagged(self.login(r, FRANK, self.pw(FRANK)), "L", "OK")
        elapsed = time.time() - t0
        self.assertGreaterEqual(elapsed, BACKEND_CONNECT_S - 0.2)
        self.assertLess(elapsed, BACKEND_CONNECT_S + SLACK_S)
        tagged, _ = r.command("s", "SELECT INBOX")
        self.assertTagged(tagged, "s", "OK")
        tagged, untagged = r.command("f", 'SEARCH SUBJECT "pod-1 marker"')
        self.assertTagged(tagged, "f", "OK")
        self.assertNotEqual(untagged, [b"* SEARCH"], "not on pod-1")
        self.assertEqual(len(pod.connections), before + 1)
        self.assert_pod_side_closed(pod, pod.connections[-1], 1.0)
        tagged, _ = r.command("o", "LOGOUT")
        self.assertTagged(tagged, "o", "OK")
        line = self.access_line(r.client_addr)
        self.assertEqual(line.get("result"), "ok")
        # after login LOGOUT is the pod's to answer, and the pod closes
        self.assertEqual(line.get("close_reason"), "backend_closed")
        self.assertEqual(line.get("backend"), self.world.pod1.imap_addr)
        self.assert_no_connection_to(pod.port)
        self.assert_healthy()

    def test_pod_never_greets_pop3_and_failover(self):
        pod = self.faults["mute-pop3"]
        before = len(pod.connections)
        _, elapsed, line = self.pop3_refused(MUTE)
        self.assertGreaterEqual(elapsed, BACKEND_CONNECT_S - 0.2)
        self.assertLess(elapsed, BACKEND_CONNECT_S + SLACK_S)
        self.assertEqual(line.get("backend"), pod.addr)
        self.assert_pod_side_closed(pod, pod.wait_connection(before + 1), 1.0)
        c = self.pop3()
        self.assertTrue(self.pop3_login(c, FRANK).startswith(b"+OK"))
        self.assertTrue(c.command("QUIT").startswith(b"+OK"))
        line = self.pop3_access_line(c)
        self.assertEqual(line.get("result"), "ok")
        self.assertEqual(line.get("backend"), self.world.pod1.pop3_addr)
        self.assert_pod_side_closed(pod, pod.wait_connection(before + 2), 1.0)
        self.assert_no_connection_to(pod.port)
        self.assert_healthy()

    # -- the pod greets, then hangs on the login ------------------------------

    def hangs_on_login(self, user, pod, mechanism, pod_saw):
        before = len(pod.connections)
        _, elapsed, line = self.imap_refused(user, mechanism=mechanism)
        self.assertGreaterEqual(elapsed, BACKEND_AUTH_S - 0.2)
        self.assertLess(elapsed, BACKEND_AUTH_S + SLACK_S)
        conn = pod.wait_connection(before + 1)
        self.assertEqual(len(pod.connections), before + 1)
        self.assertEqual(conn.login_line, pod_saw)
        self.assert_pod_side_closed(pod, conn, 1.0)
        self.assertEqual(line.get("backend"), pod.addr)
        self.assertIsNotNone(line["phases_ms"].get("backend_connect"))
        self.assert_no_connection_to(pod.port)
        self.assert_healthy()

    def test_pod_hangs_on_authenticate_imap(self):
        # the pod offers SASL-IR: podgate logs in with AUTHENTICATE PLAIN
        self.hangs_on_login(HANG, self.faults["hang"], "LOGIN", "L AUTHENTICATE")

    def test_pod_hangs_on_login_imap(self):
        # no SASL-IR at the pod: podgate logs in with LOGIN
        self.hangs_on_login(HANG_LOGIN, self.faults["hang-login"], "AUTHENTICATE",
                            "L LOGIN")

    def test_pod_hangs_on_auth_pop3(self):
        pod = self.faults["hang-pop3"]
        before = len(pod.connections)
        _, elapsed, line = self.pop3_refused(HANG)
        self.assertGreaterEqual(elapsed, BACKEND_AUTH_S - 0.2)
        self.assertLess(elapsed, BACKEND_AUTH_S + SLACK_S)
        conn = pod.wait_connection(before + 1)
        self.assertEqual(conn.login_line, "AUTH PLAIN")
        self.assert_pod_side_closed(pod, conn, 1.0)
        self.assert_no_connection_to(pod.port)
        self.assert_healthy()

    # -- the pod resets ---------------------------------------------------------

    def test_pod_resets_at_accept_failover_to_next_server(self):
        pod = self.faults["reset"]
        before = len(pod.connections)
        r = self.raw()
        self.assertTagged(self.login(r, DAVE, self.pw(DAVE)), "L", "OK")
        self.assertEqual(len(pod.connections), before + 1)
        tagged, _ = r.command("o", "LOGOUT")
        self.assertTagged(tagged, "o", "OK")
        line = self.access_line(r.client_addr)
        self.assertEqual(line.get("result"), "ok")
        self.assertEqual(line.get("backend"), self.world.pod1.imap_addr)
        self.assert_no_connection_to(pod.port)
        self.assert_healthy()

    def test_pod_resets_during_login_imap(self):
        pod = self.faults["rst-login"]
        before = len(pod.connections)
        _, elapsed, line = self.imap_refused(RST_LOGIN)
        self.assertLess(elapsed, BACKEND_AUTH_S)  # no waiting for a timeout
        conn = pod.wait_connection(before + 1)
        self.assertEqual(len(pod.connections), before + 1)
        self.assertEqual(conn.login_line, "L AUTHENTICATE")
        self.assertEqual(line.get("backend"), pod.addr)
        self.assert_no_connection_to(pod.port)
        self.assert_healthy()

    def test_pod_resets_during_login_pop3(self):
        pod = self.faults["rst-login-pop3"]
        before = len(pod.connections)
        _, elapsed, line = self.pop3_refused(RST_LOGIN)
        self.assertLess(elapsed, BACKEND_AUTH_S)
        self.assertEqual(pod.wait_connection(before + 1).login_line, "AUTH PLAIN")
        self.assertEqual(line.get("backend"), pod.addr)
        self.assert_no_connection_to(pod.port)
        self.assert_healthy()

    # -- the directory times out ------------------------------------------------

    def test_directory_times_out_imap(self):
        pg, mute = self.pg_dir_mute, self.faults["directory-mute"]
        before = len(mute.connections)
        _, elapsed, line = self.imap_refused(ALICE, pg=pg)
        self.assertGreaterEqual(elapsed, DIRECTORY_TIMEOUT_MS / 1000 - 0.05)
        self.assertLess(elapsed, DIRECTORY_TIMEOUT_MS / 1000 + SLACK_S)
        self.assertIsNone(line.get("backend"))
        self.assertGreater(len(mute.connections), before, "podgate never asked the directory")
        for conn in mute.connections[before:]:
            self.assert_pod_side_closed(mute, conn, 1.0)
        self.assert_no_connection_to(mute.port, pg=pg)
        self.assertTrue(pg.alive())

    def test_directory_times_out_pop3(self):
        pg, mute = self.pg_dir_mute, self.faults["directory-mute"]
        before = len(mute.connections)
        _, elapsed, line = self.pop3_refused(BOB, pg=pg)
        self.assertGreaterEqual(elapsed, DIRECTORY_TIMEOUT_MS / 1000 - 0.05)
        self.assertLess(elapsed, DIRECTORY_TIMEOUT_MS / 1000 + SLACK_S)
        for conn in mute.connections[before:]:
            self.assert_pod_side_closed(mute, conn, 1.0)
        self.assert_no_connection_to(mute.port, pg=pg)
        self.assertTrue(pg.alive())

    def test_directory_frozen_then_back(self):
        pg, service = self.pg_dir, self.service
        # a first lookup leaves a kept-alive connection to the directory
        r = self.imap_logged_in(BOB, pg=pg)
        r.close()
        service.signal(signal.SIGSTOP)
        try:
            _, elapsed, line = self.imap_refused(DAVE, pg=pg)
            self.assertGreaterEqual(elapsed, DIRECTORY_TIMEOUT_MS / 1000 - 0.05)
            self.assertLess(elapsed, DIRECTORY_TIMEOUT_MS / 1000 + SLACK_S)
            self.pop3_refused(GRACE, pg=pg)
        finally:
            service.signal(signal.SIGCONT)
        # the directory is back: the same user logs in (no failure cached)
        r = self.imap_logged_in(DAVE, pg=pg)
        tagged, _ = r.command("o", "LOGOUT")
        self.assertTagged(tagged, "o", "OK")
        line = self.access_line(r.client_addr, pg=pg)
        self.assertEqual(line.get("result"), "ok")
        self.assertEqual(line.get("directory"), "directory")
        # what podgate gave up on it closed: no half-closed connection left
        time.sleep(0.3)
        states = {s for s, _, _ in podlib.tcp_connections(pg.proc.pid, service.port)}
        self.assertLessEqual(states, {"ESTAB"})
        self.assert_healthy(pg)

    # -- the client vanishes ------------------------------------------------------

    def test_client_vanishes_while_pod_login_hangs(self):
        pod = self.faults["hang"]
        before = len(pod.connections)
        r = self.raw()
        r.send('L LOGIN %s "%s"\r\n' % (HANG, self.pw(HANG)))
        conn = pod.wait_connection(before + 1)
        deadline = time.time() + 3
        while conn is not None and conn.login_at is None and time.time() < deadline:
            time.sleep(0.01)
        self.assertIsNotNone(conn and conn.login_at, "the login never reached the pod")
        vanished = time.time()
        r.reset()
        # podgate learns of it when the login ends (backend_auth_seconds)
        closed_at = self.assert_pod_side_closed(pod, conn, BACKEND_AUTH_S + SLACK_S)
        self.assertLess(closed_at - vanished, BACKEND_AUTH_S + SLACK_S)
        line = self.access_line(r.client_addr)
        self.assertEqual(line.get("close_reason"), "client_closed")
        self.assertEqual(line.get("result"), "unavailable")
        self.assert_no_connection_to(pod.port)
        self.assert_healthy()

    def test_client_vanishes_while_pod_login_is_slow(self):
        pod = self.faults["slow"]
        before = len(pod.connections)
        r = self.raw()
        r.send('L LOGIN %s "%s"\r\nb NOOP\r\n' % (SLOW, self.pw(SLOW)))
        conn = pod.wait_connection(before + 1)
        deadline = time.time() + 3
        while conn is not None and conn.login_at is None and time.time() < deadline:
            time.sleep(0.01)
        self.assertIsNotNone(conn and conn.login_at, "the login never reached the pod")
        r.reset()
        closed_at = self.assert_pod_side_closed(pod, conn, pod.login_delay + SLACK_S)
        self.assertIsNotNone(conn.logged_in_at)
        self.assertLess(closed_at - conn.logged_in_at, SLACK_S)
        line = self.access_line(r.client_addr)
        self.assertEqual(line.get("close_reason"), "client_closed")
        self.assertEqual(line.get("result"), "ok")
        self.assert_no_connection_to(pod.port)
        self.assert_healthy()

    BIG_SUBJECT = "20 MB for a client that vanishes"
    big_uid = None

    def big_message_uid(self):
        """UID of a 20 MB message in grace's INBOX on pod-2 (delivered once)."""
        cls = type(self)
        if cls.big_uid is None:
            cls.big_size = 20 * 1024 * 1024
            big = podlib.make_big_message(cls.big_size, subject=self.BIG_SUBJECT)
            cls.big_size = len(big)
            self.world.pod2.deliver(GRACE, big)
            im = podlib.PodIMAP4(self.world.pod2.imap_port)
            im.login(GRACE, self.pw(GRACE))
            im.select("INBOX", readonly=True)
            typ, data = im.uid("SEARCH", None, "SUBJECT", '"%s"' % self.BIG_SUBJECT)
            im.logout()
            cls.big_uid = data[0].split()[-1].decode()
        return cls.big_uid

    def vanish_during_big_fetch(self, vanish):
        """grace FETCHes the 20 MB message through podgate; after the first
        MB, vanish(client). The session must end (client_closed) and podgate
        close its connection to pod-2."""
        uid = self.big_message_uid()
        r = self.imap_logged_in(GRACE)
        tagged, _ = r.command("b", "EXAMINE INBOX")
        self.assertTagged(tagged, "b", "OK")
        r.send("d UID FETCH %s (BODY.PEEK[])\r\n" % uid)
        head = r.read_exact(1024 * 1024, timeout=20)  # the first MB is on its way
        self.assertIn(b"FETCH", head[:200])
        # the client stops reading: podgate's queue to it fills and podgate
        # stops reading from the pod (backpressure), as in a real stall
        time.sleep(0.5)
        vanish(r)
        line = self.access_line(r.client_addr)
        self.assertEqual(line.get("close_reason"), "client_closed")
        self.assertEqual(line.get("result"), "ok")
        self.assertGreaterEqual(line.get("bytes_to_client") or 0, 1024 * 1024)
        self.assertLess(line.get("bytes_to_client") or 0, self.big_size)
        self.assert_no_connection_to(self.world.pod2.imap_port)
        self.assert_healthy()

    def test_client_vanishes_during_20mb_fetch(self):
        self.vanish_during_big_fetch(lambda r: r.reset())

    def test_client_half_closes_then_vanishes_during_20mb_fetch(self):
        def fin_then_rst(r):
            # a FIN first (the client is done sending: shutdown(SHUT_WR)),
            # then an RST when it goes without reading what was sent
            r.sock.shutdown(socket.SHUT_WR)
            time.sleep(0.3)
            r.reset()
        self.vanish_during_big_fetch(fin_then_rst)

    # -- the end ----------------------------------------------------------------

    def test_zy_fault_podgates_exit_0_on_sigterm(self):
        # the main podgate is checked the same way by ImapWorld.stop()
        for pg in (self.pg_dir_mute, self.pg_dir):
            self.assertTrue(pg.alive(), pg.stderr_text()[-3000:])
            code = pg.stop()
            text = pg.stderr_text()
            self.assertEqual(code, 0, "podgate %s exited with %s:\n%s"
                             % (pg.workdir, code, text[-3000:]))
            self.assertNotIn("Sanitizer", text)
            self.assertNotIn("runtime error:", text)


if __name__ == "__main__":
    unittest.main()
