#!/usr/bin/env python3
"""What a pod's answer to podgate's login means (the table in README.md,
"What the pod's answer means"), against real pods that say something other
than "wrong password":

  LOGINDISABLED   a Dovecot that refuses plaintext logins from podgate (it
                  listens on 127.0.0.2, so podgate's 127.0.0.1 is not local,
                  and disable_plaintext_auth = yes): podgate sends it no
                  LOGIN (IMAP) and no USER/PASS (POP3)
  NO [LIMIT]      a Dovecot with mail_max_userip_connections = 1 and a
                  second session of the same user from the same address
  535 mechanism   a Postfix whose Dovecot SASL offers only LOGIN, asked for
                  PLAIN: "535 5.7.8 ... Invalid authentication mechanism"
  endless reply   scripted pods whose answer never ends (an SMTP multi-line
                  reply, IMAP untagged lines): a pod fault, not a buffer

None of them may lock a user out: the guard (on, as by default) counts
nothing, limits.max_auth_attempts counts nothing, the client gets the
"unavailable" answer, and podgate_backend_login_faults_total{pod} counts
them. Once the pod is right again, the same user from the same address
logs in.

  python3 -m unittest -v tests/integration/test_pod_answers.py
"""

import os
import signal
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import podlib  # noqa: E402
from adminlib import AdminClient  # noqa: E402
from scripted_pods import ScriptedPod  # noqa: E402
from test_pop3 import Pop3Client  # noqa: E402

# alice and bob stay where ImapWorld puts them (the secrets check logs them in).
CAROL, DAVE, FRANK, GRACE = ("carol@example.com", "dave@example.com", "frank@example.com",
                             "grace@example.com")
ATTEMPTS = 12  # well past user_address_failures (5) and max_auth_attempts (3)
LISTENERS = [{"protocol": "imap", "tls": "implicit"}, {"protocol": "pop3", "tls": "implicit"},
             {"protocol": "smtp", "tls": "implicit"}]


def endless_smtp_pod():
    """Greets, then answers EHLO with a multi-line reply that never ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)

    def serve(conn):
        try:
            conn.sendall(b"220 endless ESMTP\r\n")
            conn.recv(4096)  # EHLO
            while True:
                conn.sendall(b"250-X-ENDLESS-EXTENSION-LINE\r\n" * 100)
        except OSError:
            pass
        finally:
            conn.close()

    def accept():
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return sock, "127.0.0.1:%d" % sock.getsockname()[1]


def chatty_imap_pod():
    """Greets with SASL-IR AUTH=PLAIN, then answers the login with untagged
    lines that never end."""
    def answer(line):
        if b"AUTHENTICATE" in line:
            return b"* OK still thinking\r\n" * 20000
        return b""
    return ScriptedPod(b"* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] chatty\r\n", answer)


class PodAnswersTest(podlib.NoSecretsMixin, podlib.WorldTestCase):
    world_kwargs = {"start_podgate": False, "pop3": True}

    @classmethod
    def set_up_more(cls):
        world = cls.world
        pw = world.passwords
        # Refuses plaintext logins from podgate: 127.0.0.1 -> 127.0.0.2 is not
        # "local" to Dovecot, and no network is trusted.
        cls.strict = podlib.DovecotPod(
            "strict", os.path.join(world.root, "strict"), pw, host="127.0.0.2",
            protocols={"imap": podlib.free_port(), "pop3": podlib.free_port()},
            extra_conf="disable_plaintext_auth = yes\nlogin_trusted_networks =\n").start()
        # One session per user and address.
        cls.limited = podlib.DovecotPod(
            "limited", os.path.join(world.root, "limited"), pw,
            extra_conf="protocol imap {\n  mail_max_userip_connections = 1\n}\n").start()
        # SASL offers LOGIN only; the directory asks podgate for PLAIN.
        cls.login_only = podlib.DovecotPod(
            "loginonly", os.path.join(world.root, "loginonly"), pw, auth_port=True,
            lmtp_port=True, extra_conf="auth_mechanisms = login\n").start()
        cls.login_only_smtp = podlib.PostfixPod("loginonly", os.path.join(world.root, "lo-smtp"),
                                                cls.login_only).start()
        world.pods.update({"strict": cls.strict, "limited": cls.limited,
                           "loginonly": cls.login_only})
        cls.endless_sock, endless_addr = endless_smtp_pod()
        cls.chatty = chatty_imap_pod()
        directory = world.directory()
        directory["pods"].update({
            "pod-strict": {"imap": [cls.strict.imap_addr], "pop3": [cls.strict.pop3_addr]},
            "pod-limited": {"imap": [cls.limited.imap_addr]},
            "pod-login-only": {"smtp": [cls.login_only_smtp.addr]},
            "pod-endless": {"smtp": [endless_addr], "imap": [cls.chatty.addr]},
        })
        directory["users"].update({
            CAROL: {"pod": "pod-strict"}, FRANK: {"pod": "pod-limited"},
            DAVE: {"pod": "pod-login-only"}, GRACE: {"pod": "pod-endless"}})
        cls.directory = directory
        # The guard as it ships (on, default thresholds); no answer delay, so
        # that many attempts stay quick.
        extra = {"timeouts": {"auth_failure_delay_ms": 0, "backend_auth_seconds": 10},
                 "admin": {"listen": "127.0.0.1:%d" % podlib.free_port()}}
        cls.pg = world.podgate = world.new_podgate("podgate", extra, directory=directory,
                                                   listeners=LISTENERS)
        config = cls.pg.config_dict()
        assert "protection" not in config or config["protection"].get("enabled", True)
        cls.admin = AdminClient(cls.pg)

    @classmethod
    def tearDownClass(cls):
        for closable in ("chatty", "endless_sock"):
            if getattr(cls, closable, None) is not None:
                getattr(cls, closable).close()
        if getattr(cls, "login_only_smtp", None) is not None:
            cls.login_only_smtp.stop()
        super().tearDownClass()

    # -- helpers ----------------------------------------------------------

    def faults(self, pod):
        return self.admin.metrics().get('podgate_backend_login_faults_total{pod="%s"}' % pod, 0)

    def refused_by_guard(self):
        metrics = self.admin.metrics()
        return sum(v for k, v in metrics.items() if k.startswith("podgate_protection_refused_total"))

    def imap_login(self, user, source, r=None, tag="L"):
        r = r or self.raw(source=source)
        return r, self.login(r, user, self.world.passwords[user], tag=tag)

    def smtps_auth_plain(self, user, source):
        """An SMTPS client from `source` that has sent EHLO and then AUTH PLAIN
        with `user`'s password: the socket and its reader, at the answer."""
        s = podlib.connect(self.pg.port("smtp", "implicit"), source=source)
        s = podlib.client_tls_context().wrap_socket(s, server_hostname="127.0.0.1")
        f = s.makefile("rb")
        f.readline()
        s.sendall(b"EHLO client.example.net\r\n")
        while f.readline()[3:4] != b" ":
            pass
        s.sendall(("AUTH PLAIN %s\r\n" % podlib.plain_b64(user, self.world.passwords[user]))
                  .encode())
        return s, f

    def move(self, user, pod):
        """Points `user` at `pod` in the embedded directory (SIGHUP)."""
        self.directory["users"][user] = {"pod": pod}
        self.pg.directory = self.directory
        self.pg.write_config()
        before = self.pg.stderr_text().count("directory reloaded")
        self.pg.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 5
        while self.pg.stderr_text().count("directory reloaded") == before:
            self.assertLess(time.time(), deadline, "no directory reload")
            time.sleep(0.05)

    def assertNoLockout(self, user):
        self.assertNotIn("lockout start: user_address %s" % user, self.pg.stderr_text())
        self.assertNotIn("lockout start: user %s" % user, self.pg.stderr_text())

    # -- the tests --------------------------------------------------------

    def test_a_pod_that_says_logindisabled_gets_no_login_and_locks_nobody_out(self):
        source = "127.0.8.1"
        faults = self.faults("pod-strict")
        for i in range(ATTEMPTS):
            r, tagged = self.imap_login(CAROL, source)
            self.assertTagged(tagged, "L", "NO", "UNAVAILABLE")
            r.close()
        # On one connection: more refusals than max_auth_attempts, and it
        # stays open (a pod fault is not the client's fault).
        r = self.raw(source=source)
        for i in range(4):
            self.assertTagged(self.imap_login(CAROL, source, r, tag="m%d" % i)[1],
                              "m%d" % i, "NO", "UNAVAILABLE")
        self.assertTagged(r.command("n", "NOOP")[0], "n", "OK")
        r.close()
        self.assertEqual(self.faults("pod-strict") - faults, ATTEMPTS + 4)
        self.assertIn("LOGINDISABLED", self.pg.stderr_text())
        # Dovecot never saw a login attempt for carol.
        self.assertNotIn("user=<%s>" % CAROL, self.strict.log_text())
        self.assertNoLockout(CAROL)
        # Fixed (carol moves to a pod that takes her): in at once, same address.
        self.move(CAROL, "pod-1")
        try:
            r, tagged = self.imap_login(CAROL, source)
            self.assertTagged(tagged, "L", "OK")
        finally:
            self.move(CAROL, "pod-strict")

    def test_a_pop3_pod_that_offers_no_plaintext_login_gets_no_user_and_pass(self):
        source = "127.0.8.2"
        faults = self.faults("pod-strict")
        for i in range(ATTEMPTS):
            client = Pop3Client(self.pg.port("pop3", "implicit"), source=source)
            client.command("USER %s" % CAROL)
            answer = client.command("PASS %s" % self.world.passwords[CAROL])
            self.assertTrue(answer.startswith(b"-ERR [SYS/TEMP]"), answer)
            client.sock.close()
        self.assertEqual(self.faults("pod-strict") - faults, ATTEMPTS)
        self.assertIn("pod offers neither USER nor SASL PLAIN", self.pg.stderr_text())
        self.assertNotIn("user=<%s>" % CAROL, self.strict.log_text())
        self.assertNoLockout(CAROL)

    def test_no_limit_from_the_pod_is_not_a_wrong_password(self):
        source = "127.0.8.3"
        holder, tagged = self.imap_login(FRANK, source)  # the one session Dovecot allows
        self.assertTagged(tagged, "L", "OK")
        faults = self.faults("pod-limited")
        refused = self.refused_by_guard()
        for i in range(ATTEMPTS):
            r, tagged = self.imap_login(FRANK, source)
            self.assertTagged(tagged, "L", "NO", "UNAVAILABLE")
            r.close()
        self.assertEqual(self.faults("pod-limited") - faults, ATTEMPTS)
        self.assertEqual(self.refused_by_guard(), refused)
        self.assertIn("[LIMIT]", self.limited.log_text() + self.pg.stderr_text())
        self.assertNoLockout(FRANK)
        holder.command("z", "LOGOUT")
        holder.close()
        time.sleep(0.3)  # Dovecot's anvil forgets the session
        r, tagged = self.imap_login(FRANK, source)
        self.assertTagged(tagged, "L", "OK")

    def test_535_for_a_mechanism_the_pod_does_not_offer_is_not_a_wrong_password(self):
        source = "127.0.8.4"
        faults = self.faults("pod-login-only")
        mark = len(self.login_only_smtp.log_text())
        for i in range(ATTEMPTS):
            s, f = self.smtps_auth_plain(DAVE, source)
            answer = f.readline()
            self.assertTrue(answer.startswith(b"454 4.7.0"), answer)
            s.close()
        self.assertEqual(self.faults("pod-login-only") - faults, ATTEMPTS)
        self.assertIn("pod does not offer AUTH PLAIN", self.pg.stderr_text())
        # podgate asked Postfix for nothing it does not offer.
        self.assertNotIn("authentication failed", self.login_only_smtp.log_text()[mark:])
        self.assertNoLockout(DAVE)

    def test_an_smtp_reply_that_never_ends_is_a_pod_fault_at_once(self):
        faults = self.faults("pod-endless")
        t0 = time.time()
        s, f = self.smtps_auth_plain(GRACE, "127.0.8.5")
        s.settimeout(5)
        answer = f.readline()
        elapsed = time.time() - t0
        s.close()
        self.assertTrue(answer.startswith(b"454 4.7.0"), answer)
        # Long before backend_auth_seconds (10): the bound, not the clock, ended it.
        self.assertLess(elapsed, 5)
        self.assertEqual(self.faults("pod-endless") - faults, 1)
        self.assertRegex(self.pg.stderr_text(),
                         r"pod pod-endless server \S+: pod sent (more than 64 KB before its "
                         r"login answer|something that is not an SMTP reply)")

    def test_imap_untagged_lines_that_never_end_are_a_pod_fault_at_once(self):
        t0 = time.time()
        r, tagged = self.imap_login(GRACE, "127.0.8.6")
        self.assertTagged(tagged, "L", "NO", "UNAVAILABLE")
        self.assertLess(time.time() - t0, 5)
        self.assertIn("KB before its login answer", self.pg.stderr_text())


if __name__ == "__main__":
    unittest.main()
