#!/usr/bin/env python3
"""`podgate --check-config --config FILE`: 0 for a valid config, non-zero and
a message naming the problem for a broken one. No pods needed.

  python3 -m unittest -v tests/integration/test_check_config.py
"""

import json
import os
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import podlib  # noqa: E402


class CheckConfigTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.root = podlib.make_tempdir("pg-cfg-")
        cls.cert, cls.key = podlib.make_cert(cls.root, "ecdsa")
        if not os.access(podlib.podgate_bin(), os.X_OK):
            raise RuntimeError("podgate binary not found: %s (set PODGATE_BIN)" % podlib.podgate_bin())

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def directory(self):
        return {"pods": {"pod-1": {"imap": ["127.0.0.1:20143"]}},
                "users": {"alice@example.com": {"pod": "pod-1"}},
                "domains": {"example.org": {"pod": "pod-1"}}}

    def make(self, name, mutate_config=None, mutate_directory=None, raw_config=None):
        d = podlib.mkdir(os.path.join(self.root, name))
        pg = podlib.Podgate(d, [{"protocol": "imap", "tls": "implicit"},
                                {"protocol": "imap", "tls": "starttls"}],
                            self.directory(), self.cert, self.key)
        if mutate_directory:
            mutate_directory(pg.directory)
        pg.write_config()
        if mutate_config or raw_config is not None:
            if raw_config is not None:
                text = raw_config
            else:
                cfg = pg.config_dict()
                mutate_config(cfg)
                text = json.dumps(cfg, indent=2)
            with open(pg.config_path, "w") as f:
                f.write(text)
        return pg

    def check(self, pg):
        t0 = time.time()
        r = pg.check_config(timeout=10)
        self.assertLess(time.time() - t0, 10)
        # the message belongs on stderr (stdout may be the access log, "-")
        return r.returncode, r.stderr.decode("utf-8", "replace")

    def assertRejected(self, pg, *mentions):
        """Refused with exit status 2 and one error line on stderr that says
        every one of `mentions`: where the problem is and what it is."""
        code, text = self.check(pg)
        if code == 0:
            with open(pg.config_path) as f:
                self.fail("accepted a broken config:\n%s" % f.read())
        self.assertEqual(code, 2, text)
        errors = [line for line in text.splitlines() if " error " in line]
        self.assertEqual(len(errors), 1, "expected one error line: %s" % text)
        for mention in mentions:
            self.assertIn(mention, errors[0], "the message does not say %r" % mention)

    def test_valid_config_accepted(self):
        pg = self.make("valid")
        code, text = self.check(pg)
        self.assertEqual(code, 0, text)

    def test_valid_config_with_all_sections_accepted(self):
        def full(cfg):
            cfg["timeouts"] = {"preauth_seconds": 60, "idle_seconds": 3600,
                               "backend_connect_seconds": 10, "backend_auth_seconds": 30}
            cfg["limits"] = {"max_command_bytes": 8192, "max_invalid_commands": 5}
            cfg["access_log"] = "access.log"
        code, text = self.check(self.make("full", full))
        self.assertEqual(code, 0, text)

    def test_invalid_json(self):
        pg = self.make("badjson", raw_config='{"listeners": [ {"protocol": "imap", ')
        self.assertRejected(pg, pg.config_path, "is not valid JSON")

    def test_unknown_protocol(self):
        def f(cfg):
            cfg["listeners"][0]["protocol"] = "imap5"
        self.assertRejected(self.make("proto", f), 'listeners[0]: unknown protocol "imap5"')

    def test_unknown_tls_mode(self):
        def f(cfg):
            cfg["listeners"][1]["tls"] = "sometimes"
        self.assertRejected(self.make("tlsmode", f),
                            'listeners[1]: "tls" must be "implicit" or "starttls", got "sometimes"')

    def test_unknown_mechanism(self):
        def f(cfg):
            cfg["listeners"][0]["mechanisms"] = ["PLAIN", "XOAUTH"]
        self.assertRejected(self.make("mechanism", f),
                            'listeners[0]: unknown mechanism "XOAUTH" in "mechanisms" '
                            '(known: PLAIN, LOGIN)')

    def test_bad_listen_address(self):
        def f(cfg):
            cfg["listeners"][0]["listen"] = "127.0.0.1:99999"
        self.assertRejected(self.make("listen", f),
                            'listeners[0]: "listen" must be "ip:port", got "127.0.0.1:99999"')

    def test_no_listeners(self):
        def f(cfg):
            cfg["listeners"] = []
        self.assertRejected(self.make("nolisteners", f), '"listeners" must be a non-empty list')

    def test_missing_certificate_file(self):
        def f(cfg):
            cfg["tls"]["certificate"] = "no-such-cert.pem"
        pg = self.make("nocert", f)
        self.assertRejected(pg, "cannot load certificate %s" % os.path.join(pg.workdir,
                                                                            "no-such-cert.pem"),
                            "No such file or directory")

    def test_missing_directory_file(self):
        def f(cfg):
            cfg["directory"]["file"] = "no-such-directory.json"
        pg = self.make("nodir", f)
        self.assertRejected(pg, "cannot open directory file %s"
                            % os.path.join(pg.workdir, "no-such-directory.json"))

    def test_negative_timeout(self):
        def f(cfg):
            cfg["timeouts"] = {"preauth_seconds": -5}
        self.assertRejected(self.make("negtimeout", f),
                            'timeouts: "preauth_seconds" must be a whole number of at least 1')

    def test_directory_user_on_unknown_pod(self):
        def d(directory):
            directory["users"]["bob@example.com"] = {"pod": "pod-9"}
        self.assertRejected(self.make("unknownpod", mutate_directory=d),
                            'users entry "bob@example.com" points to unknown pod "pod-9"')

    def test_start_with_broken_config_fails_fast(self):
        def f(cfg):
            cfg["tls"]["certificate"] = "no-such-cert.pem"
        pg = self.make("startbroken", f)
        t0 = time.time()
        r = subprocess.run([pg.binary, "--config", pg.config_path], cwd="/",
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=10)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("no-such-cert.pem", r.stderr.decode("utf-8", "replace"))
        self.assertLess(time.time() - t0, 10)


if __name__ == "__main__":
    unittest.main()
