#!/usr/bin/env python3
"""TLS from podgate to the pods (directory "backend_tls": "implicit"):
logins reach a real Dovecot over its IMAPS port, the pod's certificate is
checked against tls.backend_ca (chain and IP address), and a pod whose
certificate does not verify is treated as unavailable.

  python3 -m unittest -v tests/integration/test_backend_tls.py
"""

import imaplib
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import podlib  # noqa: E402

ALICE, BOB = "alice@example.com", "bob@example.com"


class BackendTlsTest(podlib.NoSecretsMixin, podlib.WorldTestCase):
    world_kwargs = {"start_podgate": False, "pod_tls": True}

    @classmethod
    def set_up_more(cls):
        world = cls.world
        # a certificate the pods do not have: a CA that trusts none of them
        cls.stranger_cert, _ = podlib.make_cert(world.root, name="stranger")
        directory = world.directory()
        for name, pod in (("pod-1", world.pod1), ("pod-2", world.pod2)):
            directory["pods"][name] = {"imap": ["127.0.0.1:%d" % pod.imaps_port],
                                       "backend_tls": "implicit"}
        cls.directory = directory
        cls.pg = world.new_podgate("podgate-verified", cls.tls_config(world.cert),
                                   directory=directory)
        world.podgate = cls.pg

    @classmethod
    def tls_config(cls, backend_ca=None):
        tls = {"certificate": cls.world.cert, "private_key": cls.world.key}
        if backend_ca:
            tls["backend_ca"] = backend_ca
        return {"tls": tls}

    def login_subjects(self, pg, user):
        im = podlib.PodIMAP4_SSL(pg.port("imap", "implicit"))
        im.login(user, self.world.passwords[user])
        try:
            return podlib.imap_subjects(im)
        finally:
            im.logout()

    def test_logins_reach_the_pod_over_verified_tls(self):
        mark = self.log_mark()
        self.assertIn("pod-1 marker", self.login_subjects(self.pg, ALICE))
        self.assertIn("pod-2 marker", self.login_subjects(self.pg, BOB))
        deadline = time.time() + 5  # lines are written as the sessions close
        while len(self.pg.access_log_lines()) < mark + 2 and time.time() < deadline:
            time.sleep(0.05)
        lines = self.pg.access_log_lines()[mark:]
        self.assertEqual([l["result"] for l in lines], ["ok", "ok"])
        for line in lines:
            self.assertTrue(line["backend_tls"].startswith("TLSv1."), line)
        # Dovecot saw TLS on these logins, not a plaintext loopback session
        logins = [l for l in self.world.pod1.login_lines() if "user=<%s>" % ALICE in l]
        self.assertTrue(logins and "TLS" in logins[-1], logins[-1:])

    def test_a_pod_certificate_that_does_not_verify_means_unavailable(self):
        pg = self.world.new_podgate("podgate-stranger-ca", self.tls_config(self.stranger_cert),
                                    directory=self.directory)
        im = podlib.PodIMAP4_SSL(pg.port("imap", "implicit"))
        try:
            with self.assertRaises(imaplib.IMAP4.error) as refused:
                im.login(ALICE, self.world.passwords[ALICE])
            self.assertIn("UNAVAILABLE", str(refused.exception))
        finally:
            im.shutdown()
        self.assertIn("tls_failed", pg.stderr_text())

    def test_without_a_ca_the_link_is_encrypted_but_not_verified(self):
        pg = self.world.new_podgate("podgate-no-ca", self.tls_config(None),
                                    directory=self.directory)
        self.assertIn("pod-1 marker", self.login_subjects(pg, ALICE))


if __name__ == "__main__":
    unittest.main()
