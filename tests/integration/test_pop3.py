#!/usr/bin/env python3
"""The POP3 front door against real Dovecot pods: poplib over implicit TLS and
STLS, curl pop3s://, every SASL path, the answers of DESIGN.md's error table,
STLS injection, a 20 MB RETR byte for byte, and DELE + QUIT really deleting
on the pod.

  python3 -m unittest -v tests/integration/test_pop3.py
"""

import hashlib
import os
import poplib
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import podlib  # noqa: E402
import scripted_pods  # noqa: E402
from podlib import b64, plain_b64  # noqa: E402

ALICE = "alice@example.com"
BOB = "bob@example.com"
CAROL = "carol@example.com"  # POP3 disabled here
DAN = "dan@example.com"      # on the dead pod
FRANK = "frank@example.com"  # on the failover pod [dead, pod-1]
GRACE = "grace@example.com"  # on pod-2, for the delete test
LOCKED = "locked@example.com"  # on a scripted pod whose maildrop is always locked
WRONG = podlib.WRONG_PASSWORDS[0]
LISTENERS = [{"protocol": "pop3", "tls": "implicit"}, {"protocol": "pop3", "tls": "starttls"}]


class Pop3Client:
    """Line-level POP3 client over implicit TLS or plain TCP (STLS by hand)."""

    def __init__(self, port, tls=True, source=None):
        self.sock = podlib.connect(port, source=source)
        self.client_addr = "%s:%d" % self.sock.getsockname()[:2]
        if tls:
            self.starttls()
        self.buffer = b""
        self.greeting = self.line()

    def starttls(self):
        self.sock = podlib.client_tls_context().wrap_socket(self.sock,
                                                            server_hostname="127.0.0.1")
        self.buffer = b""

    def send(self, text):
        self.sock.sendall(text.encode() if isinstance(text, str) else text)

    def line(self, timeout=10):
        self.sock.settimeout(timeout)
        while b"\r\n" not in self.buffer:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("closed; buffered %r" % self.buffer)
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def command(self, text):
        self.send(text + "\r\n")
        return self.line()

    def multiline(self):
        lines = []
        while True:
            line = self.line()
            if line == b".":
                return lines
            lines.append(line)

    def closed(self, timeout=3):
        """True when the server closes within `timeout`; False when it keeps
        the connection open (lines that arrive meanwhile count against it)."""
        self.stray = []
        try:
            while True:
                self.stray.append(self.line(timeout))
        except socket.timeout:  # a TimeoutError, so an OSError: check it first
            return False
        except (EOFError, OSError):
            return True

    def close(self):
        self.sock.close()


class Pop3Test(podlib.WorldTestCase):

    @classmethod
    def setUpClass(cls):
        cls.world = podlib.ImapWorld(start_podgate=False, pop3=True)
        try:
            directory = cls.world.directory()
            directory["users"][CAROL] = {"pod": "pod-1", "pop3": False}
            cls.locked_pod = scripted_pods.pop3_pod_with_locked_maildrop()
            podlib.register_cleanup(cls.locked_pod.close)
            directory["pods"]["pod-locked"] = {"pop3": [cls.locked_pod.addr]}
            directory["users"][LOCKED] = {"pod": "pod-locked"}
            cls.world.podgate = cls.world.new_podgate("podgate", directory=directory,
                                                      listeners=LISTENERS)
            cls.pg = cls.world.podgate
        except Exception:
            cls.world.stop()
            raise

    def pw(self, user):
        return self.world.passwords[user]

    def port(self, tls="implicit"):
        return self.pg.port("pop3", tls)

    def client(self, tls=True, source=None):
        c = Pop3Client(self.port("implicit" if tls else "starttls"), tls=tls, source=source)
        self.addCleanup(c.close)
        return c

    def stls_client(self, source=None):
        c = self.client(tls=False, source=source)
        self.assertTrue(c.command("STLS").startswith(b"+OK"))
        c.starttls()
        return c

    def poplib_ssl(self):
        p = poplib.POP3_SSL("127.0.0.1", self.port(), context=podlib.client_tls_context(),
                            timeout=30)
        self.addCleanup(lambda: p.sock and p.sock.close())
        return p

    def marker_count(self, p, marker):
        count, _ = p.stat()
        found = 0
        for i in range(1, count + 1):
            _, lines, _ = p.top(i, 0)
            if any(marker.encode() in l for l in lines):
                found += 1
        return found

    # -- logins ---------------------------------------------------------------

    def test_poplib_implicit_tls_routes_each_user_to_their_pod(self):
        for user, mine, other in ((ALICE, "pod-1 marker", "pod-2 marker"),
                                  (BOB, "pod-2 marker", "pod-1 marker")):
            p = self.poplib_ssl()
            p.user(user)
            p.pass_(self.pw(user))
            self.assertEqual(self.marker_count(p, mine), 1, user)
            self.assertEqual(self.marker_count(p, other), 0, user)
            p.quit()

    def test_poplib_stls_login(self):
        p = poplib.POP3("127.0.0.1", self.port("starttls"), timeout=30)
        self.addCleanup(lambda: p.sock and p.sock.close())
        caps = p.capa()
        self.assertIn("STLS", caps)
        self.assertNotIn("USER", caps)
        self.assertNotIn("SASL", caps)
        p.stls(context=podlib.client_tls_context())
        caps = p.capa()
        self.assertIn("USER", caps)
        self.assertEqual(caps.get("SASL"), ["PLAIN", "LOGIN"])
        self.assertNotIn("STLS", caps)
        p.user(BOB)
        p.pass_(self.pw(BOB))
        self.assertEqual(self.marker_count(p, "pod-2 marker"), 1)
        p.quit()

    def test_curl_pop3s_retr(self):
        out = subprocess.run(
            ["curl", "-sS", "-k", "--max-time", "20",
             "pop3s://127.0.0.1:%d/1" % self.port(), "-u", "%s:%s" % (ALICE, self.pw(ALICE))],
            capture_output=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn(b"pod-1 marker", out.stdout)

    def test_sasl_paths(self):
        c = self.client()
        self.assertTrue(c.command("AUTH PLAIN " + plain_b64(ALICE, self.pw(ALICE))).startswith(b"+OK"))
        self.assertTrue(c.command("STAT").startswith(b"+OK"))
        c = self.client()
        self.assertEqual(c.command("AUTH PLAIN"), b"+ ")
        self.assertTrue(c.command(plain_b64(ALICE, self.pw(ALICE))).startswith(b"+OK"))
        c = self.client()
        self.assertEqual(c.command("AUTH LOGIN"), b"+ " + b64("Username:").encode())
        self.assertEqual(c.command(b64(ALICE)), b"+ " + b64("Password:").encode())
        self.assertTrue(c.command(b64(self.pw(ALICE))).startswith(b"+OK"))
        c = self.client()
        self.assertEqual(c.command("AUTH"), b"+OK")
        self.assertEqual(c.multiline(), [b"PLAIN", b"LOGIN"])
        self.assertEqual(c.command("AUTH PLAIN"), b"+ ")
        self.assertTrue(c.command("*").startswith(b"-ERR"))
        self.assertEqual(c.command("NOOP"), b"+OK")

    def test_password_with_spaces_and_quotes(self):
        c = self.client()
        self.assertEqual(c.command("USER dave@example.com"), b"+OK")
        self.assertTrue(c.command("PASS " + self.pw("dave@example.com")).startswith(b"+OK"))
        self.assertTrue(c.command("STAT").startswith(b"+OK"))

    def test_pipelined_commands_after_pass_reach_the_pod(self):
        c = self.client()
        c.send("USER %s\r\nPASS %s\r\nSTAT\r\nQUIT\r\n" % (ALICE, self.pw(ALICE)))
        self.assertEqual(c.line(), b"+OK")
        self.assertTrue(c.line().startswith(b"+OK Logged in"))
        self.assertTrue(c.line().startswith(b"+OK 1 "))
        self.assertTrue(c.line().startswith(b"+OK"))

    def test_pod_sees_the_client_address(self):
        c = self.client(source="127.0.0.7")
        self.assertTrue(c.command("AUTH PLAIN " + plain_b64(ALICE, self.pw(ALICE))).startswith(b"+OK"))
        c.command("QUIT")
        time.sleep(0.3)
        self.assertTrue(any("rip=127.0.0.7" in l and "pop3-login" in l
                            for l in self.world.pod1.login_lines()))

    # -- the error table --------------------------------------------------------

    def test_wrong_password_and_unknown_user_look_the_same(self):
        answers = []
        for user, password in ((ALICE, WRONG), ("nobody@example.com", WRONG)):
            c = self.client()
            c.command("USER " + user)
            started = time.time()
            answers.append(c.command("PASS " + password))
            self.assertGreaterEqual(time.time() - started,
                                    podlib.ImapWorld.AUTH_FAILURE_DELAY_MS / 1000.0 - 0.05)
        self.assertEqual(answers[0], answers[1])
        self.assertEqual(answers[0], b"-ERR [AUTH] Authentication failed.")

    def test_protocol_disabled_for_user(self):
        c = self.client()
        c.command("USER " + CAROL)
        answer = c.command("PASS " + self.pw(CAROL))
        self.assertTrue(answer.startswith(b"-ERR [AUTH]"), answer)
        self.assertIn(b"disabled", answer)
        c.command("USER " + CAROL)
        self.assertEqual(c.command("PASS " + WRONG), b"-ERR [AUTH] Authentication failed.")

    def test_a_locked_maildrop_is_reported_as_in_use(self):
        c = self.client()
        answer = c.command("AUTH PLAIN " + plain_b64(LOCKED, "any-password"))
        self.assertTrue(answer.startswith(b"-ERR [IN-USE]"), answer)
        self.assertEqual(c.command("NOOP"), b"+OK")

    def test_pod_dropping_the_session_closes_the_client(self):
        c = self.client()
        self.assertTrue(c.command("AUTH PLAIN " + plain_b64(GRACE, self.pw(GRACE))).startswith(b"+OK"))
        self.assertTrue(c.command("STAT").startswith(b"+OK"))
        result = self.world.pod2.kick(GRACE)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertTrue(c.closed(timeout=5), "client still connected after the pod dropped it")

    def test_credentials_before_stls_are_refused(self):
        c = self.client(tls=False)
        for command in ("USER " + ALICE, "PASS x", "AUTH PLAIN " + plain_b64(ALICE, self.pw(ALICE))):
            answer = c.command(command)
            self.assertTrue(answer.startswith(b"-ERR"), (command, answer))
        self.assertEqual(c.command("CAPA"), b"+OK Capability list follows")
        self.assertIn(b"STLS", c.multiline())

    def test_pod_down_and_failover(self):
        c = self.client()
        c.command("USER " + DAN)
        self.assertTrue(c.command("PASS " + self.pw(DAN)).startswith(b"-ERR [SYS/TEMP]"))
        c = self.client()
        c.command("USER " + FRANK)
        self.assertTrue(c.command("PASS " + self.pw(FRANK)).startswith(b"+OK"))

    def test_stls_injection_is_discarded(self):
        c = self.client(tls=False, source="127.0.0.8")
        c.send("STLS\r\nUSER %s\r\nPASS %s\r\n" % (ALICE, self.pw(ALICE)))
        self.assertTrue(c.line().startswith(b"+OK"))
        self.assertEqual(c.buffer, b"", "plaintext after the STLS answer")
        c.starttls()
        self.assertEqual(c.command("NOOP"), b"+OK")
        self.assertFalse(c.closed(timeout=0.5))
        self.assertEqual(c.stray, [], "answers to the injected commands")
        self.assertFalse(any("rip=127.0.0.8" in l for l in self.world.pod1.login_lines()))

    def test_errors_then_close(self):
        c = self.client()
        for _ in range(4):
            self.assertTrue(c.command("XYZZY").startswith(b"-ERR"))
        self.assertTrue(c.command("XYZZY").startswith(b"-ERR"))
        self.assertTrue(c.closed())
        c = self.client()
        c.send("USER " + "a" * 9000 + "\r\n")
        self.assertTrue(c.line().startswith(b"-ERR"))
        self.assertTrue(c.closed())

    # -- mail through the relay ---------------------------------------------------

    def test_20mb_retr_is_byte_identical(self):
        big = podlib.make_big_message(20 * 1024 * 1024, subject="20 MB over POP3")
        self.world.pod1.deliver("frank@example.com", big)
        direct = poplib.POP3("127.0.0.1", self.world.pod1.protocols["pop3"], timeout=60)
        direct.user(FRANK)
        direct.pass_(self.pw(FRANK))
        count, _ = direct.stat()
        _, direct_lines, _ = direct.retr(count)
        direct.quit()
        p = self.poplib_ssl()
        p.user(FRANK)
        p.pass_(self.pw(FRANK))
        _, lines, _ = p.retr(count)
        p.quit()
        self.assertEqual(hashlib.sha256(b"\r\n".join(lines)).hexdigest(),
                         hashlib.sha256(b"\r\n".join(direct_lines)).hexdigest())
        self.assertEqual(b"\r\n".join(lines) + b"\r\n", big)

    def test_dele_and_quit_delete_on_the_pod(self):
        self.world.pod2.deliver(GRACE, podlib.make_message("to be deleted"))
        p = self.poplib_ssl()
        p.user(GRACE)
        p.pass_(self.pw(GRACE))
        before, _ = p.stat()
        p.dele(before)
        p.quit()
        direct = poplib.POP3("127.0.0.1", self.world.pod2.protocols["pop3"], timeout=30)
        direct.user(GRACE)
        direct.pass_(self.pw(GRACE))
        after, _ = direct.stat()
        direct.quit()
        self.assertEqual(after, before - 1)

    def test_access_log_line(self):
        c = self.client()
        c.command("AUTH PLAIN " + plain_b64(BOB, self.pw(BOB)))
        c.command("QUIT")
        c.closed()
        deadline = time.time() + 5
        line = None
        while time.time() < deadline and line is None:
            line = next((l for l in self.pg.access_log_lines()
                         if l.get("client") == c.client_addr and l.get("result") == "ok"), None)
            time.sleep(0.05)
        self.assertIsNotNone(line)
        self.assertEqual(line["protocol"], "pop3")
        self.assertEqual(line["pod"], "pod-2")
        self.assertEqual(line["backend"], self.world.pod2.pop3_addr)
        # The pod ends the session after QUIT; podgate passes its goodbye on.
        self.assertEqual(line["close_reason"], "backend_closed")
        for phase in ("tls", "credentials", "directory", "backend_connect", "backend_auth", "total"):
            self.assertIsInstance(line["phases_ms"][phase], (int, float), phase)

    def test_zz_no_secrets_logged(self):
        secrets = set()
        for user, password in list(self.world.passwords.items()) + [(ALICE, WRONG)]:
            secrets.update({password, b64(password), plain_b64(user, password)})
        logs = self.pg.access_log_text() + self.pg.stderr_text()
        self.assertGreater(len(logs), 0)
        for secret in secrets:
            self.assertNotIn(secret, logs)


if __name__ == "__main__":
    unittest.main()
