#!/usr/bin/env python3
"""The SMTP submission front door against real Postfix submission servers
(one per Dovecot pod, delivering into that pod's mailboxes over LMTP):
smtplib on the STARTTLS and implicit-TLS ports, swaks, a 10 MB message,
pipelined MAIL/RCPT/DATA right behind AUTH, EHLO extensions learned from the
pods, the answers of DESIGN.md's error table, and STARTTLS injection.

  python3 -m unittest -v tests/integration/test_smtp.py
"""

import hashlib
import imaplib
import os
import poplib
import smtplib
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
CAROL = "carol@example.com"  # SMTP disabled here
DAN = "dan@example.com"      # on the dead pod
DROPPY = "droppy@example.com"  # on a scripted pod that hangs up at MAIL
WRONG = podlib.WRONG_PASSWORDS[0]
LISTENERS = [{"protocol": "smtp", "tls": "starttls"}, {"protocol": "smtp", "tls": "implicit"}]


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class SmtpClient:
    """Line-level SMTP client (replies as (code, [lines]))."""

    def __init__(self, port, tls=False, source=None):
        self.sock = podlib.connect(port, source=source)
        self.client_addr = "%s:%d" % self.sock.getsockname()[:2]
        self.buffer = b""
        if tls:
            self.starttls()
        self.greeting = self.reply()

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

    def reply(self, timeout=10):
        lines = []
        while True:
            line = self.line(timeout)
            lines.append(line[4:])
            if line[3:4] != b"-":
                return int(line[:3]), lines

    def command(self, text):
        self.send(text + "\r\n")
        return self.reply()

    def closed(self, timeout=3):
        self.stray = []
        try:
            while True:
                self.stray.append(self.line(timeout))
        except socket.timeout:
            return False
        except (EOFError, OSError):
            return True

    def close(self):
        self.sock.close()


class SmtpTest(podlib.WorldTestCase):

    @classmethod
    def setUpClass(cls):
        cls.world = podlib.ImapWorld(start_podgate=False, smtp=True)
        try:
            directory = cls.world.directory()
            directory["users"][CAROL] = {"pod": "pod-1", "smtp": False}
            cls.dropping_pod = scripted_pods.smtp_pod_that_drops_after_auth()
            podlib.register_cleanup(cls.dropping_pod.close)
            directory["pods"]["pod-drop"] = {"smtp": [cls.dropping_pod.addr]}
            directory["users"][DROPPY] = {"pod": "pod-drop"}
            # pod-2's submission servers get AUTH LOGIN from podgate (bob's tests)
            directory["pods"]["pod-2"]["smtp_auth"] = "login"
            cls.world.podgate = cls.world.new_podgate("podgate", directory=directory,
                                                      listeners=LISTENERS)
            cls.pg = cls.world.podgate
            # podgate learns the pods' EHLO extensions right after start
            deadline = time.time() + 10
            while "SMTP extensions common" not in cls.pg.stderr_text() and time.time() < deadline:
                time.sleep(0.05)
        except Exception:
            cls.world.stop()
            raise

    def pw(self, user):
        return self.world.passwords[user]

    def port(self, tls="starttls"):
        return self.pg.port("smtp", tls)

    def client(self, tls=False, source=None, starttls=False):
        c = SmtpClient(self.port("implicit" if tls else "starttls"), tls=tls, source=source)
        self.addCleanup(c.close)
        if starttls:
            self.assertEqual(c.command("EHLO client.test")[0], 250)
            self.assertEqual(c.command("STARTTLS")[0], 220)
            c.starttls()
        return c

    def wait_for_subject(self, pod, user, subject, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            im = imaplib.IMAP4("127.0.0.1", pod.imap_port)
            try:
                im.login(user, self.pw(user))
                im.select("INBOX")
                typ, data = im.search(None, '(SUBJECT "%s")' % subject)
                ids = data[0].split()
                if ids:
                    typ, msg = im.fetch(ids[-1], "(BODY.PEEK[])")
                    return msg[0][1]
            finally:
                im.logout()
            time.sleep(0.2)
        return None

    def unique(self, label):
        return "%s %s" % (label, hashlib.sha1(os.urandom(8)).hexdigest()[:10])

    # -- submission end to end ------------------------------------------------

    def test_smtplib_starttls_submits_into_the_right_pod(self):
        subject = self.unique("via 587")
        s = smtplib.SMTP("127.0.0.1", self.port(), timeout=30)
        self.addCleanup(lambda: s.close())
        s.starttls(context=podlib.client_tls_context())
        s.login(ALICE, self.pw(ALICE))
        s.sendmail(ALICE, [ALICE], podlib.make_message(subject, to=ALICE))
        s.quit()
        self.assertIsNotNone(self.wait_for_subject(self.world.pod1, ALICE, subject))
        self.assertIsNone(self.wait_for_subject(self.world.pod2, ALICE, subject, timeout=0.5))

    def test_smtplib_implicit_tls_submits_into_the_right_pod(self):
        subject = self.unique("via 465")
        s = smtplib.SMTP_SSL("127.0.0.1", self.port("implicit"), timeout=30,
                             context=podlib.client_tls_context())
        self.addCleanup(lambda: s.close())
        s.login(BOB, self.pw(BOB))
        s.sendmail(BOB, [BOB], podlib.make_message(subject, to=BOB))
        s.quit()
        self.assertIsNotNone(self.wait_for_subject(self.world.pod2, BOB, subject))
        # the directory asks for AUTH LOGIN towards pod-2
        self.assertIn("sasl_method=LOGIN, sasl_username=%s" % BOB, self.world.postfix2.log_text())

    def test_swaks_submits(self):
        subject = self.unique("via swaks")
        # swaks does not check certificates unless told to (ours is self-signed)
        out = subprocess.run(
            ["swaks", "--server", "127.0.0.1:%d" % self.port(), "--tls",
             "--auth", "PLAIN", "--auth-user", ALICE, "--auth-password", self.pw(ALICE),
             "--from", ALICE, "--to", ALICE, "--header", "Subject: " + subject],
            capture_output=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stdout[-2000:] + out.stderr[-2000:])
        self.assertIsNotNone(self.wait_for_subject(self.world.pod1, ALICE, subject))

    def test_10mb_message_arrives_intact(self):
        subject = self.unique("10 MB")
        big = podlib.make_big_message(10 * 1024 * 1024, subject=subject)
        s = smtplib.SMTP("127.0.0.1", self.port(), timeout=120)
        self.addCleanup(lambda: s.close())
        s.starttls(context=podlib.client_tls_context())
        s.login(ALICE, self.pw(ALICE))
        s.sendmail(ALICE, [ALICE], big)
        s.quit()
        stored = self.wait_for_subject(self.world.pod1, ALICE, subject, timeout=60)
        self.assertIsNotNone(stored)
        body = big.split(b"\r\n\r\n", 1)[1]
        self.assertEqual(hashlib.sha256(stored.split(b"\r\n\r\n", 1)[1]).hexdigest(),
                         hashlib.sha256(body).hexdigest())

    def test_pipelined_mail_rcpt_data_behind_auth_are_not_lost(self):
        subject = self.unique("pipelined")
        c = self.client(starttls=True)
        self.assertEqual(c.command("EHLO client.test")[0], 250)
        message = podlib.make_message(subject, to=ALICE)
        c.send("AUTH PLAIN %s\r\nMAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n"
               % (plain_b64(ALICE, self.pw(ALICE)), ALICE, ALICE))
        codes = [c.reply()[0] for _ in range(4)]
        self.assertEqual(codes, [235, 250, 250, 354])
        c.send(message + b"\r\n.\r\nQUIT\r\n")
        self.assertEqual(c.reply()[0], 250)
        self.assertEqual(c.reply()[0], 221)
        self.assertIsNotNone(self.wait_for_subject(self.world.pod1, ALICE, subject))

    def test_pod_sees_the_client_address(self):
        c = self.client(starttls=True, source="127.0.0.7")
        c.command("EHLO client.test")
        self.assertEqual(c.command("AUTH PLAIN " + plain_b64(ALICE, self.pw(ALICE)))[0], 235)
        c.command("QUIT")
        time.sleep(0.5)
        self.assertIn("127.0.0.7", self.world.postfix1.log_text())

    # -- what podgate says itself -----------------------------------------------

    def test_ehlo_offers_what_the_pods_offer_and_auth_only_after_tls(self):
        c = self.client()
        code, lines = c.command("EHLO client.test")
        self.assertEqual(code, 250)
        self.assertIn(b"STARTTLS", lines)
        self.assertFalse(any(l.startswith(b"AUTH") for l in lines))
        for keyword in (b"PIPELINING", b"8BITMIME", b"ENHANCEDSTATUSCODES"):
            self.assertIn(keyword, lines)
        # the smallest limit of all pods: the scripted pod's 20 MiB, not Postfix's 30 MiB
        self.assertIn(b"SIZE 20971520", lines)
        # Postfix offers SMTPUTF8, the scripted pod does not: not promised
        self.assertNotIn(b"SMTPUTF8", lines)
        self.assertFalse(any(l.startswith(b"XCLIENT") for l in lines))
        self.assertEqual(c.command("STARTTLS")[0], 220)
        c.starttls()
        code, lines = c.command("EHLO client.test")
        self.assertIn(b"AUTH PLAIN LOGIN", lines)
        self.assertNotIn(b"STARTTLS", lines)

    def test_the_error_table(self):
        c = self.client()
        c.command("EHLO client.test")
        self.assertEqual(c.command("AUTH PLAIN " + plain_b64(ALICE, self.pw(ALICE))),
                         (530, [b"5.7.0 Must issue a STARTTLS command first"]))
        self.assertEqual(c.command("MAIL FROM:<%s>" % ALICE)[0], 530)
        c = self.client(starttls=True)
        c.command("EHLO client.test")
        self.assertEqual(c.command("MAIL FROM:<%s>" % ALICE),
                         (530, [b"5.7.0 Authentication required"]))
        wrong = c.command("AUTH PLAIN " + plain_b64(ALICE, WRONG))
        unknown = c.command("AUTH PLAIN " + plain_b64("nobody@example.com", WRONG))
        self.assertEqual(wrong, unknown)
        self.assertEqual(wrong[0], 535)
        self.assertTrue(wrong[1][0].startswith(b"5.7.8"))
        disabled = c.command("AUTH PLAIN " + plain_b64(CAROL, self.pw(CAROL)))
        self.assertEqual(disabled[0], 535)
        # a third refusal ends the connection (limits.max_auth_attempts: 3)
        self.assertEqual(c.reply()[0], 421)
        c = self.client(starttls=True)
        c.command("EHLO client.test")
        down = c.command("AUTH PLAIN " + plain_b64(DAN, self.pw(DAN)))
        self.assertEqual(down, (454, [b"4.7.0 Temporary authentication failure"]))
        self.assertEqual(c.command("AUTH LOGIN"), (334, [b64("Username:").encode()]))
        self.assertEqual(c.command(b64(ALICE)), (334, [b64("Password:").encode()]))
        self.assertEqual(c.command(b64(self.pw(ALICE)))[0], 235)

    def test_pod_dropping_the_session_closes_the_client(self):
        c = self.client(starttls=True)
        c.command("EHLO client.test")
        self.assertEqual(c.command("AUTH PLAIN " + plain_b64(DROPPY, "any-password"))[0], 235)
        c.send("MAIL FROM:<%s>\r\n" % DROPPY)
        self.assertTrue(c.closed(timeout=5), "client still connected after the pod dropped it")
        self.assertEqual(c.stray, [])

    def test_errors_and_overlong_lines_end_with_421(self):
        c = self.client()
        for _ in range(4):
            self.assertEqual(c.command("XYZZY")[0], 502)
        self.assertEqual(c.command("XYZZY")[0], 502)
        self.assertEqual(c.reply()[0], 421)
        self.assertTrue(c.closed())
        c = self.client()
        c.send("EHLO " + "a" * 9000 + "\r\n")
        self.assertEqual(c.reply()[0], 500)
        self.assertEqual(c.reply()[0], 421)
        self.assertTrue(c.closed())

    def test_starttls_injection_is_discarded(self):
        c = self.client(source="127.0.0.8")
        c.command("EHLO client.test")
        c.send("STARTTLS\r\nAUTH PLAIN %s\r\nMAIL FROM:<%s>\r\n"
               % (plain_b64(ALICE, self.pw(ALICE)), ALICE))
        self.assertEqual(c.reply()[0], 220)
        self.assertEqual(c.buffer, b"", "plaintext after the STARTTLS answer")
        c.starttls()
        self.assertEqual(c.command("NOOP")[0], 250)
        self.assertFalse(c.closed(timeout=0.5))
        self.assertEqual(c.stray, [], "answers to the injected commands")

    def test_a_client_that_never_reads_its_answers_is_held_back(self):
        # EHLO answers are ten times longer than EHLO: a client that writes
        # commands and never reads must not make podgate buffer the answers.
        c = self.client()
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        before = rss_kb(self.pg.proc.pid)
        chunk = b"EHLO client.test\r\n" * 4096
        c.sock.settimeout(3)
        sent = 0
        try:
            while sent < 64 * 1024 * 1024:
                sent += c.sock.send(chunk)
        except socket.timeout:
            pass
        grown = rss_kb(self.pg.proc.pid) - before
        self.assertLess(sent, 64 * 1024 * 1024, "podgate kept reading a client that never reads")
        # Bounded well below what the client sent (unbounded, the answers
        # would be ten times that); the ASan build's allocator quarantine
        # alone accounts for tens of MB, the release build grows ~1 MB.
        self.assertLess(grown, 48 * 1024, "podgate grew by %d KB for one silent reader" % grown)

    def test_a_listener_offers_only_the_mechanisms_it_names(self):
        only_login = [{"protocol": protocol, "tls": tls, "mechanisms": ["LOGIN"]}
                      for protocol, tls in (("imap", "implicit"), ("pop3", "implicit"),
                                            ("smtp", "implicit"), ("imap", "starttls"))]
        pg = self.world.new_podgate("podgate-login-only", directory=self.pg.directory,
                                    listeners=only_login)
        context = podlib.client_tls_context()
        # IMAP: the capability list, a refused PLAIN, and LOGIN to the pod.
        im = imaplib.IMAP4_SSL("127.0.0.1", pg.port("imap"), ssl_context=context)
        self.addCleanup(im.shutdown)
        self.assertIn("AUTH=LOGIN", im.capabilities)
        self.assertNotIn("AUTH=PLAIN", im.capabilities)
        with self.assertRaises(imaplib.IMAP4.error) as refused:
            im.authenticate("PLAIN", lambda _: ("\0%s\0%s" % (ALICE, self.pw(ALICE))).encode())
        self.assertIn("Unsupported authentication mechanism", str(refused.exception))
        answers = iter([ALICE, self.pw(ALICE)])
        typ, _ = im.authenticate("LOGIN", lambda _: next(answers).encode())
        self.assertEqual(typ, "OK")
        typ, data = im.select("INBOX")
        self.assertEqual(typ, "OK", data)
        # On a STARTTLS port: nothing offered before TLS, the same list after.
        plain = imaplib.IMAP4("127.0.0.1", pg.port("imap", "starttls"))
        self.addCleanup(plain.shutdown)
        self.assertIn("LOGINDISABLED", plain.capabilities)
        self.assertFalse([c for c in plain.capabilities if c.startswith("AUTH=")])
        plain.starttls(ssl_context=context)
        self.assertEqual([c for c in plain.capabilities if c.startswith("AUTH=")], ["AUTH=LOGIN"])
        # POP3: CAPA, a bare AUTH, a refused PLAIN.
        pop = poplib.POP3_SSL("127.0.0.1", pg.port("pop3"), context=context)
        self.addCleanup(pop.close)
        self.assertEqual(pop.capa()["SASL"], ["LOGIN"])
        self.assertEqual(pop._longcmd("AUTH")[1], [b"LOGIN"])
        with self.assertRaises(poplib.error_proto) as refused:
            pop._shortcmd("AUTH PLAIN " + plain_b64(ALICE, self.pw(ALICE)))
        self.assertIn(b"Unsupported authentication mechanism", refused.exception.args[0])
        # SMTP: EHLO AUTH, a refused PLAIN; smtplib picks LOGIN and submits.
        c = SmtpClient(pg.port("smtp"), tls=True)
        self.addCleanup(c.close)
        code, lines = c.command("EHLO client.test")
        self.assertEqual(code, 250)
        self.assertIn(b"AUTH LOGIN", lines)
        self.assertEqual(c.command("AUTH PLAIN " + plain_b64(ALICE, self.pw(ALICE)))[0], 504)
        subject = self.unique("LOGIN only")
        s = smtplib.SMTP_SSL("127.0.0.1", pg.port("smtp"), timeout=30, context=context)
        self.addCleanup(s.close)
        s.login(ALICE, self.pw(ALICE))
        s.sendmail(ALICE, [ALICE], podlib.make_message(subject, to=ALICE))
        s.quit()
        self.assertIsNotNone(self.wait_for_subject(self.world.pod1, ALICE, subject))

    def test_smtp_guesses_meet_the_guard_as_shipped(self):
        # The guard's default: 5 wrong passwords for one user from one address.
        source = "127.0.11.1"
        mark = len(self.world.pod1.log_text())
        answers = []
        for i in range(8):
            c = self.client(tls=True, source=source)
            c.command("EHLO guesser.test")
            answers.append(c.command("AUTH PLAIN " + plain_b64(ALICE, "smtp-guess-%d" % i))[0])
            c.close()
        self.assertEqual(answers, [535] * 8)
        # Postfix passes the client's address on (XCLIENT) to Dovecot's auth,
        # which checked exactly five of the guesses.
        checked = [l for l in self.world.pod1.log_text()[mark:].splitlines()
                   if "(%s,%s" % (ALICE, source) in l and "Password mismatch" in l]
        self.assertEqual(len(checked), 5, checked)
        self.assertIn("lockout start: user_address %s from %s" % (ALICE, source),
                      self.pg.stderr_text())
        # The right password from there is refused too, from elsewhere it works.
        c = self.client(tls=True, source=source)
        c.command("EHLO guesser.test")
        self.assertEqual(c.command("AUTH PLAIN " + plain_b64(ALICE, self.pw(ALICE)))[0], 535)
        c = self.client(tls=True, source="127.0.11.2")
        c.command("EHLO owner.test")
        self.assertEqual(c.command("AUTH PLAIN " + plain_b64(ALICE, self.pw(ALICE)))[0], 235)

    def test_zz_no_secrets_logged(self):
        secrets = set()
        guesses = [(ALICE, "smtp-guess-%d" % i) for i in range(8)]
        for user, password in list(self.world.passwords.items()) + [(ALICE, WRONG)] + guesses:
            secrets.update({password, b64(password), plain_b64(user, password)})
        logs = self.pg.access_log_text() + self.pg.stderr_text()
        self.assertGreater(len(logs), 0)
        for secret in secrets:
            self.assertNotIn(secret, logs)


if __name__ == "__main__":
    unittest.main()
