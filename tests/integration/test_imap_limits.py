#!/usr/bin/env python3
"""podgate timeouts, configured limits, a hanging pod, RSA certificate and
graceful shutdown, with a podgate configured for short timeouts:

  preauth_seconds=1, idle_seconds=4, backend_connect_seconds=1,
  auth_failure_delay_ms=0, max_command_bytes=1024, max_invalid_commands=2

  python3 -m unittest -v tests/integration/test_imap_limits.py
"""

import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import podlib  # noqa: E402
from podlib import imap_quote  # noqa: E402

ALICE = "alice@example.com"
GRACE = "grace@example.com"  # on the chatty pod here
IDLE_SECONDS = 4
SHORT = {
    "timeouts": {"preauth_seconds": 1, "idle_seconds": IDLE_SECONDS, "backend_connect_seconds": 1,
                 "backend_auth_seconds": 5, "auth_failure_delay_ms": 0},
    "limits": {"max_command_bytes": 1024, "max_invalid_commands": 2},
}


class ImapLimitsTest(podlib.NoSecretsMixin, podlib.WorldTestCase):

    @classmethod
    def setUpClass(cls):
        cls.world = podlib.ImapWorld(start_podgate=False, cert_kind="rsa")
        try:
            cls.mute = podlib.MutePort()
            podlib.register_cleanup(cls.mute.close)
            directory = cls.world.directory()
            directory["pods"]["pod-mute"] = {"imap": [cls.mute.addr]}
            directory["users"]["mia@example.com"] = {"pod": "pod-mute"}
            # A pod that says "* OK Still here" every second to a client in
            # IDLE (Dovecot's imap_idle_notify_interval; 2 min elsewhere).
            cls.chatty = podlib.DovecotPod(
                "chatty", os.path.join(cls.world.root, "chatty"), cls.world.passwords,
                marker="chatty marker", extra_conf="imap_idle_notify_interval = 1 secs\n").start()
            cls.world.pods["chatty"] = cls.chatty
            directory["pods"]["pod-chatty"] = {"imap": [cls.chatty.imap_addr]}
            directory["users"][GRACE] = {"pod": "pod-chatty"}
            cls.directory = directory
            cls.world.podgate = cls.world.new_podgate("podgate-short", SHORT, directory=directory)
            cls.pg = cls.world.podgate
            # same, but with time to log in: for the hanging pod (a 1 s backend
            # timeout must not race a 1 s pre-auth timeout) and the secrets check
            cls.secrets_pg = cls.relaxed = cls.world.new_podgate(
                "podgate-relaxed", {"timeouts": {"backend_connect_seconds": 1}},
                directory=directory)
        except Exception:
            cls.world.stop()
            raise

    def pw(self, user):
        return self.world.passwords[user]

    def expect_bye_and_close(self, r, min_s, max_s, t0):
        try:
            lines = r.read_until_closed(timeout=max_s + 1)
        except socket.timeout:
            self.fail("connection still open %.1f s after it should have been closed" % (max_s + 1))
        elapsed = time.time() - t0
        self.assertTrue(lines and lines[0].startswith(b"* BYE"), lines)
        self.assertGreaterEqual(elapsed, min_s)
        self.assertLessEqual(elapsed, max_s)
        return lines

    # ---------------------------------------------------------------- pre-auth timeout

    def test_preauth_timeout_implicit_tls(self):
        t0 = time.time()
        r = self.raw()
        self.expect_bye_and_close(r, 0.8, 2.5, t0)
        line = self.access_line(r.client_addr)
        self.assertEqual(line.get("close_reason"), "preauth_timeout")
        self.assertEqual(line.get("result"), "no_login")

    def test_preauth_timeout_starttls_listener(self):
        t0 = time.time()
        r = self.raw(mode="plain")
        self.expect_bye_and_close(r, 0.8, 2.5, t0)

    def test_preauth_timeout_is_not_reset_by_dribbling(self):
        # the pre-auth limit is on the time to log in, not on silence
        t0 = time.time()
        r = self.raw()
        r.send("a LOGIN alice")
        while time.time() - t0 < 1.6:
            time.sleep(0.2)
            try:
                r.send("x")
            except OSError:
                break
        try:
            r.read_until_closed(timeout=max(0.1, 3.0 - (time.time() - t0)))
        except socket.timeout:
            self.fail("a client dribbling a command was kept open past the pre-auth timeout")

    def test_preauth_timeout_before_tls_handshake(self):
        t0 = time.time()
        s = podlib.connect(self.pg.port("imap", "implicit"))
        s.settimeout(4)
        try:
            data = s.recv(100)
        except ConnectionResetError:
            data = b""
        except socket.timeout:
            self.fail("a silent TCP client was kept open past the pre-auth timeout")
        finally:
            s.close()
        self.assertEqual(data, b"")
        self.assertLess(time.time() - t0, 3.0)

    def test_logged_in_session_outlives_preauth_timeout(self):
        r = self.raw()
        self.assertTagged(self.login(r, ALICE, self.pw(ALICE), tag="a"), "a", "OK")
        time.sleep(2.2)
        tagged, _ = r.command("b", "NOOP")
        self.assertTagged(tagged, "b", "OK")

    # ---------------------------------------------------------------- idle timeout

    def test_idle_timeout_closes_silent_session(self):
        r = self.raw()
        self.assertTagged(self.login(r, ALICE, self.pw(ALICE), tag="a"), "a", "OK")
        t0 = time.time()
        self.assertTrue(r.is_closed(7.5), "session not closed after idle_seconds=4 of silence")
        elapsed = time.time() - t0
        self.assertGreaterEqual(elapsed, 3.5)
        line = self.access_line(r.client_addr)
        self.assertEqual(line.get("close_reason"), "idle_timeout")
        self.assertEqual(line.get("result"), "ok")

    def test_activity_keeps_session_alive(self):
        r = self.raw()
        self.assertTagged(self.login(r, ALICE, self.pw(ALICE), tag="a"), "a", "OK")
        for i in range(4):  # 6 s in all, longer than idle_seconds
            time.sleep(1.5)
            tagged, _ = r.command("n%d" % i, "NOOP")
            self.assertTagged(tagged, "n%d" % i, "OK")

    def idling(self, user):
        """A logged-in session, INBOX selected, in IDLE."""
        r = self.raw()
        self.assertTagged(self.login(r, user, self.pw(user), tag="a"), "a", "OK")
        self.assertTagged(r.command("s", "SELECT INBOX")[0], "s", "OK")
        r.send("i IDLE\r\n")
        self.assertTrue(r.readline().startswith(b"+"))
        return r

    def test_an_idle_client_refreshing_as_rfc_2177_asks_outlives_idle_seconds(self):
        # The default idle_seconds (3600) against IDLE clients that refresh
        # every 29 minutes, scaled down: a refresh every 29/60 of
        # idle_seconds, for twice idle_seconds, and nothing else.
        refresh = IDLE_SECONDS * 29 / 60
        r = self.idling(ALICE)
        t0 = time.time()
        n = 0
        while time.time() - t0 < 2 * IDLE_SECONDS:
            time.sleep(refresh)
            r.send("DONE\r\n")
            self.assertTagged(r.read_response("i")[0], "i", "OK")
            n += 1
            r.send("i IDLE\r\n")
            self.assertTrue(r.readline().startswith(b"+"), "refresh %d refused" % n)
        r.send("DONE\r\n")
        self.assertTagged(r.read_response("i")[0], "i", "OK")
        # Refreshing less often than idle_seconds does not keep it.
        r = self.idling(ALICE)
        t0 = time.time()
        self.assertTrue(r.is_closed(IDLE_SECONDS + 3.5))
        self.assertGreaterEqual(time.time() - t0, IDLE_SECONDS - 0.5)

    def test_pushes_from_the_pod_alone_keep_a_silent_client_in_idle(self):
        r = self.idling(GRACE)
        t0 = time.time()
        pushes = []
        while time.time() - t0 < 2 * IDLE_SECONDS:  # the client says nothing
            pushes.append(r.readline(timeout=3))
        self.assertTrue(all(p == b"* OK Still here" for p in pushes), pushes)
        self.assertGreaterEqual(len(pushes), 2 * IDLE_SECONDS - 1)
        r.send("DONE\r\n")
        self.assertTagged(r.read_response("i")[0], "i", "OK")
        self.assertTagged(r.command("n", "NOOP")[0], "n", "OK")

    # ---------------------------------------------------------------- configured limits

    def test_configured_max_invalid_commands(self):
        r = self.raw()
        tagged, untagged = r.command("a", "FOO")
        self.assertTagged(tagged, "a", "BAD")
        tagged, _ = r.command("n", "NOOP")
        self.assertTagged(tagged, "n", "OK")
        r.send("b FOO\r\n")
        tagged, _ = r.read_response("b")
        self.assertTagged(tagged, "b", "BAD")
        rest = r.read_until_closed(timeout=3)
        self.assertTrue(rest and rest[0].startswith(b"* BYE"), rest)

    def test_configured_max_command_bytes(self):
        r = self.raw()
        pw = b"p" * 900
        r.send(b"a LOGIN alice@example.com {%d+}\r\n%s\r\n" % (len(pw), pw))
        tagged, _ = r.read_response("a")
        # an answer from the pod: the 900-byte command was accepted (no NOOP
        # after it: the failed login takes ~0.5 s of the 1 s pre-auth limit)
        self.assertTagged(tagged, "a", "NO", "AUTHENTICATIONFAILED")
        r.close()
        r = self.raw()
        pw = b"p" * 1500
        r.send(b"a LOGIN alice@example.com {%d+}\r\n%s\r\n" % (len(pw), pw))
        lines = r.read_until_closed(timeout=3)
        self.assertTrue(len(lines) >= 2 and lines[0].startswith(b"a BAD")
                        and lines[1].startswith(b"* BYE"), lines)

    # ---------------------------------------------------------------- hanging pod

    def test_pod_that_never_greets_times_out(self):
        # DESIGN.md: backend_connect = TCP connect + the pod's greeting (+ TLS),
        # so a pod that accepts but never greets is given up on after
        # backend_connect_seconds (1 s here; backend_auth_seconds is 30)
        r = self.raw(pg=self.relaxed)
        t0 = time.time()
        try:
            tagged, _ = r.command("L", 'LOGIN "mia@example.com" "mia-Pw-3c3c3"', timeout=6)
        except socket.timeout:
            self.fail("no answer 6 s after LOGIN: the greeting wait is not bounded by "
                      "backend_connect_seconds=1")
        elapsed = time.time() - t0
        self.assertTagged(tagged, "L", "NO", "UNAVAILABLE")
        self.assertGreaterEqual(elapsed, 0.8)
        self.assertLess(elapsed, 3.5)
    extra_secrets = ["mia-Pw-3c3c3"]

    # ---------------------------------------------------------------- certificate

    def test_rsa_certificate_presented(self):
        r = self.raw()
        self.assertEqual(r.sock.getpeercert(binary_form=True), podlib.cert_der(self.world.cert))
        self.assertTagged(self.login(r, ALICE, self.pw(ALICE), tag="a"), "a", "OK")

    # ---------------------------------------------------------------- shutdown

    def test_sigterm_closes_sessions_and_logs_them(self):
        # no drain window: logged-in sessions close at once too (the drain
        # is test_reload_drain.py's)
        pg = self.world.new_podgate("podgate-shutdown", {"timeouts": {"drain_seconds": 0}},
                                    directory=self.directory)
        logged_in = self.raw(pg=pg)
        self.assertTagged(self.login(logged_in, ALICE, self.pw(ALICE), tag="a"), "a", "OK")
        waiting = self.raw(pg=pg)
        t0 = time.time()
        code = pg.stop(grace=5)
        self.assertLess(time.time() - t0, 5, "podgate needed SIGKILL after SIGTERM")
        self.assertEqual(code, 0)
        self.assertTrue(logged_in.is_closed(1))
        self.assertTrue(waiting.is_closed(1))
        line = self.access_line(logged_in.client_addr, pg=pg, timeout=1)
        self.assertEqual(line.get("close_reason"), "shutdown")
        self.assertEqual(line.get("result"), "ok")
        line = self.access_line(waiting.client_addr, pg=pg, timeout=1)
        self.assertEqual(line.get("close_reason"), "shutdown")


if __name__ == "__main__":
    unittest.main()
