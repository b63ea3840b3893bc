#!/usr/bin/env python3
"""Tenant policies of the directory against real Dovecot pods and Postfix:
a domain with "basic_auth": false has its users' passwords refused (IMAP,
POP3, SMTP) with the ordinary failure answer, before any pod sees them and
without the guard counting them; other domains log in as before; a domain's
"pop3": false applies to the users listed in it too.

  python3 -m unittest -v tests/integration/test_tenant_policy.py
"""

import os
import poplib
import smtplib
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import podlib  # noqa: E402
from adminlib import AdminClient  # noqa: E402
from podlib import plain_b64  # noqa: E402

ALICE = "alice@example.com"  # listed; example.com has POP3 off
BOB = "bob@example.com"      # listed; IMAP and SMTP as usual
ERIN = "erin@example.org"    # routed by domain; example.org allows no passwords
GRACE = "grace@example.com"  # listed with "basic_auth": false herself
LISTENERS = [{"protocol": "imap", "tls": "implicit"}, {"protocol": "pop3", "tls": "implicit"},
             {"protocol": "smtp", "tls": "implicit"}]


class TenantPolicyTest(podlib.NoSecretsMixin, podlib.WorldTestCase):

    @classmethod
    def setUpClass(cls):
        cls.world = podlib.ImapWorld(start_podgate=False, pop3=True, smtp=True)
        try:
            directory = cls.world.directory()
            directory["domains"]["example.org"] = {"pod": "pod-2", "basic_auth": False}
            directory["domains"]["example.com"] = {"pod": "pod-1", "pop3": False}
            directory["users"][GRACE] = {"pod": "pod-2", "basic_auth": False}
            extra = {"admin": {"listen": "127.0.0.1:%d" % podlib.free_port()}}
            cls.world.podgate = cls.world.new_podgate("podgate", extra, directory=directory,
                                                      listeners=LISTENERS)
            cls.pg = cls.world.podgate
            cls.admin = AdminClient(cls.pg)
        except Exception:
            cls.world.stop()
            raise

    def pw(self, user):
        return self.world.passwords[user]

    def pod_logs(self):
        """What every pod and Postfix logged so far, one text each."""
        world = self.world
        return [pod.log_text() for pod in (world.pod1, world.pod2, world.postfix1, world.postfix2)]

    def assertNotInPodLogs(self, text, since):
        for before, now in zip(since, self.pod_logs()):
            self.assertNotIn(text, now[len(before):])

    def policy_lines(self, mark, protocol, user):
        return [line for line in self.pg.access_log_lines()[mark:]
                if line.get("user") == user and line.get("protocol") == protocol]

    def policy_refusals(self, protocol):
        return self.admin.metrics().get(
            'podgate_logins_total{protocol="%s",result="policy"}' % protocol, 0)

    def assertRefusedByPolicy(self, mark, protocol, count=1, user=ERIN):
        deadline = time.time() + 5
        lines = self.policy_lines(mark, protocol, user)
        while len(lines) < count and time.time() < deadline:
            time.sleep(0.05)
            lines = self.policy_lines(mark, protocol, user)
        self.assertEqual(len(lines), count, lines)
        for line in lines:
            self.assertEqual((line["result"], line["outcome"]), ("policy", "basic_auth_off"),
                             line)
            self.assertIsNone(line["backend"], line)  # no pod server was asked

    def test_imap_passwords_of_a_modern_only_domain_never_reach_the_pod(self):
        mark, pod_logs = self.log_mark(), self.pod_logs()
        counted = self.policy_refusals("imap")
        r = self.raw()
        tagged = self.login(r, ERIN, self.pw(ERIN))
        self.assertTagged(tagged, "L", "NO", "AUTHENTICATIONFAILED")
        r.close()
        r = self.raw()
        tagged, _ = r.command("A", "AUTHENTICATE PLAIN " + plain_b64(ERIN, self.pw(ERIN)))
        self.assertTagged(tagged, "A", "NO", "AUTHENTICATIONFAILED")
        r.close()
        self.assertRefusedByPolicy(mark, "imap", count=2)  # a line per session
        self.assertNotInPodLogs(ERIN, pod_logs)
        self.assertEqual(self.policy_refusals("imap") - counted, 2)

    def test_a_user_of_her_own_without_basic_auth_is_refused_alike(self):
        mark, pod_logs = self.log_mark(), self.pod_logs()
        r = self.raw()
        self.assertTagged(self.login(r, GRACE, self.pw(GRACE)), "L", "NO", "AUTHENTICATIONFAILED")
        r.close()
        self.assertRefusedByPolicy(mark, "imap", user=GRACE)
        self.assertNotInPodLogs(GRACE, pod_logs)

    def test_policy_refusals_count_towards_max_auth_attempts(self):
        r = self.raw()
        for i in range(2):
            self.assertTagged(self.login(r, ERIN, self.pw(ERIN), tag="L%d" % i), "L%d" % i, "NO",
                              "AUTHENTICATIONFAILED")
        self.assertTagged(self.login(r, ERIN, self.pw(ERIN), tag="L2"), "L2", "NO")
        self.assertTrue(r.is_closed(3))
        self.assertTrue(any(line.startswith(b"* BYE") for line in r.closing_lines),
                        r.closing_lines)

    def test_pop3_and_smtp_passwords_are_refused_alike(self):
        mark, pod_logs = self.log_mark(), self.pod_logs()
        context = podlib.client_tls_context()
        pop = poplib.POP3_SSL("127.0.0.1", self.pg.port("pop3"), context=context, timeout=30)
        self.addCleanup(pop.close)
        pop.user(ERIN)
        with self.assertRaises(poplib.error_proto) as refused:
            pop.pass_(self.pw(ERIN))
        self.assertTrue(refused.exception.args[0].startswith(b"-ERR [AUTH]"), refused.exception)
        pop.quit()
        smtp = smtplib.SMTP_SSL("127.0.0.1", self.pg.port("smtp"), context=context, timeout=30)
        self.addCleanup(smtp.close)
        with self.assertRaises(smtplib.SMTPAuthenticationError) as refused:
            smtp.login(ERIN, self.pw(ERIN))
        self.assertEqual(refused.exception.smtp_code, 535)
        smtp.quit()
        self.assertRefusedByPolicy(mark, "pop3")
        self.assertRefusedByPolicy(mark, "smtp")
        self.assertNotInPodLogs(ERIN, pod_logs)

    def test_the_guard_does_not_count_what_nobody_checked(self):
        # Past the threshold for one user from one address (5): no lockout,
        # and still the policy's answer, not the guard's.
        mark = self.log_mark()
        for i in range(8):
            r = self.raw(source="127.0.9.1")
            self.assertTagged(self.login(r, ERIN, "guess-%d" % i), "L", "NO",
                              "AUTHENTICATIONFAILED")
            r.close()
        self.assertRefusedByPolicy(mark, "imap", count=8)
        self.assertNotIn("lockout start: user_address %s" % ERIN, self.pg.stderr_text())

    def test_other_domains_log_in_as_before(self):
        r = self.raw()
        self.assertTagged(self.login(r, BOB, self.pw(BOB)), "L", "OK")
        r.close()
        smtp = smtplib.SMTP_SSL("127.0.0.1", self.pg.port("smtp"),
                                context=podlib.client_tls_context(), timeout=30)
        self.addCleanup(smtp.close)
        self.assertEqual(smtp.login(BOB, self.pw(BOB))[0], 235)

    def test_a_domain_without_pop3_turns_it_off_for_its_listed_users(self):
        pop = poplib.POP3_SSL("127.0.0.1", self.pg.port("pop3"),
                              context=podlib.client_tls_context(), timeout=30)
        self.addCleanup(pop.close)
        pop.user(ALICE)
        with self.assertRaises(poplib.error_proto) as refused:
            pop.pass_(self.pw(ALICE))
        self.assertIn(b"disabled", refused.exception.args[0])
        # IMAP is not off for the domain: the listed user still logs in.
        r = self.raw()
        self.assertTagged(self.login(r, ALICE, self.pw(ALICE)), "L", "OK")
        r.close()


if __name__ == "__main__":
    unittest.main()
