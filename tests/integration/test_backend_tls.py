#!/usr/bin/env python3
"""TLS from podgate to the pods (directory "backend_tls": "implicit"):
logins reach a real Dovecot over its IMAPS and POP3S ports and a real
Postfix over its implicit-TLS submission port; the pod's certificate is
checked against tls.backend_ca (chain and IP address); a pod whose
certificate does not verify, or that speaks no TLS, is unreachable and the
pod's next server is tried; tls.backend_ca is read again on SIGHUP; and
podgate-directory probes such servers inside TLS, so lookups through it
name them.

  python3 -m unittest -v tests/integration/test_backend_tls.py
"""

import imaplib
import os
import shutil
import signal
import smtplib
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import directorylib  # noqa: E402
import podlib  # noqa: E402
from adminlib import AdminClient  # noqa: E402
from test_pop3 import Pop3Client  # noqa: E402

ALICE, BOB = "alice@example.com", "bob@example.com"
LISTENERS = [{"protocol": "imap", "tls": "implicit"}, {"protocol": "pop3", "tls": "implicit"},
             {"protocol": "smtp", "tls": "implicit"}]


def wait_until(condition, timeout=5.0, what="condition"):
    deadline = time.time() + timeout
    while not condition():
        if time.time() > deadline:
            raise AssertionError("timed out waiting for %s" % what)
        time.sleep(0.05)


class BackendTlsTest(podlib.NoSecretsMixin, podlib.WorldTestCase):
    world_kwargs = {"start_podgate": False, "pod_tls": True, "pop3": True, "smtp": True}

    @classmethod
    def set_up_more(cls):
        world = cls.world
        # a certificate the pods do not have: a CA that trusts none of them
        cls.stranger_cert, _ = podlib.make_cert(world.root, name="stranger")
        # the pods' own certificate, but for another address
        cls.elsewhere_cert, cls.elsewhere_key = podlib.make_cert(
            world.root, name="elsewhere", san="IP:127.0.0.9")
        cls.directory = cls.tls_directory()
        cls.pg = world.new_podgate("podgate-verified", cls.tls_config(world.cert),
                                   directory=cls.directory, listeners=LISTENERS)
        world.podgate = cls.pg

    @classmethod
    def tls_directory(cls):
        world = cls.world
        directory = world.directory()
        for name, pod, postfix in (("pod-1", world.pod1, world.postfix1),
                                   ("pod-2", world.pod2, world.postfix2)):
            directory["pods"][name] = {"imap": ["127.0.0.1:%d" % pod.imaps_port],
                                       "pop3": ["127.0.0.1:%d" % pod.pop3s_port],
                                       "smtp": [postfix.smtps_addr],
                                       "backend_tls": "implicit"}
        # a first server that speaks no TLS (Dovecot's plaintext port), then the TLS one
        directory["pods"]["pod-fo"] = {
            "imap": [world.pod1.imap_addr, "127.0.0.1:%d" % world.pod1.imaps_port],
            "backend_tls": "implicit"}
        return directory

    @classmethod
    def tls_config(cls, backend_ca=None, more=None):
        tls = {"certificate": cls.world.cert, "private_key": cls.world.key}
        if backend_ca:
            tls["backend_ca"] = backend_ca
        config = {"tls": tls}
        config.update(more or {})
        return config

    def login_subjects(self, pg, user):
        im = podlib.PodIMAP4_SSL(pg.port("imap", "implicit"))
        im.login(user, self.world.passwords[user])
        try:
            return podlib.imap_subjects(im)
        finally:
            im.logout()

    def new_lines(self, pg, mark, count):
        deadline = time.time() + 5  # lines are written as the sessions close
        while len(pg.access_log_lines()) < mark + count and time.time() < deadline:
            time.sleep(0.05)
        return pg.access_log_lines()[mark:]

    def assertLoginUnavailable(self, pg):
        """An IMAPS login through `pg` is refused as UNAVAILABLE, and the
        pod's TLS handshake is what failed."""
        im = podlib.PodIMAP4_SSL(pg.port("imap", "implicit"))
        try:
            with self.assertRaises(imaplib.IMAP4.error) as refused:
                im.login(ALICE, self.world.passwords[ALICE])
            self.assertIn("UNAVAILABLE", str(refused.exception))
        finally:
            im.shutdown()
        self.assertIn("tls_failed", pg.stderr_text())

    def test_logins_reach_the_pod_over_verified_tls(self):
        mark = self.log_mark()
        self.assertIn("pod-1 marker", self.login_subjects(self.pg, ALICE))
        self.assertIn("pod-2 marker", self.login_subjects(self.pg, BOB))
        lines = self.new_lines(self.pg, mark, 2)
        self.assertEqual([l["result"] for l in lines], ["ok", "ok"])
        for line in lines:
            self.assertTrue(line["backend_tls"].startswith("TLSv1."), line)
        # Dovecot saw TLS on these logins, not a plaintext loopback session
        logins = [l for l in self.world.pod1.login_lines() if "user=<%s>" % ALICE in l]
        self.assertTrue(logins and "TLS" in logins[-1], logins[-1:])

    def test_pop3_reaches_the_pod_over_verified_tls(self):
        mark = self.log_mark()
        client = Pop3Client(self.pg.port("pop3", "implicit"))
        client.command("USER %s" % ALICE)
        self.assertTrue(client.command("PASS %s" % self.world.passwords[ALICE]).startswith(b"+OK"))
        self.assertTrue(client.command("STAT").startswith(b"+OK 1 "))
        self.assertTrue(client.command("QUIT").startswith(b"+OK"))
        client.sock.close()
        line = self.new_lines(self.pg, mark, 1)[0]
        self.assertEqual(line["result"], "ok")
        self.assertTrue(line["backend_tls"].startswith("TLSv1."), line)
        logins = [l for l in self.world.pod1.log_text().splitlines()
                  if "pop3-login" in l and "user=<%s>" % ALICE in l and "Login:" in l]
        self.assertTrue(logins and "TLS" in logins[-1], logins[-1:])

    def test_smtp_reaches_postfix_over_verified_tls(self):
        mark = self.log_mark()
        subject = "over tls %f" % time.time()
        with smtplib.SMTP_SSL("127.0.0.1", self.pg.port("smtp", "implicit"),
                              context=podlib.client_tls_context(), timeout=10) as s:
            s.login(BOB, self.world.passwords[BOB])
            s.sendmail(BOB, [BOB], podlib.make_message(subject, to=BOB, sender=BOB))
        line = self.new_lines(self.pg, mark, 1)[0]
        self.assertEqual(line["result"], "ok")
        self.assertTrue(line["backend_tls"].startswith("TLSv1."), line)
        self.assertIsNotNone(self.world.postfix2.wait_log(r"sasl_username=%s" % BOB))
        self.assertIn("TLS connection established",
                      self.world.postfix2.log_text())
        self.assertIsNotNone(podlib.wait_subject(self.world.pod2, BOB, self.world.passwords[BOB],
                                                 subject))

    def test_a_pod_certificate_that_does_not_verify_means_unavailable(self):
        pg = self.world.new_podgate("podgate-stranger-ca", self.tls_config(self.stranger_cert),
                                    directory=self.directory, listeners=LISTENERS)
        self.assertLoginUnavailable(pg)

    def test_a_certificate_for_another_address_means_unavailable(self):
        # The pods present a certificate that chains (it is its own CA) but
        # names 127.0.0.9: the IP check refuses it; without it, it would pass.
        root = podlib.mkdir(os.path.join(self.world.root, "elsewhere-pod"))
        pod = podlib.DovecotPod("elsewh", root, self.world.passwords, marker="elsewhere marker",
                                tls_cert=self.elsewhere_cert, tls_key=self.elsewhere_key).start()
        self.world.pods["elsewhere"] = pod
        directory = self.tls_directory()
        directory["pods"]["pod-1"] = {"imap": ["127.0.0.1:%d" % pod.imaps_port],
                                      "backend_tls": "implicit"}
        pg = self.world.new_podgate("podgate-elsewhere", self.tls_config(self.elsewhere_cert),
                                    directory=directory, listeners=LISTENERS)
        self.assertLoginUnavailable(pg)
        # The certificate is its own CA, so its chain verifies: the address
        # is what refused it. Unverified, the same pod takes the login.
        unverified = self.world.new_podgate("podgate-elsewhere-noca", self.tls_config(None),
                                            directory=directory, listeners=LISTENERS)
        self.assertIn("elsewhere marker", self.login_subjects(unverified, ALICE))

    def test_a_server_that_fails_the_handshake_passes_the_login_to_the_next(self):
        admin = AdminClient(self.world.new_podgate(
            "podgate-next", self.tls_config(self.world.cert,
                                            {"admin": {"listen": "127.0.0.1:%d"
                                                       % podlib.free_port()}}),
            directory=self.directory, listeners=LISTENERS))
        pg = self.world.extra_podgates[-1]
        # frank lives on pod-fo: first Dovecot's plaintext port, then its IMAPS
        self.assertIn("pod-1 marker", self.login_subjects(pg, "frank@example.com"))
        line = pg.wait_access_log_where(lambda o: o.get("user") == "frank@example.com")[0]
        self.assertEqual(line["backend"], "127.0.0.1:%d" % self.world.pod1.imaps_port, line)
        self.assertTrue(line["backend_tls"].startswith("TLSv1."), line)
        self.assertEqual(admin.metrics().get(
            'podgate_backend_connect_failures_total{pod="pod-fo"}'), 1)
        self.assertIn("closed during login (tls_failed", pg.stderr_text())

    def test_backend_ca_is_read_again_on_sighup(self):
        pg = self.world.new_podgate("podgate-reload-ca", self.tls_config(self.stranger_cert),
                                    directory=self.directory, listeners=LISTENERS)
        im = podlib.PodIMAP4_SSL(pg.port("imap", "implicit"))
        with self.assertRaises(imaplib.IMAP4.error):
            im.login(ALICE, self.world.passwords[ALICE])
        im.shutdown()
        # The operator puts the right CA in the file the config names.
        ca_path = os.path.join(pg.workdir, "backend-ca.pem")
        shutil.copyfile(self.stranger_cert, ca_path)
        config = pg.config_dict()
        config["tls"]["backend_ca"] = ca_path
        pg.extra_config["tls"] = config["tls"]
        pg.write_config()
        reloaded = pg.stderr_text().count("reloaded configuration")
        pg.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: pg.stderr_text().count("reloaded configuration") > reloaded,
                   what="the reload")
        im = podlib.PodIMAP4_SSL(pg.port("imap", "implicit"))
        with self.assertRaises(imaplib.IMAP4.error):  # still the stranger
            im.login(ALICE, self.world.passwords[ALICE])
        im.shutdown()
        shutil.copyfile(self.world.cert, ca_path)
        pg.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: pg.stderr_text().count("reloaded configuration") > reloaded + 1,
                   what="the second reload")
        self.assertIn("pod-1 marker", self.login_subjects(pg, ALICE))

    def test_without_a_ca_the_link_is_encrypted_but_not_verified(self):
        pg = self.world.new_podgate("podgate-no-ca", self.tls_config(None),
                                    directory=self.directory, listeners=LISTENERS)
        self.assertIn("pod-1 marker", self.login_subjects(pg, ALICE))

    def test_podgate_directory_probes_tls_servers_inside_tls(self):
        # podgate-directory with the TLS ports of both pods: probes succeed
        # (a handshake, then the greeting), and lookups name the servers.
        svc = directorylib.DirectoryService(
            os.path.join(self.world.root, "directory-tls"), self.tls_directory(),
            probe_interval_ms=200, probe_timeout_ms=1000)
        svc.start()
        self.addCleanup(svc.stop)
        for protocol, port in (("imap", self.world.pod1.imaps_port),
                               ("pop3", self.world.pod1.pop3s_port)):
            server = "127.0.0.1:%d" % port
            # The first probe has happened once the plaintext port is down.
            wait_until(lambda: svc.metric("podgate_directory_server_up", pod="pod-fo",
                                          protocol="imap", server=self.world.pod1.imap_addr) == 0,
                       what="the first probes")
            time.sleep(0.5)  # several probes: up stays up
            self.assertEqual(svc.metric("podgate_directory_server_up", pod="pod-1",
                                        protocol=protocol, server=server), 1)
            status, body = svc.lookup(ALICE, protocol)
            self.assertEqual(status, 200, body)
            self.assertEqual((body["servers"], body.get("error"), body["backend_tls"]),
                             ([server], None, "implicit"))
        for server in ("127.0.0.1:%d" % self.world.pod1.imaps_port,
                       "127.0.0.1:%d" % self.world.pod1.pop3s_port,
                       self.world.postfix1.smtps_addr):
            self.assertNotIn("server %s (pod pod-1) is down" % server, svc.stderr_text())
        # Dovecot's plaintext port, in a pod that says TLS: down (no TLS there)
        plain = self.world.pod1.imap_addr
        wait_until(lambda: svc.metric("podgate_directory_server_up", pod="pod-fo",
                                      protocol="imap", server=plain) == 0,
                   what="the plaintext port marked down")
        # And podgate, asking this podgate-directory, logs in over TLS.
        pg = self.world.new_podgate(
            "podgate-remote-tls", self.tls_config(self.world.cert,
                                                  {"directory": {"url": [svc.url]}}),
            listeners=LISTENERS)
        self.assertIn("pod-1 marker", self.login_subjects(pg, ALICE))
        client = Pop3Client(pg.port("pop3", "implicit"))
        client.command("USER %s" % ALICE)
        self.assertTrue(client.command("PASS %s" % self.world.passwords[ALICE]).startswith(b"+OK"))
        client.sock.close()


if __name__ == "__main__":
    unittest.main()
