#!/usr/bin/env python3
"""podgate IMAP front door against real Dovecot pods: capabilities, logins by
every mechanism, routing, failures, STARTTLS rules, bad input, access log.

  python3 -m unittest -v tests/integration/test_imap.py      (from the repo root)
  PODGATE_BIN=/path/to/podgate python3 /path/to/test_imap.py -v   (from anywhere)
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import podlib  # noqa: E402
from podlib import (imap_quote, plain_b64, b64, imap_subjects, PodIMAP4,  # noqa: E402
                    PodIMAP4_SSL, WRONG_PASSWORDS)

AUTH_FAILED = b"NO [AUTHENTICATIONFAILED] Authentication failed."
ALICE = "alice@example.com"
BOB = "bob@example.com"


def caps_of(line):
    """Capability names from '* CAPABILITY ...' or '... [CAPABILITY ...] ...'."""
    m = re.search(rb"\[CAPABILITY ([^\]]*)\]", line)
    if m:
        return set(m.group(1).upper().split())
    m = re.match(rb"\* CAPABILITY (.*)$", line)
    if m:
        return set(m.group(1).upper().split())
    return None


def after_tag(line):
    return line.split(b" ", 1)[1] if b" " in line else b""


class ImapFrontDoorTest(podlib.NoSecretsMixin, podlib.WorldTestCase):
    extra_secrets = ["starttls-guess-%d" % i for i in range(6)]

    def pw(self, user):
        return self.world.passwords[user]

    def fetch_subject(self, r, seq="1"):
        tagged, _ = r.command("S", "SELECT INBOX")
        self.assertTagged(tagged, "S", "OK")
        tagged, untagged = r.command("F", "FETCH %s (BODY.PEEK[HEADER.FIELDS (SUBJECT)])" % seq)
        self.assertTagged(tagged, "F", "OK")
        return b"\n".join(untagged)

    # ---------------------------------------------------------------- capabilities

    def test_capabilities_implicit_tls(self):
        r = self.raw()
        self.assertTrue(r.greeting.startswith(b"* OK [CAPABILITY "), r.greeting)
        self.assertIn(b"IMAP4REV1", caps_of(r.greeting))
        self.assertNotIn(b"pod-1 ready", r.greeting)
        tagged, untagged = r.command("a", "CAPABILITY")
        self.assertTagged(tagged, "a", "OK")
        caps = [caps_of(l) for l in untagged if l.startswith(b"* CAPABILITY ")]
        self.assertEqual(len(caps), 1, untagged)
        caps = caps[0]
        for c in (b"IMAP4REV1", b"ID", b"LITERAL+", b"SASL-IR", b"AUTH=PLAIN", b"AUTH=LOGIN"):
            self.assertIn(c, caps)
        self.assertNotIn(b"STARTTLS", caps)
        self.assertNotIn(b"LOGINDISABLED", caps)

    def test_capabilities_starttls_listener(self):
        r = self.raw(mode="plain")
        self.assertTrue(r.greeting.startswith(b"* OK [CAPABILITY "), r.greeting)
        tagged, untagged = r.command("a", "CAPABILITY")
        self.assertTagged(tagged, "a", "OK")
        caps = [caps_of(l) for l in untagged if l.startswith(b"* CAPABILITY ")][0]
        self.assertIn(b"IMAP4REV1", caps)
        self.assertIn(b"STARTTLS", caps)
        self.assertIn(b"LOGINDISABLED", caps)
        self.assertEqual([c for c in caps if c.startswith(b"AUTH=")], [])
        tagged, _ = r.command("b", "STARTTLS")
        self.assertTagged(tagged, "b", "OK")
        self.assertEqual(r.starttls_handshake(), b"")
        tagged, untagged = r.command("c", "CAPABILITY")
        self.assertTagged(tagged, "c", "OK")
        caps = [caps_of(l) for l in untagged if l.startswith(b"* CAPABILITY ")][0]
        for c in (b"IMAP4REV1", b"AUTH=PLAIN", b"AUTH=LOGIN", b"SASL-IR", b"LITERAL+"):
            self.assertIn(c, caps)
        self.assertNotIn(b"STARTTLS", caps)
        self.assertNotIn(b"LOGINDISABLED", caps)

    def test_presented_certificate_is_configured_one(self):
        r = self.raw()
        self.assertEqual(r.sock.getpeercert(binary_form=True), podlib.cert_der(self.world.cert))

    # ---------------------------------------------------------------- routing

    def check_routed(self, im, user):
        subjects = imap_subjects(im)
        mine = self.world.marker_of(user)
        other = "pod-2 marker" if mine == "pod-1 marker" else "pod-1 marker"
        self.assertIn(mine, subjects, "%s should be on %s" % (user, mine))
        self.assertNotIn(other, subjects)

    def test_login_routes_users_implicit_tls(self):
        for user in (ALICE, BOB, "erin@example.org", "frank@example.com"):
            with self.subTest(user=user):
                im = PodIMAP4_SSL(self.pg.port("imap", "implicit"))
                typ, _ = im.login(user, self.pw(user))
                self.assertEqual(typ, "OK")
                self.check_routed(im, user)
                im.logout()

    def test_login_routes_users_starttls(self):
        for user in (ALICE, BOB):
            with self.subTest(user=user):
                im = PodIMAP4(self.pg.port("imap", "starttls"))
                self.assertIn("STARTTLS", im.capabilities)
                im.starttls_noverify()
                typ, _ = im.login(user, self.pw(user))
                self.assertEqual(typ, "OK")
                self.check_routed(im, user)
                im.logout()

    def test_login_ok_carries_pod_capabilities(self):
        direct = podlib.RawIMAP(self.world.pod1.imap_port, mode="plain")
        d_tagged = self.login(direct, ALICE, self.pw(ALICE), tag="d")
        direct.close()
        r = self.raw()
        tagged = self.login(r, ALICE, self.pw(ALICE), tag="a")
        self.assertTagged(tagged, "a", "OK")
        self.assertTrue(tagged.startswith(b"a OK [CAPABILITY "), tagged)
        self.assertTrue(tagged.endswith(b"] Logged in"), tagged)
        self.assertIn(b"IDLE", caps_of(tagged))
        self.assertEqual(caps_of(tagged), caps_of(d_tagged))
        self.assertIn(b"pod-1 marker", self.fetch_subject(r))
        tagged, untagged = r.command("z", "LOGOUT")
        self.assertTagged(tagged, "z", "OK")
        self.assertTrue(any(l.startswith(b"* BYE") for l in untagged), untagged)
        self.assertTrue(r.is_closed(3))

    def test_pipelined_commands_after_login_reach_pod(self):
        # A client may pipeline commands behind LOGIN; they belong to the pod.
        r = self.raw()
        r.send("a LOGIN %s %s\r\nb SELECT INBOX\r\nc FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\n"
               % (imap_quote(BOB), imap_quote(self.pw(BOB))))
        tagged, _ = r.read_response("a")
        self.assertTagged(tagged, "a", "OK")
        tagged, _ = r.read_response("b")
        self.assertTagged(tagged, "b", "OK")
        tagged, untagged = r.read_response("c")
        self.assertTagged(tagged, "c", "OK")
        self.assertIn(b"pod-2 marker", b"\n".join(untagged))

    def test_append_through_podgate(self):
        im = PodIMAP4_SSL(self.pg.port("imap", "implicit"))
        im.login("dave@example.com", self.pw("dave@example.com"))
        msg = podlib.make_message("appended via podgate", "x" * 5000 + "\r\n")
        typ, _ = im.append("INBOX", None, None, msg)
        self.assertEqual(typ, "OK")
        im.logout()
        direct = PodIMAP4(self.world.pod1.imap_port)
        direct.login("dave@example.com", self.pw("dave@example.com"))
        self.assertIn("appended via podgate", imap_subjects(direct))
        direct.logout()

    @unittest.skipUnless(shutil.which("curl"), "curl not installed")
    def test_curl_imaps_fetch(self):
        url = "imaps://127.0.0.1:%d/INBOX;UID=1" % self.pg.port("imap", "implicit")
        r = subprocess.run(["curl", "-k", "-sS", "--max-time", "15", "-u",
                            "%s:%s" % (ALICE, self.pw(ALICE)), url],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"Subject: pod-1 marker", r.stdout)

    @unittest.skipUnless(shutil.which("curl"), "curl not installed")
    def test_curl_starttls_fetch(self):
        url = "imap://127.0.0.1:%d/INBOX;UID=1" % self.pg.port("imap", "starttls")
        r = subprocess.run(["curl", "-k", "-sS", "--ssl-reqd", "--max-time", "15", "-u",
                            "%s:%s" % (BOB, self.pw(BOB)), url],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"Subject: pod-2 marker", r.stdout)

    # ---------------------------------------------------------------- mechanisms

    def test_login_synchronizing_literals(self):
        user, pw = "dave@example.com", self.pw("dave@example.com").encode()
        r = self.raw()
        r.send(b"a LOGIN {%d}\r\n" % len(user))
        self.assertTrue(r.readline().startswith(b"+"))
        r.send(user.encode() + b" {%d}\r\n" % len(pw))
        self.assertTrue(r.readline().startswith(b"+"))
        r.send(pw + b"\r\n")
        tagged, _ = r.read_response("a")
        self.assertTagged(tagged, "a", "OK")
        self.assertIn(b"pod-1 marker", self.fetch_subject(r))

    def test_login_nonsynchronizing_literals(self):
        user, pw = b"dave@example.com", self.pw("dave@example.com").encode()
        r = self.raw()
        r.send(b"a LOGIN {%d+}\r\n%s {%d+}\r\n%s\r\n" % (len(user), user, len(pw), pw))
        tagged, untagged = r.read_response("a")
        self.assertTagged(tagged, "a", "OK")
        self.assertFalse(any(l.startswith(b"+") for l in untagged),
                         "continuation sent for LITERAL+: %r" % untagged)
        self.assertIn(b"pod-1 marker", self.fetch_subject(r))

    def test_login_quoted_password_with_escapes(self):
        im = PodIMAP4_SSL(self.pg.port("imap", "implicit"))
        typ, _ = im.login("dave@example.com", self.pw("dave@example.com"))  # imaplib quotes+escapes
        self.assertEqual(typ, "OK")
        self.assertIn("pod-1 marker", imap_subjects(im))
        im.logout()

    def test_authenticate_plain_sasl_ir(self):
        r = self.raw()
        tagged, _ = r.command("a", "AUTHENTICATE PLAIN " + plain_b64(BOB, self.pw(BOB)))
        self.assertTagged(tagged, "a", "OK")
        self.assertTrue(tagged.startswith(b"a OK [CAPABILITY "), tagged)
        self.assertIn(b"pod-2 marker", self.fetch_subject(r))

    def test_authenticate_plain_without_ir(self):
        r = self.raw()
        r.send("a AUTHENTICATE PLAIN\r\n")
        self.assertTrue(r.readline().startswith(b"+"))
        r.send(plain_b64("dave@example.com", self.pw("dave@example.com")) + "\r\n")
        tagged, _ = r.read_response("a")
        self.assertTagged(tagged, "a", "OK")
        self.assertIn(b"pod-1 marker", self.fetch_subject(r))

    def test_authenticate_login(self):
        r = self.raw_starttls()
        r.send("a AUTHENTICATE LOGIN\r\n")
        self.assertTrue(r.readline().startswith(b"+"))
        r.send(b64(BOB) + "\r\n")
        self.assertTrue(r.readline().startswith(b"+"))
        r.send(b64(self.pw(BOB)) + "\r\n")
        tagged, _ = r.read_response("a")
        self.assertTagged(tagged, "a", "OK")
        self.assertIn(b"pod-2 marker", self.fetch_subject(r))

    def test_authenticate_cancel(self):
        r = self.raw()
        r.send("a AUTHENTICATE PLAIN\r\n")
        self.assertTrue(r.readline().startswith(b"+"))
        r.send("*\r\n")
        tagged, _ = r.read_response("a")
        self.assertTagged(tagged, "a", "BAD")
        tagged, _ = r.command("b", "NOOP")
        self.assertTagged(tagged, "b", "OK")

    def test_sasl_state_does_not_leak_between_authenticates(self):
        def auth_login(r, tag, password):
            r.send("%s AUTHENTICATE LOGIN\r\n" % tag)
            self.assertTrue(r.readline().startswith(b"+"))
            r.send(b64(ALICE) + "\r\n")
            self.assertTrue(r.readline().startswith(b"+"))
            r.send(b64(password) + "\r\n")
            return r.read_response(tag)[0]

        # a failed AUTHENTICATE LOGIN, then AUTHENTICATE PLAIN with SASL-IR
        r = self.raw()
        self.assertEqual(after_tag(auth_login(r, "a", WRONG_PASSWORDS[0])), AUTH_FAILED)
        tagged, _ = r.command("b", "AUTHENTICATE PLAIN " + plain_b64(ALICE, self.pw(ALICE)))
        self.assertTagged(tagged, "b", "OK")
        r.close()
        # a cancelled AUTHENTICATE LOGIN, then AUTHENTICATE PLAIN with SASL-IR
        r = self.raw()
        r.send("a AUTHENTICATE LOGIN\r\n")
        self.assertTrue(r.readline().startswith(b"+"))
        r.send("*\r\n")
        tagged, _ = r.read_response("a")
        self.assertTagged(tagged, "a", "BAD")
        r.send("b AUTHENTICATE PLAIN %s\r\n" % plain_b64(ALICE, self.pw(ALICE)))
        line = r.readline()
        self.assertFalse(line.startswith(b"+"), "continuation for a SASL-IR command: %r" % line)
        self.assertTagged(line, "b", "OK")

    def test_commands_are_case_insensitive(self):
        r = self.raw()
        tagged, untagged = r.command("a1", "capability")
        self.assertTagged(tagged, "a1", "OK")
        self.assertTrue(any(l.startswith(b"* CAPABILITY ") for l in untagged), untagged)
        tagged, _ = r.command("a2", "noop")
        self.assertTagged(tagged, "a2", "OK")
        tagged, _ = r.command("a3", "authenticate plain " + plain_b64(BOB, self.pw(BOB)))
        self.assertTagged(tagged, "a3", "OK")
        r = self.raw()
        self.assertTagged(r.command("b1", "Login %s %s" % (imap_quote(ALICE), imap_quote(self.pw(ALICE))))[0],
                          "b1", "OK")

    def test_invalid_base64_in_authenticate(self):
        r = self.raw()
        tagged, _ = r.command("a", "AUTHENTICATE PLAIN !!!not-base64!!!")
        self.assertTrue(tagged.startswith(b"a BAD") or tagged.startswith(b"a NO"), tagged)
        r.send("b AUTHENTICATE LOGIN\r\n")
        self.assertTrue(r.readline().startswith(b"+"))
        r.send("%%%\r\n")
        tagged, _ = r.read_response("b")
        self.assertTrue(tagged.startswith(b"b BAD") or tagged.startswith(b"b NO"), tagged)
        tagged, _ = r.command("c", "NOOP")
        self.assertTagged(tagged, "c", "OK")

    def test_control_characters_in_credentials(self):
        # literals may carry CR, LF and NUL: they must not smuggle anything
        # into the login podgate makes at the pod, nor pick another account
        pw = self.pw(ALICE).encode()
        cases = [
            (ALICE.encode(), pw + b"\r\nX LOGOUT"),
            (ALICE.encode(), b"\x00" + BOB.encode() + b"\x00" + pw),
            (BOB.encode() + b"\x00" + ALICE.encode(), pw),
            (b"x\x00" + ALICE.encode(), pw),
        ]
        for user, password in cases:
            with self.subTest(user=user, password=password):
                r = self.raw()
                r.send(b"a LOGIN {%d+}\r\n%s {%d+}\r\n%s\r\n" % (len(user), user, len(password), password))
                tagged, _ = r.read_response("a")
                self.assertFalse(tagged.startswith(b"a OK"), tagged)
                tagged, _ = r.command("b", "NOOP")
                self.assertTagged(tagged, "b", "OK")
                r.close()

    def test_authenticate_plain_other_authzid_is_refused(self):
        # alice's own credentials, asking to act as bob: must not open bob's box
        r = self.raw()
        tagged, _ = r.command("a", "AUTHENTICATE PLAIN " + plain_b64(ALICE, self.pw(ALICE), BOB))
        self.assertTagged(tagged, "a", "NO")

    def test_a_refused_attempt_is_logged_with_its_own_user(self):
        # A LOGIN of one user, then a PLAIN message that is refused unread by
        # the pod (a foreign authzid): the access log names the second user.
        r = self.raw()
        self.assertEqual(after_tag(self.login(r, "nobody@example.com", WRONG_PASSWORDS[0])),
                         AUTH_FAILED)
        tagged, _ = r.command("b", "AUTHENTICATE PLAIN " + plain_b64(BOB, WRONG_PASSWORDS[1],
                                                                     ALICE))
        self.assertTagged(tagged, "b", "NO", "AUTHENTICATIONFAILED")
        client = r.client_addr
        r.close()
        line = self.access_line(client)
        self.assertEqual((line["user"], line["outcome"]), (BOB, "malformed_credentials"))

    # ---------------------------------------------------------------- failures

    def test_auth_failures_look_identical(self):
        cases = [
            ("wrong password", "LOGIN", ALICE, WRONG_PASSWORDS[0]),
            ("wrong password, spaces", "LOGIN", BOB, WRONG_PASSWORDS[1]),
            ("unknown user, no route", "LOGIN", "nobody@example.com", WRONG_PASSWORDS[0]),
            ("unknown user on a domain-routed pod", "LOGIN", "nobody@example.org", WRONG_PASSWORDS[0]),
            ("wrong password, AUTHENTICATE PLAIN", "PLAIN", ALICE, WRONG_PASSWORDS[0]),
            ("unknown user, AUTHENTICATE PLAIN", "PLAIN", "nobody@example.com", WRONG_PASSWORDS[0]),
        ]
        answers = {}
        for what, mech, user, pw in cases:
            r = self.raw()
            if mech == "LOGIN":
                tagged = self.login(r, user, pw, tag="a")
            else:
                tagged, _ = r.command("a", "AUTHENTICATE PLAIN " + plain_b64(user, pw))
            answers[what] = after_tag(tagged)
            # the session goes on after a failed login
            t2, _ = r.command("b", "NOOP")
            self.assertTagged(t2, "b", "OK")
            r.close()
        for what, ans in answers.items():
            self.assertEqual(ans, AUTH_FAILED, what)

    def test_auth_failures_take_equally_long(self):
        # unknown users (answered by podgate) and wrong passwords (answered by
        # the pod) come no sooner than timeouts.auth_failure_delay_ms
        delay = self.world.AUTH_FAILURE_DELAY_MS / 1000.0
        cases = [("wrong password", ALICE, WRONG_PASSWORDS[0]),
                 ("unknown user, no route", "nobody@example.com", WRONG_PASSWORDS[0]),
                 ("unknown user on the pod", "nobody@example.org", WRONG_PASSWORDS[0]),
                 ("disabled user, wrong password", "carol@example.com", WRONG_PASSWORDS[0])]
        took = {}
        # each from an address of its own: the guard's tarpit grows with the
        # failures of one address, and would tell the cases apart by order
        for i, (what, user, pw) in enumerate(cases):
            r = self.raw(source="127.0.10.%d" % (i + 1))
            t0 = time.time()
            tagged = self.login(r, user, pw, tag="a")
            took[what] = time.time() - t0
            self.assertEqual(after_tag(tagged), AUTH_FAILED, what)
            r.close()
        for what, t in took.items():
            self.assertGreaterEqual(t, delay - 0.05, "%s answered after %.3f s" % (what, t))
        self.assertLess(max(took.values()) - min(took.values()), 0.3, took)

    def test_retry_after_failed_login_in_same_session(self):
        r = self.raw()
        self.assertEqual(after_tag(self.login(r, ALICE, WRONG_PASSWORDS[0], tag="a")), AUTH_FAILED)
        tagged = self.login(r, ALICE, self.pw(ALICE), tag="b")
        self.assertTagged(tagged, "b", "OK")
        self.assertIn(b"pod-1 marker", self.fetch_subject(r))

    def test_protocol_disabled_for_user(self):
        r = self.raw()
        tagged = self.login(r, "carol@example.com", self.pw("carol@example.com"), tag="a")
        self.assertTagged(tagged, "a", "NO", "AUTHORIZATIONFAILED")
        client = r.client_addr
        r.close()
        line = self.access_line(client)
        self.assertEqual(line.get("result"), "disabled")
        self.assertEqual(line.get("user"), "carol@example.com")
        r = self.raw()
        self.assertEqual(after_tag(self.login(r, "carol@example.com", WRONG_PASSWORDS[0], tag="a")),
                         AUTH_FAILED)

    def test_plaintext_auth_before_starttls_refused(self):
        before = len(self.world.pod1.login_lines())
        r = self.raw(mode="plain", source="127.0.0.8")
        tagged = self.login(r, ALICE, self.pw(ALICE), tag="a")
        self.assertTagged(tagged, "a", "NO", "PRIVACYREQUIRED")
        tagged, _ = r.command("b", "AUTHENTICATE PLAIN " + plain_b64(ALICE, self.pw(ALICE)))
        self.assertTagged(tagged, "b", "NO", "PRIVACYREQUIRED")
        tagged, _ = r.command("c", "NOOP")
        self.assertTagged(tagged, "c", "OK")
        client = r.client_addr
        r.close()
        time.sleep(0.3)
        self.assertEqual(len(self.world.pod1.login_lines()), before)
        self.assertNotIn("rip=127.0.0.8", self.world.pod1.log_text())
        line = self.access_line(client)
        self.assertEqual(line.get("result"), "no_login")
        self.assertEqual(line.get("tls"), "none")

    def test_pod_down_answers_unavailable(self):
        r = self.raw()
        t0 = time.time()
        tagged = self.login(r, "dan@example.com", self.pw("dan@example.com"), tag="a")
        self.assertTagged(tagged, "a", "NO", "UNAVAILABLE")
        self.assertLess(time.time() - t0, 5)
        tagged, _ = r.command("b", "NOOP")
        self.assertTagged(tagged, "b", "OK")
        client = r.client_addr
        r.close()
        line = self.access_line(client)
        self.assertEqual(line.get("result"), "unavailable")
        self.assertEqual(line.get("pod"), "pod-dead")

    def test_failover_to_next_server(self):
        mark = self.log_mark()
        im = PodIMAP4_SSL(self.pg.port("imap", "implicit"))
        typ, _ = im.login("frank@example.com", self.pw("frank@example.com"))
        self.assertEqual(typ, "OK")
        self.assertIn("pod-1 marker", imap_subjects(im))
        client = im.client_addr()
        im.logout()
        line = self.access_line(client, since=mark)
        self.assertEqual(line.get("pod"), "pod-fo")
        self.assertEqual(line.get("backend"), self.world.pod1.imap_addr)
        self.assertEqual(line.get("result"), "ok")

    # ---------------------------------------------------------------- client address

    def wait_pod_login(self, pod, user, rip, timeout=3.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for l in pod.login_lines():
                if "user=<%s>" % user in l and "rip=%s," % rip in l:
                    return l
            time.sleep(0.05)
        return None

    def test_pod_sees_client_address_implicit_tls(self):
        im = PodIMAP4_SSL(self.pg.port("imap", "implicit"), source="127.0.0.5")
        im.login(ALICE, self.pw(ALICE))
        port = im.sock.getsockname()[1]
        im.logout()
        line = self.wait_pod_login(self.world.pod1, ALICE, "127.0.0.5")
        self.assertIsNotNone(line, "no pod-1 login with rip=127.0.0.5:\n%s"
                             % "\n".join(self.world.pod1.login_lines()[-5:]))
        self.assertIn("rport=%d," % port, line)

    def test_pod_sees_client_address_starttls(self):
        im = PodIMAP4(self.pg.port("imap", "starttls"), source="127.0.0.6")
        im.starttls_noverify()
        im.login(BOB, self.pw(BOB))
        im.logout()
        self.assertIsNotNone(self.wait_pod_login(self.world.pod2, BOB, "127.0.0.6"))

    def test_client_cannot_spoof_originating_ip(self):
        r = self.raw(source="127.0.0.7")
        tagged, _ = r.command("i", 'ID ("name" "spoofer" "x-originating-ip" "10.66.66.66" '
                                   '"x-originating-port" "6666")')
        self.assertTagged(tagged, "i", "OK")
        self.assertTagged(self.login(r, ALICE, self.pw(ALICE), tag="a"), "a", "OK")
        r.command("z", "LOGOUT")
        self.assertIsNotNone(self.wait_pod_login(self.world.pod1, ALICE, "127.0.0.7"))
        self.assertNotIn("10.66.66.66", self.world.pod1.log_text())

    # ---------------------------------------------------------------- STARTTLS rules

    def test_starttls_command_injection_is_discarded(self):
        r = self.raw(mode="plain", source="127.0.0.9")
        r.send("a STARTTLS\r\nb LOGIN %s %s\r\n" % (ALICE, imap_quote(self.pw(ALICE))))
        tagged, untagged = r.read_response("a")
        self.assertTagged(tagged, "a", "OK")
        self.assertEqual(r.starttls_handshake(), b"", "plaintext after STARTTLS OK")
        tagged, untagged = r.command("c", "NOOP")
        self.assertTagged(tagged, "c", "OK")
        self.assertFalse(any(l.startswith(b"b ") for l in untagged), untagged)
        try:
            stray = r.readline(timeout=0.5)
            self.fail("unexpected line after c OK: %r" % stray)
        except socket.timeout:
            pass
        tls = r.tls_version()
        client = r.client_addr
        r.close()
        time.sleep(0.3)
        # Only this client logs in from 127.0.0.9 (podgate passes the address
        # on with ID): the pod never saw the injected LOGIN.
        self.assertNotIn("rip=127.0.0.9", self.world.pod1.log_text(),
                         "the injected LOGIN reached the pod")
        line = self.access_line(client)
        self.assertEqual(line.get("result"), "no_login")
        self.assertEqual(line.get("tls"), tls)

    def test_starttls_guesses_meet_the_guard(self):
        # The guard as shipped: five wrong passwords for bob from one
        # address reach the pod; the sixth, and the right one, do not.
        source = "127.0.14.1"
        before = self.pod_mismatches(self.world.pod2, BOB, source)
        for i in range(6):
            r = self.raw_starttls(source=source)
            self.assertEqual(after_tag(self.login(r, BOB, "starttls-guess-%d" % i, tag="g")),
                             AUTH_FAILED)
            r.close()
        r = self.raw_starttls(source=source)
        self.assertEqual(after_tag(self.login(r, BOB, self.pw(BOB), tag="g")), AUTH_FAILED)
        r.close()
        time.sleep(0.3)
        self.assertEqual(self.pod_mismatches(self.world.pod2, BOB, source) - before, 5)

    def pod_mismatches(self, pod, user, source):
        return sum(1 for line in pod.log_text().splitlines()
                   if "(%s,%s" % (user, source) in line and "Password mismatch" in line)

    def test_starttls_when_tls_is_already_on(self):
        r = self.raw()  # implicit TLS
        tagged, _ = r.command("a", "STARTTLS")
        self.assertTrue(tagged.startswith(b"a BAD") or tagged.startswith(b"a NO"), tagged)
        tagged, _ = r.command("b", "NOOP")
        self.assertTagged(tagged, "b", "OK")
        r = self.raw_starttls()
        tagged, _ = r.command("a", "STARTTLS")
        self.assertTrue(tagged.startswith(b"a BAD") or tagged.startswith(b"a NO"), tagged)
        self.assertTagged(self.login(r, ALICE, self.pw(ALICE), tag="c"), "c", "OK")

    def test_client_vanishing_mid_login_is_harmless(self):
        for i in range(8):
            r = self.raw()
            if i % 2:
                r.send("a LOGIN %s %s\r\n" % (imap_quote(ALICE), imap_quote(self.pw(ALICE))))
            else:
                r.send("a AUTHENTICATE PLAIN\r\n")
            r.close()
        time.sleep(0.5)
        self.assertTrue(self.pg.alive(), "podgate died")
        r = self.raw()
        self.assertTagged(self.login(r, ALICE, self.pw(ALICE), tag="a"), "a", "OK")

    # ---------------------------------------------------------------- bad input

    def test_bad_commands_then_bye(self):
        r = self.raw()
        bad = ["a1 XYZZY", "a2 LOGIN onlyoneargument", "a3 SELECT INBOX", 'a4 LOGIN "unterminated']
        for i, cmd in enumerate(bad):
            tag = cmd.split()[0]
            tagged, untagged = r.command(tag, cmd.split(" ", 1)[1])
            self.assertTagged(tagged, tag, "BAD")
            self.assertFalse(any(l.startswith(b"* BYE") for l in untagged))
            tagged, _ = r.command("n%d" % i, "NOOP")
            self.assertTagged(tagged, "n%d" % i, "OK")
        r.send("a5 FROBNICATE\r\n")
        tagged, _ = r.read_response("a5")
        self.assertTagged(tagged, "a5", "BAD")
        rest = r.read_until_closed(timeout=3)
        self.assertTrue(rest and rest[0].startswith(b"* BYE"), rest)
        client = r.client_addr
        r.close()
        line = self.access_line(client)
        self.assertEqual(line.get("close_reason"), "too_many_errors")
        self.assertEqual(line.get("result"), "no_login")

    def test_long_but_allowed_line_is_only_bad(self):
        r = self.raw()
        tagged, _ = r.command("a", "XYZZY " + "x" * 7000)
        self.assertTagged(tagged, "a", "BAD")
        tagged, _ = r.command("b", "NOOP")
        self.assertTagged(tagged, "b", "OK")

    def test_line_too_long_bye(self):
        r = self.raw()
        r.send("a LOGIN " + "x" * 9000 + "\r\n")
        lines = r.read_until_closed(timeout=5)
        self.assertTrue(len(lines) >= 2, lines)
        self.assertTrue(lines[0].startswith(b"a BAD") or lines[0].startswith(b"* BAD"), lines)
        self.assertTrue(lines[1].startswith(b"* BYE"), lines)
        client = r.client_addr
        r.close()
        self.assertEqual(self.access_line(client).get("close_reason"), "line_too_long")

    def test_literal_too_large_bye(self):
        for lit in ("{1000000}", "{1000000+}"):
            with self.subTest(literal=lit):
                r = self.raw()
                r.send("a LOGIN %s\r\n" % lit)
                lines = r.read_until_closed(timeout=5)
                self.assertFalse(any(l.startswith(b"+") for l in lines), lines)
                self.assertTrue(len(lines) >= 2 and lines[0].startswith(b"a BAD")
                                and lines[1].startswith(b"* BYE"), lines)
                r.close()

    def test_preauth_logout(self):
        r = self.raw()
        tagged, untagged = r.command("a", "LOGOUT")
        self.assertTagged(tagged, "a", "OK")
        self.assertTrue(any(l.startswith(b"* BYE") for l in untagged), untagged)
        self.assertTrue(r.is_closed(3))
        line = self.access_line(r.client_addr)
        self.assertEqual(line.get("result"), "no_login")
        self.assertEqual(line.get("close_reason"), "logout")

    def test_preauth_id_is_answered(self):
        r = self.raw()
        tagged, untagged = r.command("a", 'ID ("name" "podgate-tests" "version" "1")')
        self.assertTagged(tagged, "a", "OK")
        self.assertTrue(any(l.startswith(b"* ID ") for l in untagged), untagged)
        tagged, untagged = r.command("b", "ID NIL")
        self.assertTagged(tagged, "b", "OK")

    # ---------------------------------------------------------------- access log

    def assert_number(self, v, what):
        self.assertTrue(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0,
                        "%s should be a number >= 0, got %r" % (what, v))

    def test_access_log_successful_session(self):
        r = self.raw()
        self.assertTagged(self.login(r, ALICE, self.pw(ALICE), tag="a"), "a", "OK")
        self.assertIn(b"pod-1 marker", self.fetch_subject(r))
        sent, received, tls, client = r.sent_bytes, r.recv_bytes, r.tls_version(), r.client_addr
        r.close()
        line = self.access_line(client)
        for key in ("session", "protocol", "listener", "client", "user", "pod", "backend", "tls",
                    "result", "close_reason", "bytes_from_client", "bytes_to_client",
                    "phases_ms", "duration_ms"):
            self.assertIn(key, line)
        self.assertTrue(line["session"])
        self.assertEqual(line["protocol"], "imap")
        self.assertIn(str(self.pg.port("imap", "implicit")), str(line["listener"]))
        self.assertEqual(line["client"], client)
        self.assertEqual(line["user"], ALICE)
        self.assertEqual(line["pod"], "pod-1")
        self.assertEqual(line["backend"], self.world.pod1.imap_addr)
        self.assertEqual(line["tls"], tls)
        self.assertEqual(line["result"], "ok")
        self.assertEqual(line["close_reason"], "client_closed")
        self.assert_number(line["bytes_from_client"], "bytes_from_client")
        self.assert_number(line["bytes_to_client"], "bytes_to_client")
        self.assertGreaterEqual(line["bytes_from_client"], sent)
        self.assertGreaterEqual(line["bytes_to_client"], received)
        phases = line["phases_ms"]
        for p in ("tls", "credentials", "directory", "backend_connect", "backend_auth", "total"):
            self.assert_number(phases.get(p), "phases_ms.%s" % p)
            self.assertLessEqual(phases[p], phases["total"] + 1, p)
        self.assert_number(line["duration_ms"], "duration_ms")
        self.assertGreaterEqual(line["duration_ms"] + 1, phases["total"])

    def test_access_log_starttls_session(self):
        r = self.raw_starttls()
        self.assertTagged(self.login(r, BOB, self.pw(BOB), tag="a"), "a", "OK")
        tls, client = r.tls_version(), r.client_addr
        tagged, _ = r.command("z", "LOGOUT")
        r.close()
        line = self.access_line(client)
        self.assertEqual(line.get("tls"), tls)
        self.assertIn(str(self.pg.port("imap", "starttls")), str(line.get("listener")))
        self.assertEqual((line.get("user"), line.get("pod"), line.get("backend"), line.get("result")),
                         (BOB, "pod-2", self.world.pod2.imap_addr, "ok"))

    def test_access_log_failed_logins(self):
        cases = [(ALICE, WRONG_PASSWORDS[0], "auth_failed", "pod-1"),
                 ("nobody@example.com", WRONG_PASSWORDS[0], "auth_failed", None),
                 ("dan@example.com", self.pw("dan@example.com"), "unavailable", "pod-dead")]
        for user, pw, result, pod in cases:
            with self.subTest(user=user):
                r = self.raw()
                self.login(r, user, pw, tag="a")
                client = r.client_addr
                r.close()
                line = self.access_line(client)
                self.assertEqual(line.get("result"), result)
                self.assertEqual(line.get("user"), user)
                if pod is not None:
                    self.assertEqual(line.get("pod"), pod)
                else:
                    self.assertIsNone(line.get("pod"))

    def test_access_log_is_json_lines_with_unique_sessions(self):
        r = self.raw()
        self.login(r, ALICE, self.pw(ALICE))
        r.close()
        self.access_line(r.client_addr)
        lines = self.pg.access_log_lines()
        self.assertEqual([l for l in lines if "_unparsable" in l], [])
        ids = [l.get("session") for l in lines]
        self.assertEqual(len(ids), len(set(ids)), "duplicate session ids")
        for l in lines:
            self.assertEqual(l.get("protocol"), "imap")
            self.assertIn("result", l)
            self.assertIn("close_reason", l)


if __name__ == "__main__":
    unittest.main()
