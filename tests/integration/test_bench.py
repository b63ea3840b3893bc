#!/usr/bin/env python3
"""podgate-bench against real Dovecot pods, real Postfix submission servers
and a real podgate: IMAP over implicit TLS and STARTTLS, POP3, SMTP, IMAP
straight to a pod without TLS, refusals by kind (wrong password, refused
port, silent server, unverifiable certificate), the open loop's pace and its
late starts, relay throughput with a 1 MB FETCH, session resumption, the SVG
plot, and --hold keeping logged-in sessions that podgate's admin API lists.

  python3 -m unittest -v tests/integration/test_bench.py
"""

import json
import os
import select
import signal
import subprocess
import sys
import time
import unittest
import xml.etree.ElementTree as ElementTree

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import adminlib  # noqa: E402
import podlib  # noqa: E402

ALICE = "alice@example.com"  # pod-1
BOB = "bob@example.com"      # pod-2
GRACE = "grace@example.com"  # pod-2; her INBOX holds only the 1 MB message here
PHASES = ["connect", "tls", "greeting", "auth", "command", "logout", "total"]
LISTENERS = [{"protocol": "imap", "tls": "implicit"},
             {"protocol": "imap", "tls": "starttls"},
             {"protocol": "pop3", "tls": "implicit"},
             {"protocol": "smtp", "tls": "starttls"}]


def read_line(proc, timeout):
    """One line of a running process's unbuffered stdout, or what came
    before `timeout` seconds passed or the output ended."""
    deadline = time.time() + timeout
    fd = proc.stdout.fileno()
    line = b""
    while not line.endswith(b"\n"):
        left = deadline - time.time()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        byte = os.read(fd, 1)  # one at a time: the next line stays in the pipe
        if not byte:
            break
        line += byte
    return line


class BenchTest(podlib.NoSecretsMixin, podlib.WorldTestCase):
    world_kwargs = {"start_podgate": False, "pop3": True, "smtp": True}

    @classmethod
    def set_up_more(cls):
        cls.world.podgate = cls.world.new_podgate(
            "podgate", {"admin": {"listen": "127.0.0.1:%d" % podlib.free_port()}},
            listeners=LISTENERS)
        cls.pg = cls.world.podgate
        cls.admin = adminlib.AdminClient(cls.pg)
        cls.big = podlib.make_big_message(1024 * 1024, subject="bench fetch")
        pod2 = cls.world.pod2
        r = pod2.doveadm("expunge", "-u", GRACE, "mailbox", "INBOX", "all")
        if r.returncode != 0:
            raise RuntimeError("doveadm expunge: %s" % r.stderr.decode(errors="replace"))
        pod2.deliver(GRACE, cls.big)

    # -- running the tool ---------------------------------------------------

    def bench(self, *args, user=ALICE, password=None, expect_status=0, timeout=60):
        """Runs podgate-bench with --json; returns (report, seconds)."""
        if password is None:
            password = self.world.passwords[user]
        command = [podlib.podgate_bench_bin(), "--json", "--users", user,
                   "--password", password] + [str(a) for a in args]
        started = time.time()
        r = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
        seconds = time.time() - started
        stderr = r.stderr.decode(errors="replace")
        detail = "%s\nexit %d\nstdout: %s\nstderr: %s" % (
            " ".join(command), r.returncode, r.stdout.decode(errors="replace"), stderr)
        self.assertNotIn("Sanitizer", stderr, detail)
        self.assertNotIn("runtime error:", stderr, detail)
        self.assertEqual(r.returncode, expect_status, detail)
        return json.loads(r.stdout), seconds

    def assertAllOk(self, report, logins, tls=True, command=True):
        self.assertEqual(report["logins"], logins, report)
        self.assertEqual(report["ok"], logins, report)
        self.assertEqual(report["errors"], {}, report)
        expected = [p for p in PHASES if (tls or p != "tls") and (command or p != "command")]
        if report["rate"] > 0:
            expected.append("queue")  # open loop: the wait past each login's due time
        self.assertEqual(sorted(report["phases"]), sorted(expected), report)
        for name, phase in report["phases"].items():
            self.assertEqual(phase["count"], logins, name)
            self.assertTrue(0 <= phase["p50"] <= phase["p90"] <= phase["p99"] <= phase["p999"]
                            <= phase["max"], (name, phase))
        total = report["phases"]["total"]
        self.assertGreaterEqual(total["max"], report["phases"]["auth"]["max"])
        self.assertGreater(report["logins_per_second"], 0)

    # -- logins through podgate and straight to a pod -------------------------

    def test_imap_implicit_tls_through_podgate(self):
        port = self.pg.port("imap", "implicit")
        report, _ = self.bench("--port", port, "--logins", 40, "--concurrency", 4)
        self.assertAllOk(report, 40)
        self.assertEqual(report["target"], "127.0.0.1:%d" % port)
        self.assertEqual((report["protocol"], report["tls"]), ("imap", "implicit"))
        self.assertEqual((report["concurrency"], report["rate"], report["late"]), (4, 0, 0))
        self.assertNotIn("resumed", report)
        # SELECT INBOX answers came back through podgate
        self.assertGreater(report["bytes_received"], 40 * 100)

    def test_imap_starttls_authenticate_plain_through_podgate(self):
        report, _ = self.bench("--port", self.pg.port("imap", "starttls"), "--tls", "starttls",
                               "--auth", "plain", "--logins", 20, "--concurrency", 4, user=BOB)
        self.assertAllOk(report, 20)
        self.assertEqual(report["tls"], "starttls")

    def test_pop3_implicit_tls_through_podgate(self):
        report, _ = self.bench("--port", self.pg.port("pop3", "implicit"), "--protocol", "pop3",
                               "--logins", 20, "--concurrency", 4)
        self.assertAllOk(report, 20)
        self.assertEqual(report["protocol"], "pop3")

    def test_smtp_starttls_through_podgate(self):
        report, _ = self.bench("--port", self.pg.port("smtp", "starttls"), "--protocol", "smtp",
                               "--tls", "starttls", "--logins", 10, "--concurrency", 2, user=BOB)
        self.assertAllOk(report, 10)
        self.assertEqual(report["protocol"], "smtp")

    def test_imap_without_tls_straight_to_the_pod(self):
        report, _ = self.bench("--port", self.world.pod1.imap_port, "--tls", "none",
                               "--command", "none", "--logins", 20, "--concurrency", 4)
        self.assertAllOk(report, 20, tls=False, command=False)
        self.assertEqual(report["bytes_received"], 0)

    # -- failures, counted by kind ---------------------------------------------

    def test_wrong_password_is_auth_failed(self):
        report, _ = self.bench("--port", self.pg.port("imap", "implicit"), "--logins", 4,
                               "--concurrency", 4, password=podlib.WRONG_PASSWORDS[0],
                               expect_status=1)
        self.assertEqual(report["ok"], 0)
        self.assertEqual(report["errors"], {"auth_failed": 4})
        self.assertEqual(report["phases"], {})

    def test_refused_port_is_connect(self):
        refusing = podlib.RefusingPort()
        self.addCleanup(refusing.close)
        report, _ = self.bench("--port", refusing.port, "--logins", 6, "--concurrency", 3,
                               expect_status=1)
        self.assertEqual(report["errors"], {"connect": 6})

    def test_silent_server_is_timeout(self):
        mute = podlib.MutePort()
        self.addCleanup(mute.close)
        report, seconds = self.bench("--port", mute.port, "--tls", "none", "--logins", 2,
                                     "--timeout-ms", 300, expect_status=1)
        self.assertEqual(report["errors"], {"timeout": 2})
        self.assertGreaterEqual(seconds, 0.3)

    def test_certificate_checked_only_with_ca(self):
        port = self.pg.port("imap", "implicit")
        report, _ = self.bench("--port", port, "--logins", 2, "--ca", self.world.cert)
        self.assertAllOk(report, 2)
        report, _ = self.bench("--port", port, "--logins", 2, "--ca", self.world.cert,
                               "--server-name", "not-the-name.example", expect_status=1)
        self.assertEqual(report["errors"], {"tls": 2})
        # without --ca nothing is verified: the same name passes
        report, _ = self.bench("--port", port, "--logins", 2,
                               "--server-name", "not-the-name.example")
        self.assertAllOk(report, 2)

    # -- pacing, throughput, resumption, plot -------------------------------------

    def test_open_loop_keeps_its_pace(self):
        # 25 logins at 50/s: the last one is due 0.48 s after the first,
        # however fast the server answers.
        # (25 in flight at most: no login waits for a slot even when a slow
        # build takes half a second per login)
        report, seconds = self.bench("--port", self.pg.port("imap", "implicit"), "--rate", 50,
                                     "--logins", 25, "--concurrency", 25)
        self.assertAllOk(report, 25)
        self.assertEqual(report["rate"], 50)
        self.assertEqual(report["late"], 0)
        self.assertGreaterEqual(report["elapsed_seconds"], 0.4)
        self.assertGreaterEqual(seconds, 0.4)
        # every open-loop login reports how long it waited past its due time
        self.assertEqual(report["phases"]["queue"]["count"], 25)

    def test_open_loop_counts_late_starts(self):
        # 1000/s with one login in flight: nearly every slot finds it busy.
        report, _ = self.bench("--port", self.pg.port("imap", "implicit"), "--rate", 1000,
                               "--concurrency", 1, "--logins", 10)
        self.assertAllOk(report, 10)
        self.assertGreaterEqual(report["late"], 5)
        # the late ones waited, and their latency counts from the due time:
        # the wait shows in the total, as a client of a busy server feels it
        queue, total = report["phases"]["queue"], report["phases"]["total"]
        self.assertGreater(queue["max"], 0)
        self.assertGreaterEqual(total["max"], queue["max"])
        self.assertGreater(total["max"], report["phases"]["auth"]["max"] + queue["max"] * 0.5)

    def test_fetch_reads_the_whole_message(self):
        logins = 3
        report, _ = self.bench("--port", self.pg.port("imap", "implicit"), "--command", "fetch",
                               "--logins", logins, "--concurrency", 3, user=GRACE)
        self.assertAllOk(report, logins)
        self.assertGreaterEqual(report["bytes_received"], logins * len(self.big))
        self.assertGreaterEqual(report["bytes_received"], logins * 1000 * 1000)
        self.assertGreater(report["command_mb_per_second"], 0)

    def test_resume_reuses_tls_sessions(self):
        report, _ = self.bench("--port", self.pg.port("imap", "implicit"), "--resume",
                               "--logins", 12, "--concurrency", 2)
        self.assertAllOk(report, 12)
        # each slot's first handshake is a full one; the others offer a session
        self.assertGreaterEqual(report["resumed"], 12 - 2 - 2, report)
        self.assertLessEqual(report["resumed"], 12 - 2, report)

    def test_plot_is_an_svg_with_a_curve_per_phase(self):
        path = os.path.join(self.world.root, "latency.svg")
        report, _ = self.bench("--port", self.pg.port("imap", "implicit"), "--logins", 10,
                               "--plot", path)
        self.assertAllOk(report, 10)
        root = ElementTree.parse(path).getroot()
        namespace = "{http://www.w3.org/2000/svg}"
        self.assertEqual(root.tag, namespace + "svg")
        curves = sorted(p.get("data-phase") for p in root.iter(namespace + "path"))
        self.assertEqual(curves, sorted(PHASES))

    # -- holding sessions ------------------------------------------------------

    def test_hold_keeps_logged_in_idle_sessions(self):
        command = [podlib.podgate_bench_bin(), "--port", str(self.pg.port("imap", "implicit")),
                   "--hold", "20", "--concurrency", "5", "--json", "--users", BOB,
                   "--password", self.world.passwords[BOB]]
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, bufsize=0)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        line = read_line(proc, 20)
        if line != b"holding 20 sessions\n":
            proc.kill()
            _, stderr = proc.communicate()
            self.fail("expected 'holding 20 sessions', got %r; stderr: %r" % (line, stderr))
        summary = json.loads(read_line(proc, 5))
        self.assertEqual((summary["held"], summary["ok"], summary["errors"]), (20, 20, {}))
        self.assertEqual(summary["phases"]["command"]["count"], 20)  # IDLE answered with "+"
        listed = self.admin.sessions(BOB)
        self.assertEqual(len(listed), 20, listed)
        self.assertEqual({s["protocol"] for s in listed}, {"imap"})
        time.sleep(0.3)  # idle sessions stay
        self.assertEqual(len(self.admin.sessions(BOB)), 20)
        self.assertIsNone(proc.poll())

        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=10)
        self.assertEqual(proc.returncode, 0, stderr)
        self.assertNotIn(b"Sanitizer", stderr)
        deadline = time.time() + 5
        while self.admin.sessions(BOB) and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.admin.sessions(BOB), [])

    def test_hold_with_every_login_refused_exits(self):
        # nothing to hold: it says so and exits 1 instead of waiting for a signal
        r = subprocess.run([podlib.podgate_bench_bin(), "--port",
                            str(self.pg.port("imap", "implicit")), "--hold", "3", "--users", BOB,
                            "--password", "not-the-password"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stdout, b"holding 0 sessions\n")

    # -- flags -----------------------------------------------------------------

    def test_bad_flags_exit_2(self):
        binary = podlib.podgate_bench_bin()
        for args in (["--port", "1", "--protocol", "nntp", "--users", "u", "--password", "p"],
                     ["--port", "1"],  # no users
                     ["--port", "1", "--users", "u", "--password", "p", "--protocol", "pop3",
                      "--command", "fetch"],
                     ["--port", "1", "--users", "u", "--password", "p", "--host", "localhost"]):
            r = subprocess.run([binary] + args, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
        r = subprocess.run([binary, "--help"], stdout=subprocess.PIPE, timeout=10)
        self.assertEqual(r.returncode, 0)
        self.assertIn(b"NOT VERIFIED", r.stdout)


if __name__ == "__main__":
    unittest.main()
