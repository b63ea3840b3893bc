#!/usr/bin/env python3
"""SIGHUP and SIGTERM against real Dovecot pods.

SIGHUP reloads the configuration and the certificate without dropping a
session; a broken config or a missing certificate leaves podgate running on
the old ones. SIGTERM closes the listeners and the sessions still before
login at once, and lets logged-in sessions finish within
timeouts.drain_seconds; a second SIGTERM, or the end of the window, closes
what is left.

  python3 -m unittest -v tests/integration/test_reload_drain.py
"""

import json
import os
import shutil
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import podlib  # noqa: E402
from adminlib import http_call  # noqa: E402

ALICE = "alice@example.com"
RELOADED = "reloaded configuration and certificate from"


def wait_until(condition, timeout=5.0, what="condition"):
    deadline = time.time() + timeout
    while not condition():
        if time.time() > deadline:
            raise AssertionError("timed out waiting for %s" % what)
        time.sleep(0.05)


class ReloadDrainTest(podlib.NoSecretsMixin, podlib.WorldTestCase):

    @classmethod
    def setUpClass(cls):
        cls.world = podlib.ImapWorld(start_podgate=False)
        try:
            # the one the secrets check reads; each test gets its own podgate
            cls.world.podgate = cls.world.new_podgate("podgate")
            cls.pg = cls.world.podgate
        except Exception:
            cls.world.stop()
            raise

    # -- helpers ------------------------------------------------------------

    def podgate(self, name, extra=None):
        # The drain window as shipped (30 s), unless a test sets its own:
        # these tests are about it.
        extra = dict(extra or {})
        extra["timeouts"] = dict(extra.get("timeouts", {}))
        extra["timeouts"].setdefault("drain_seconds", 30)
        return self.world.new_podgate(name, extra)

    def logged_in(self, pg):
        r = self.raw(pg=pg)
        self.assertTagged(self.login(r, ALICE, self.world.passwords[ALICE], tag="a"), "a", "OK")
        return r

    def still_works(self, r, tag):
        tagged, untagged = r.command(tag, "SELECT INBOX")
        self.assertTagged(tagged, tag, "OK")
        tagged, untagged = r.command(tag + "f", "FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        self.assertTagged(tagged, tag + "f", "OK")
        self.assertIn(b"pod-1 marker", b"\n".join(untagged))

    def sighup(self, pg, expect):
        """SIGHUP, then wait until stderr shows `expect` once more."""
        before = pg.stderr_text().count(expect)
        pg.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: pg.stderr_text().count(expect) > before, what=repr(expect))

    def write_config(self, pg, config):
        with open(pg.config_path, "w") as f:
            if isinstance(config, str):
                f.write(config)
            else:
                json.dump(config, f, indent=2)

    def peer_cert(self, r):
        return r.sock.getpeercert(binary_form=True)

    def refused(self, port):
        try:
            podlib.connect(port, timeout=1).close()
            return False
        except ConnectionRefusedError:
            return True

    # -- SIGHUP ---------------------------------------------------------------

    def test_sighup_new_certificate_keeps_sessions_and_serves_it_to_new_ones(self):
        pg = self.podgate("pg-cert")
        old = self.logged_in(pg)
        self.assertEqual(self.peer_cert(old), podlib.cert_der(pg.cert))
        new_dir = podlib.mkdir(os.path.join(pg.workdir, "new"))
        new_cert, new_key = podlib.make_cert(new_dir, "rsa")
        # pg.cert and pg.key are the files the config names
        shutil.copyfile(new_cert, pg.cert)
        shutil.copyfile(new_key, pg.key)
        self.sighup(pg, RELOADED)
        self.still_works(old, "b")
        tagged, _ = old.command("n", "NOOP")
        self.assertTagged(tagged, "n", "OK")
        fresh = self.logged_in(pg)
        self.assertEqual(self.peer_cert(fresh), podlib.cert_der(new_cert))
        self.assertNotEqual(podlib.cert_der(new_cert), self.peer_cert(old))
        self.still_works(fresh, "c")

    def test_sighup_shorter_preauth_timeout_applies_to_new_connections(self):
        pg = self.podgate("pg-timeout")
        before = self.raw(pg=pg)  # accepted under preauth_seconds 60
        config = pg.config_dict()
        config["timeouts"]["preauth_seconds"] = 1
        self.write_config(pg, config)
        self.sighup(pg, RELOADED)
        after = self.raw(pg=pg)
        t0 = time.time()
        self.assertTrue(after.is_closed(4), "the new pre-auth timeout did not apply")
        self.assertLess(time.time() - t0, 3)
        self.assertTrue(any(l.startswith(b"* BYE") for l in after.closing_lines),
                        after.closing_lines)
        self.assertEqual(self.access_line(after.client_addr, pg=pg)["close_reason"],
                         "preauth_timeout")
        # the session accepted before keeps the deadline it started with
        self.assertFalse(before.is_closed(0.2))
        self.assertTagged(self.login(before, ALICE, self.world.passwords[ALICE]), "L", "OK")

    def test_sighup_with_a_broken_config_or_certificate_keeps_the_old_ones(self):
        pg = self.podgate("pg-broken")
        good_cert = podlib.cert_der(pg.cert)
        old = self.logged_in(pg)
        # not JSON at all
        self.write_config(pg, '{"listeners": [')
        self.sighup(pg, "reload failed")
        self.assertIn("is not valid JSON", pg.stderr_text())
        self.still_works(old, "b")
        fresh = self.logged_in(pg)
        self.assertEqual(self.peer_cert(fresh), good_cert)
        # valid JSON, but the certificate it names is not there
        config = pg.config_dict()
        config["tls"]["certificate"] = "missing-cert.pem"
        self.write_config(pg, config)
        self.sighup(pg, "reload failed")
        self.assertIn("cannot load certificate %s" % os.path.join(pg.workdir, "missing-cert.pem"),
                      pg.stderr_text())
        self.assertNotIn(RELOADED, pg.stderr_text())
        self.still_works(old, "c")
        self.still_works(fresh, "d")
        newest = self.logged_in(pg)
        self.assertEqual(self.peer_cert(newest), good_cert)
        self.assertTrue(pg.alive())
        pg.write_config()
        self.sighup(pg, RELOADED)

    def test_sighup_names_listener_changes_that_need_a_restart(self):
        pg = self.podgate("pg-listeners")
        config = pg.config_dict()
        moved_port = podlib.free_port()
        config["listeners"][1]["listen"] = "127.0.0.1:%d" % moved_port
        self.write_config(pg, config)
        self.sighup(pg, RELOADED)
        self.assertIn("reload: listeners changed", pg.stderr_text())
        self.assertIn("takes a restart", pg.stderr_text())
        # still listening where it was
        self.logged_in(pg)
        self.assertTrue(self.refused(moved_port))

    # -- SIGTERM --------------------------------------------------------------

    def test_sigterm_lets_a_logged_in_session_finish_then_exits(self):
        admin = "127.0.0.1:%d" % podlib.free_port()
        pg = self.podgate("pg-drain", {"workers": 2, "admin": {"listen": admin}})
        logged = self.logged_in(pg)
        waiting = self.raw(pg=pg)
        t0 = time.time()
        pg.proc.send_signal(signal.SIGTERM)
        # the session before login gets its goodbye at once
        self.assertTrue(waiting.is_closed(2))
        self.assertTrue(any(l.startswith(b"* BYE") for l in waiting.closing_lines),
                        waiting.closing_lines)
        # no new connections
        wait_until(lambda: self.refused(pg.port()), timeout=1, what="listener closed")
        self.assertLess(time.time() - t0, 2)
        wait_until(lambda: "draining 1 logged-in sessions" in pg.stderr_text(),
                   what="the drain log line")
        # the logged-in session goes on, and the admin API still answers
        self.still_works(logged, "b")
        status, text = http_call("GET", "http://%s/healthz" % admin)
        self.assertEqual((status, json.loads(text)["status"]), (200, "stopping"), text)
        status, text = http_call("GET", "http://%s/v1/sessions" % admin)
        self.assertEqual(status, 200, text)
        sessions = json.loads(text)["sessions"]
        self.assertEqual([s["user"] for s in sessions if s["logged_in"]], [ALICE])
        self.assertTrue(pg.alive())
        tagged, _ = logged.command("o", "LOGOUT")
        self.assertTagged(tagged, "o", "OK")
        # the last session is gone: podgate exits long before the 30 s window
        code = pg.proc.wait(10)
        self.assertEqual(code, 0)
        self.assertLess(time.time() - t0, 10)
        self.assertEqual(self.access_line(waiting.client_addr, pg=pg)["close_reason"], "shutdown")
        line = self.access_line(logged.client_addr, pg=pg)
        self.assertEqual(line["result"], "ok")
        self.assertNotEqual(line["close_reason"], "shutdown")

    def test_sigterm_closes_sessions_still_open_when_the_drain_window_ends(self):
        pg = self.podgate("pg-window", {"timeouts": {"drain_seconds": 2}})
        logged = self.logged_in(pg)
        t0 = time.time()
        pg.proc.send_signal(signal.SIGTERM)
        self.still_works(logged, "b")
        self.assertTrue(logged.is_closed(5))
        code = pg.proc.wait(5)
        elapsed = time.time() - t0
        self.assertEqual(code, 0)
        self.assertGreater(elapsed, 1.8)
        self.assertLess(elapsed, 5)
        line = self.access_line(logged.client_addr, pg=pg)
        self.assertEqual((line["result"], line["close_reason"]), ("ok", "shutdown"))
        self.assertIn("drain window over", pg.stderr_text())

    def test_sigterm_lets_a_login_under_way_get_its_answer(self):
        pg = self.podgate("pg-inflight", {"timeouts": {"auth_failure_delay_ms": 1500}})
        r = self.raw(pg=pg)
        r.send("w LOGIN %s wrong-Pw-0f0f0\r\n" % ALICE)
        time.sleep(0.3)  # the pod said no; the answer waits out its delay
        pg.proc.send_signal(signal.SIGTERM)
        lines = r.read_until_closed(timeout=5)
        self.assertTrue(lines and lines[0].startswith(b"w NO [AUTHENTICATIONFAILED]"), lines)
        self.assertTrue(lines[-1].startswith(b"* BYE"), lines)
        self.assertEqual(pg.proc.wait(5), 0)
        line = self.access_line(r.client_addr, pg=pg)
        self.assertEqual((line["result"], line["close_reason"]), ("auth_failed", "shutdown"))

    def test_a_second_sigterm_closes_everything_at_once(self):
        pg = self.podgate("pg-twice", {"workers": 2})
        logged = self.logged_in(pg)
        pg.proc.send_signal(signal.SIGTERM)
        wait_until(lambda: "draining 1 logged-in sessions" in pg.stderr_text(),
                   what="the drain log line")
        t0 = time.time()
        pg.proc.send_signal(signal.SIGTERM)
        self.assertTrue(logged.is_closed(3))
        self.assertEqual(pg.proc.wait(5), 0)
        self.assertLess(time.time() - t0, 3)
        line = self.access_line(logged.client_addr, pg=pg)
        self.assertEqual(line["close_reason"], "shutdown")

    def test_drain_seconds_0_closes_everything_at_once(self):
        pg = self.podgate("pg-at-once", {"timeouts": {"drain_seconds": 0}})
        logged = self.logged_in(pg)
        t0 = time.time()
        pg.proc.send_signal(signal.SIGTERM)
        self.assertTrue(logged.is_closed(3))
        self.assertEqual(pg.proc.wait(5), 0)
        self.assertLess(time.time() - t0, 3)
        self.assertEqual(self.access_line(logged.client_addr, pg=pg)["close_reason"], "shutdown")


if __name__ == "__main__":
    unittest.main()
