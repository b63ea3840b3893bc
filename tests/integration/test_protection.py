#!/usr/bin/env python3
"""Brute force and password spray against real Dovecot pods: what the pods
still see, who stays locked out, and who still gets in.

podgate here answers failures at once (auth_failure_delay_ms 0, a tarpit of
a few ms) and locks quickly (PROTECTION below). Every attack comes from its
own loopback address, so the tests do not lock each other out.

  python3 -m unittest -v tests/integration/test_protection.py
"""

import os
import re
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import podlib  # noqa: E402
from adminlib import AdminClient  # noqa: E402

PROTECTION = {
    "tarpit_after_failures": 3, "tarpit_step_ms": 1, "tarpit_max_ms": 5,
    "user_address_failures": 5, "user_failures": 10, "address_failures": 20,
    "password_spray_users": 50, "lockout_seconds": 4,
}


LISTENERS = [{"protocol": "imap", "tls": "implicit"},
             {"protocol": "imap", "tls": "starttls"},
             {"protocol": "pop3", "tls": "implicit"}]


class ProtectionTest(podlib.NoSecretsMixin, podlib.WorldTestCase):
    world_kwargs = {"start_podgate": False, "pop3": True}
    # the attackers' guesses must not reach a log either
    extra_secrets = ["guess-000", "guess-199", "pop-guess-00", "Spring2026!", "botnet-00",
                     "old-Pw-from-2025", "gone-00", "gone-29", "crowd-00", "crowd-19",
                     "Winter2026!"]

    @classmethod
    def set_up_more(cls):
        extra = {"protection": PROTECTION, "timeouts": {"auth_failure_delay_ms": 0},
                 "admin": {"listen": "127.0.0.1:%d" % podlib.free_port()}}
        cls.pg = cls.world.podgate = cls.world.new_podgate("podgate", extra, listeners=LISTENERS)
        cls.admin = AdminClient(cls.pg)

    # -- helpers ----------------------------------------------------------

    def attempt(self, user, password, source):
        """One LOGIN on a fresh connection; the tagged answer."""
        r = self.raw(source=source)
        try:
            return self.login(r, user, password)
        finally:
            r.close()

    def pop3_attempt(self, user, password, source):
        """USER and PASS over POP3S on a fresh connection; the PASS answer."""
        raw = podlib.connect(self.pg.port("pop3", "implicit"), source=source)
        sock = podlib.client_tls_context().wrap_socket(raw, server_hostname="127.0.0.1")
        try:
            lines = sock.makefile("rb")
            lines.readline()  # greeting
            sock.sendall(("USER %s\r\n" % user).encode())
            lines.readline()
            sock.sendall(("PASS %s\r\n" % password).encode())
            return lines.readline().rstrip(b"\r\n")
        finally:
            sock.close()

    def pod_mismatches(self, pod, user):
        """Wrong passwords the pod itself checked for `user` (Dovecot logs
        each one with auth_verbose)."""
        pattern = re.compile(r"\(%s,[^)]*\): (Password mismatch|unknown user)" % re.escape(user))
        return sum(1 for line in pod.log_text().splitlines() if pattern.search(line))

    def wait_for(self, predicate, timeout=5.0):
        deadline = time.time() + timeout
        while not predicate():
            if time.time() > deadline:
                return False
            time.sleep(0.05)
        return True

    def records_from(self, source, mark, count, prefix=False):
        """The `count` access-log lines of sessions from `source` (with
        prefix: from addresses that start with it) written after `mark`."""
        def records():
            start = source if prefix else source + ":"
            return [o for o in self.pg.access_log_lines()[mark:]
                    if o.get("client", "").startswith(start)]
        self.assertTrue(self.wait_for(lambda: len(records()) >= count))
        return records()

    def lockouts(self, kind):
        return self.admin.metrics().get('podgate_protection_lockouts_total{kind="%s"}' % kind, 0)

    def abandon(self, user, password, source, wait=0.05):
        """A guesser that gives up on every login not won at once: sends the
        LOGIN, waits `wait` seconds for an OK, and closes."""
        r = podlib.RawIMAP(self.pg.port("imap", "implicit"), source=source)
        try:
            r.send("a LOGIN %s %s\r\n" % (user, podlib.imap_quote(password)))
            try:
                return r.readline(timeout=wait)
            except socket.timeout:
                return None
        finally:
            r.close()

    def settled(self):
        """Every login the guard let through has had its verdict."""
        return self.wait_for(
            lambda: self.admin.metrics().get("podgate_protection_in_flight", -1) == 0, timeout=10)

    # -- the tests --------------------------------------------------------

    def test_200_guesses_from_one_address_reach_the_pod_at_most_5_times(self):
        user = "dave@example.com"  # pod-1
        before = self.pod_mismatches(self.world.pod1, user)
        mark = self.log_mark()
        for i in range(200):
            tagged = self.attempt(user, "guess-%03d" % i, "127.0.0.2")
            self.assertTagged(tagged, "L", "NO", "AUTHENTICATIONFAILED")
        self.assertEqual(self.pod_mismatches(self.world.pod1, user) - before, 5)
        records = self.records_from("127.0.0.2", mark, 200)
        self.assertEqual([o for o in records if o.get("user") != user], [])
        self.assertEqual(sum(1 for o in records if o.get("lockout") == "user_address"), 195)
        self.assertTrue(all(o["result"] == "auth_failed" for o in records))
        self.assertIn("lockout start: user_address dave@example.com from 127.0.0.2 after 5 failed",
                      self.pg.stderr_text())
        self.assertGreaterEqual(self.lockouts("user_address"), 1)

        # The owner, elsewhere, is not locked out ...
        r = self.raw(source="127.0.0.3")
        self.assertTagged(self.login(r, user, self.world.passwords[user]), "L", "OK")
        r.close()
        # ... while the attacker's address is, even with the right password,
        self.assertTagged(self.attempt(user, self.world.passwords[user], "127.0.0.2"),
                          "L", "NO", "AUTHENTICATIONFAILED")
        # until the lockout ends (logged), when the count starts over.
        self.assertTrue(self.wait_for(
            lambda: "lockout end: user_address dave@example.com from 127.0.0.2"
            in self.pg.stderr_text(), timeout=PROTECTION["lockout_seconds"] + 3))
        self.assertTagged(self.attempt(user, self.world.passwords[user], "127.0.0.2"), "L", "OK")

    def test_spray_of_100_users_with_one_password_is_cut_off_early(self):
        real_users = ["bob@example.com", "grace@example.com", "erin@example.org"]
        users = ["sprayed%02d@example.com" % i for i in range(97)] + real_users
        before = {u: self.pod_mismatches(self.world.pod2, u) for u in real_users}
        mark = self.log_mark()
        for user in users:
            tagged = self.attempt(user, "Spring2026!", "127.0.0.4")
            self.assertTagged(tagged, "L", "NO", "AUTHENTICATIONFAILED")
        records = self.records_from("127.0.0.4", mark, 100)
        answered = [o for o in records if not o.get("lockout")]
        self.assertEqual(len(answered), PROTECTION["address_failures"])
        self.assertEqual(sum(1 for o in records if o.get("lockout") == "address"),
                         100 - PROTECTION["address_failures"])
        # The real users came last: the pod never saw the spray.
        after = {u: self.pod_mismatches(self.world.pod2, u) for u in real_users}
        self.assertEqual(before, after)
        self.assertIn("lockout start: address 127.0.0.4 after 20 failed", self.pg.stderr_text())
        # Another address is not affected.
        r = self.raw(source="127.0.0.5")
        self.assertTagged(self.login(r, "bob@example.com", self.world.passwords["bob@example.com"]),
                          "L", "OK")
        r.close()

    def test_a_user_attacked_from_many_addresses_still_gets_in_where_known(self):
        user = "grace@example.com"  # pod-2
        password = self.world.passwords[user]
        # The owner logs in from home before the attack.
        self.assertTagged(self.attempt(user, password, "127.0.1.200"), "L", "OK")
        before = self.pod_mismatches(self.world.pod2, user)
        for i in range(30):  # one guess from each of 30 addresses
            self.assertTagged(self.attempt(user, "botnet-%02d" % i, "127.0.1.%d" % (i + 1)),
                              "L", "NO", "AUTHENTICATIONFAILED")
        self.assertEqual(self.pod_mismatches(self.world.pod2, user) - before,
                         PROTECTION["user_failures"])
        self.assertIn("lockout start: user grace@example.com after 10 failed",
                      self.pg.stderr_text())
        # The right password from a new address is refused like a wrong one ...
        mark = self.log_mark()
        self.assertTagged(self.attempt(user, password, "127.0.1.201"),
                          "L", "NO", "AUTHENTICATIONFAILED")
        self.assertEqual(self.records_from("127.0.1.201", mark, 1)[0]["lockout"], "user")
        # ... and from home it still works.
        self.assertTagged(self.attempt(user, password, "127.0.1.200"), "L", "OK")

    def test_a_repeated_wrong_password_is_counted_once(self):
        user = "erin@example.org"  # a phone with an old password, retrying
        before = self.pod_mismatches(self.world.pod2, user)
        for _ in range(12):
            self.assertTagged(self.attempt(user, "old-Pw-from-2025", "127.0.2.1"),
                              "L", "NO", "AUTHENTICATIONFAILED")
        # Every retry reached the pod (none was refused by a lockout) ...
        self.assertEqual(self.pod_mismatches(self.world.pod2, user) - before, 12)
        # ... and the right password still gets in from there.
        mark = self.log_mark()
        self.assertTagged(self.attempt(user, self.world.passwords[user], "127.0.2.1"), "L", "OK")
        self.assertEqual(self.records_from("127.0.2.1", mark, 1)[0].get("lockout"), None)

    def test_pop3_guesses_are_counted_and_refused_alike(self):
        user = "alice@example.com"  # pod-1
        before = self.pod_mismatches(self.world.pod1, user)
        for i in range(12):
            answer = self.pop3_attempt(user, "pop-guess-%02d" % i, "127.0.4.1")
            self.assertTrue(answer.startswith(b"-ERR [AUTH]"), answer)
        self.assertEqual(self.pod_mismatches(self.world.pod1, user) - before,
                         PROTECTION["user_address_failures"])
        self.assertIn("lockout start: user_address alice@example.com from 127.0.4.1",
                      self.pg.stderr_text())
        # The guard is shared by the protocols: IMAP from there is locked too.
        self.assertTagged(self.attempt(user, self.world.passwords[user], "127.0.4.1"),
                          "L", "NO", "AUTHENTICATIONFAILED")

    def test_guessers_that_give_up_before_the_verdict_are_still_counted(self):
        user = "frank@example.com"  # pod-fo: a refusing server, then pod-1
        before = self.pod_mismatches(self.world.pod1, user)
        mark = self.log_mark()
        answers = [self.abandon(user, "gone-%02d" % i, "127.0.5.1") for i in range(30)]
        self.assertFalse(any(a and a.startswith(b"a OK") for a in answers), answers)
        self.assertTrue(self.settled(), "logins still in flight")
        # The pod checked exactly as many guesses as the threshold allows ...
        self.assertEqual(self.pod_mismatches(self.world.pod1, user) - before,
                         PROTECTION["user_address_failures"])
        # ... each abandoned login ran to its verdict, which the guard counted.
        records = self.records_from("127.0.5.1", mark, 30)
        self.assertEqual(sum(1 for o in records if o.get("outcome") == "wrong_password"),
                         PROTECTION["user_address_failures"])
        self.assertTrue(all(o["close_reason"] == "client_closed" for o in records), records)
        self.assertIn("lockout start: user_address frank@example.com from 127.0.5.1",
                      self.pg.stderr_text())
        self.assertTagged(self.attempt(user, self.world.passwords[user], "127.0.5.1"),
                          "L", "NO", "AUTHENTICATIONFAILED")

    def test_twenty_guessers_at_once_get_no_more_guesses_than_the_threshold(self):
        user = "carol@example.com"  # pod-1
        before = self.pod_mismatches(self.world.pod1, user)
        mark = self.log_mark()
        # Twenty connections, all through TLS first, then twenty guesses at
        # once, each closed as soon as it is sent.
        clients = [podlib.RawIMAP(self.pg.port("imap", "implicit"), source="127.0.5.2")
                   for _ in range(20)]
        go = threading.Barrier(len(clients))

        def guess(i):
            go.wait()
            clients[i].send("a LOGIN %s crowd-%02d\r\n" % (user, i))
            clients[i].close()

        threads = [threading.Thread(target=guess, args=(i,)) for i in range(len(clients))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
            self.assertFalse(t.is_alive(), "a guesser hung")
        self.assertTrue(self.settled(), "logins still in flight")
        self.assertEqual(self.pod_mismatches(self.world.pod1, user) - before,
                         PROTECTION["user_address_failures"])
        records = self.records_from("127.0.5.2", mark, 20)
        self.assertEqual(sum(1 for o in records if o.get("outcome") == "wrong_password"),
                         PROTECTION["user_address_failures"])
        self.assertEqual(sum(1 for o in records if o.get("outcome") == "locked_out"),
                         20 - PROTECTION["user_address_failures"])

    def test_one_password_tried_against_many_users_from_many_addresses_is_locked(self):
        # A botnet: every address tries one user, all with the same password.
        mark = self.log_mark()
        limit = PROTECTION["password_spray_users"]
        for i in range(limit + 5):
            tagged = self.attempt("sprayed%03d@example.net" % i, "Winter2026!",
                                  "127.0.6.%d" % (i + 1))
            self.assertTagged(tagged, "L", "NO", "AUTHENTICATIONFAILED")
        self.assertIn("lockout start: password password #", self.pg.stderr_text())
        self.assertGreaterEqual(self.lockouts("password"), 1)
        # The real user with that password (erin lives on pod-2 via the domain
        # route) is refused before the pod hears of it.
        user = "erin@example.org"
        before = self.pod_mismatches(self.world.pod2, user)
        self.assertTagged(self.attempt(user, "Winter2026!", "127.0.6.200"),
                          "L", "NO", "AUTHENTICATIONFAILED")
        self.assertEqual(self.pod_mismatches(self.world.pod2, user), before)
        records = self.records_from("127.0.6.", mark, limit + 6, prefix=True)
        self.assertEqual([o["lockout"] for o in records[limit:]], ["password"] * 6)
        self.assertEqual(self.admin.metrics().get(
            'podgate_protection_refused_total{kind="password"}', 0), 6)
        # Its own password still works from a new address.
        self.assertTagged(self.attempt(user, self.world.passwords[user], "127.0.6.201"), "L", "OK")

    def test_tracker_size_is_reported(self):
        self.attempt("nobody@example.com", "x-Pw-1", "127.0.3.1")
        metrics = self.admin.metrics()
        self.assertGreaterEqual(metrics.get('podgate_protection_entries{table="address"}', 0), 1)
        self.assertIn("podgate_protection_active_lockouts", metrics)


if __name__ == "__main__":
    unittest.main()
