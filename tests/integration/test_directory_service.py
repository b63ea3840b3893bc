#!/usr/bin/env python3
"""podgate-directory as a real process: lookups, edits through the API (and
what they leave on disk), reloads by SIGHUP and by watching the file, an
invalid file that must not lose the data, pod health probes against a real
Dovecot pod and a refusing port, /metrics, and a clean SIGTERM.

  python3 -m unittest -v tests/integration/test_directory_service.py
"""

import os
import shutil
import signal
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import podlib  # noqa: E402
from directorylib import DirectoryService, wait_for  # noqa: E402

ALICE = "alice@example.com"
BOB = "bob@example.com"


def base_directory():
    return {
        "pods": {
            "pod-1": {"imap": ["127.0.0.1:20143"], "pop3": ["127.0.0.1:20110"]},
            "pod-2": {"imap": ["127.0.0.1:20243"], "smtp": ["127.0.0.1:20587"],
                      "smtp_auth": "login"},
        },
        "users": {
            ALICE: {"pod": "pod-1"},
            BOB: {"pod": "pod-2", "pop3": False},
        },
        "domains": {"example.org": {"pod": "pod-2"}},
    }


class ServiceTestCase(unittest.TestCase):
    """A fresh service (probing off) and folder for every test."""

    probe_interval_ms = 0
    watch_interval_ms = 1000

    def setUp(self):
        self.root = podlib.make_tempdir("pg-dir-")
        self.svc = DirectoryService(self.root, base_directory(), ttl=17,
                                    probe_interval_ms=self.probe_interval_ms,
                                    watch_interval_ms=self.watch_interval_ms)
        self.svc.start()

    def tearDown(self):
        try:
            if self.svc.proc is not None:
                self.svc.stop()  # raises on a non-zero exit or sanitizer output
        finally:
            if not os.environ.get("PODLIB_KEEP"):
                shutil.rmtree(self.root, ignore_errors=True)

    def assertLookupPod(self, user, protocol, pod, timeout=5.0):
        def current():
            status, body = self.svc.lookup(user, protocol)
            return status == 200 and body.get("pod") == pod
        self.assertTrue(wait_for(current, timeout),
                        "%s/%s never routed to %s; last answer %r\n%s"
                        % (user, protocol, pod, self.svc.lookup(user, protocol),
                           podlib.tail(self.svc.stderr_path)))


class LookupAndEditTest(ServiceTestCase):

    def test_lookup_found(self):
        status, body = self.svc.lookup(ALICE, "imap")
        self.assertEqual(status, 200)
        self.assertEqual(body, {"user": ALICE, "protocol": "imap", "pod": "pod-1",
                                "enabled": True, "basic_auth": True,
                                "servers": ["127.0.0.1:20143"],
                                "backend_tls": "none", "smtp_auth": "plain", "ttl": 17})
        status, body = self.svc.lookup("Bob@Example.COM", "pop3")
        self.assertEqual(status, 200)
        self.assertEqual((body["pod"], body["enabled"], body["servers"]), ("pod-2", False, []))
        self.assertEqual(body["error"], "no server available")
        status, body = self.svc.lookup(BOB, "smtp")
        self.assertEqual(body["smtp_auth"], "login")
        status, body = self.svc.lookup("erin@example.org", "imap")
        self.assertEqual((status, body["pod"]), (200, "pod-2"))

    def test_a_domain_policy_set_through_the_api_reaches_the_lookup_answer(self):
        status, _ = self.svc.put("/v1/domains/example.org",
                                 {"pod": "pod-2", "basic_auth": False, "pop3": False})
        self.assertIn(status, (200, 201))
        status, body = self.svc.lookup("erin@example.org", "imap")
        self.assertEqual((status, body["basic_auth"], body["enabled"]), (200, False, True))
        status, body = self.svc.lookup("erin@example.org", "pop3")
        self.assertEqual((status, body["basic_auth"], body["enabled"]), (200, False, False))
        self.assertEqual(self.svc.file_json()["domains"]["example.org"],
                         {"pod": "pod-2", "basic_auth": False, "pop3": False})
        status, body = self.svc.put("/v1/domains/example.org", {"pod": "pod-2", "basic_auth": 0})
        self.assertEqual(status, 400)
        self.assertIn('"basic_auth" must be true or false', body["error"])

    def test_lookup_unknown_and_bad_requests(self):
        before_unknown = self.svc.metric("podgate_directory_lookups_total", result="unknown")
        before_bad = self.svc.metric("podgate_directory_lookups_total", result="bad_request")
        self.assertEqual(self.svc.lookup("mallory@example.net", "imap"),
                         (404, {"error": "unknown user"}))
        for path in ("/v1/lookup?protocol=imap", "/v1/lookup?user=&protocol=imap",
                     "/v1/lookup?user=alice%40example.com",
                     "/v1/lookup?user=alice%40example.com&protocol=nntp"):
            status, body = self.svc.get(path)
            self.assertEqual(status, 400, path)
            self.assertIn("error", body)
        self.assertEqual(self.svc.request("POST", "/v1/lookup?user=a&protocol=imap")[0], 405)
        self.assertEqual(self.svc.get("/nowhere")[0], 404)
        self.assertEqual(self.svc.metric("podgate_directory_lookups_total", result="unknown"),
                         before_unknown + 1)
        self.assertEqual(self.svc.metric("podgate_directory_lookups_total", result="bad_request"),
                         before_bad + 4)

    def test_put_user_moves_them_and_saves_the_file(self):
        status, body = self.svc.put(self.svc.user_path(ALICE), {"pod": "pod-2", "pop3": False})
        self.assertEqual((status, body), (200, {"pod": "pod-2", "pop3": False}))
        self.assertLookupPod(ALICE, "imap", "pod-2", timeout=0)
        self.assertEqual(self.svc.file_json()["users"][ALICE], {"pod": "pod-2", "pop3": False})

        status, body = self.svc.put("/v1/users/Carol%40Example.com", {"pod": "pod-1"})
        self.assertEqual(status, 201)
        self.assertEqual(self.svc.get("/v1/users/carol%40example.com"), (200, {"pod": "pod-1"}))
        self.assertIn("carol@example.com", self.svc.file_json()["users"])
        self.assertLookupPod("CAROL@example.com", "imap", "pod-1", timeout=0)
        # no temporary file left next to the directory
        self.assertEqual(sorted(f for f in os.listdir(self.root) if f.startswith(".")), [])

        self.assertEqual(self.svc.delete("/v1/users/carol%40example.com")[0], 200)
        self.assertEqual(self.svc.delete("/v1/users/carol%40example.com")[0], 404)
        self.assertEqual(self.svc.get("/v1/users/carol%40example.com")[0], 404)
        self.assertNotIn("carol@example.com", self.svc.file_json()["users"])

        # saved durably: a restart (and even SIGKILL) serves the edits
        self.svc.restart()
        self.assertLookupPod(ALICE, "imap", "pod-2", timeout=0)
        self.svc.put(self.svc.user_path(BOB), {"pod": "pod-1"})
        self.svc.kill()
        self.svc.start(write=False)
        self.assertLookupPod(BOB, "imap", "pod-1", timeout=0)

    def test_bad_edits_are_refused_and_leave_the_file_alone(self):
        original = self.svc.file_bytes()
        mtime = os.stat(self.svc.path).st_mtime_ns
        rejected = self.svc.metric("podgate_directory_edits_total", result="rejected")
        cases = [
            (self.svc.user_path(ALICE), '{"pod": "pod-2"', "malformed JSON"),
            (self.svc.user_path(ALICE), "", "malformed JSON"),
            (self.svc.user_path(ALICE), {"pod": ["pod-2"]}, "must be a string"),
            (self.svc.user_path(ALICE), {"pod": "pod-2", "imap": "no"}, "true or false"),
            (self.svc.user_path(ALICE), {"pod": "pod-2", "shoe_size": 9}, 'unknown key "shoe_size"'),
            (self.svc.user_path(ALICE), {"pod": "pod-9"}, 'unknown pod "pod-9"'),
            (self.svc.user_path(ALICE), "[1, 2]", "must be a JSON object"),
            ("/v1/pods/pod-1", {"imap": "127.0.0.1:1"}, "must be a list"),
            ("/v1/pods/pod-1", {"imap": ["mail.example.com:143"]}, "ip:port"),
            ("/v1/pods/pod-3", {"backend_tls": "starttls"}, 'backend_tls must be "none" or "implicit"'),
        ]
        for path, body, reason in cases:
            status, answer = self.svc.put(path, body)
            self.assertEqual(status, 400, (path, body, answer))
            self.assertIn(reason, answer.get("error", ""), (path, body))
        self.assertEqual(self.svc.file_bytes(), original)
        self.assertEqual(os.stat(self.svc.path).st_mtime_ns, mtime)
        self.assertLookupPod(ALICE, "imap", "pod-1", timeout=0)
        self.assertEqual(self.svc.metric("podgate_directory_edits_total", result="rejected"),
                         rejected + len(cases))

    def test_pods_are_edited_and_deleted_only_when_unused(self):
        status, body = self.svc.put("/v1/pods/pod-3", {"imap": ["127.0.0.1:30143"],
                                                       "backend_tls": "none"})
        self.assertEqual(status, 201)
        self.assertEqual(self.svc.get("/v1/pods/pod-3"),
                         (200, {"imap": ["127.0.0.1:30143"], "backend_tls": "none"}))
        self.assertEqual(self.svc.put("/v1/pods/pod-3", {"imap": ["127.0.0.1:30144"]})[0], 200)
        self.assertEqual(self.svc.put(self.svc.user_path(ALICE), {"pod": "pod-3"})[0], 200)
        self.assertEqual(self.svc.lookup(ALICE, "imap")[1]["servers"], ["127.0.0.1:30144"])

        before = self.svc.file_bytes()
        status, body = self.svc.delete("/v1/pods/pod-3")
        self.assertEqual(status, 409)
        self.assertIn(ALICE, body["error"])
        status, body = self.svc.delete("/v1/pods/pod-2")
        self.assertEqual(status, 409)
        self.assertIn("example.org", body["error"])
        self.assertEqual(self.svc.file_bytes(), before)

        self.assertEqual(self.svc.put(self.svc.user_path(ALICE), {"pod": "pod-1"})[0], 200)
        self.assertEqual(self.svc.delete("/v1/pods/pod-3")[0], 200)
        self.assertEqual(self.svc.delete("/v1/pods/pod-3")[0], 404)
        self.assertNotIn("pod-3", self.svc.file_json()["pods"])
        self.assertEqual(self.svc.request("PATCH", "/v1/pods/pod-1", "{}")[0], 405)

    def test_healthz_and_metrics_move(self):
        self.assertEqual(self.svc.get("/healthz"), (200, {"status": "ok", "users": 2, "pods": 2}))
        requests = self.svc.metric("podgate_directory_requests_total")
        found = self.svc.metric("podgate_directory_lookups_total", result="found")
        edits = self.svc.metric("podgate_directory_edits_total", result="ok")
        self.svc.lookup(ALICE, "imap")
        self.svc.put("/v1/users/zoe%40example.com", {"pod": "pod-2"})
        m = self.svc.metrics()
        self.assertGreaterEqual(m["podgate_directory_requests_total"], requests + 3)
        self.assertEqual(m['podgate_directory_lookups_total{result="found"}'], found + 1)
        self.assertEqual(m['podgate_directory_edits_total{result="ok"}'], edits + 1)
        self.assertEqual(m["podgate_directory_users"], 3)
        self.assertEqual(m["podgate_directory_pods"], 2)
        self.assertIn('podgate_directory_reloads_total{result="ok"}', m)
        self.assertIn('podgate_directory_reloads_total{result="failed"}', m)
        # no probes: every server counts as up
        self.assertEqual(self.svc.metric("podgate_directory_server_up", pod="pod-1",
                                         protocol="imap", server="127.0.0.1:20143"), 1)

    def test_requests_logged_at_debug_only_without_bodies(self):
        self.svc.put(self.svc.user_path("secret-user@example.com"), {"pod": "pod-1"})
        log = self.svc.stderr_text()
        self.assertRegex(log, r"debug PUT /v1/users/secret-user%40example.com 201")
        self.assertNotIn('"pod": "pod-1"', log)
        self.assertNotIn('{"pod":"pod-1"}', log)


class ReloadTest(ServiceTestCase):

    watch_interval_ms = 0  # SIGHUP only, so the signal is what reloads

    def edited(self):
        d = base_directory()
        d["users"]["dora@example.com"] = {"pod": "pod-2"}
        d["users"][ALICE] = {"pod": "pod-2"}
        return d

    def test_sighup_reloads_the_file(self):
        ok = self.svc.metric("podgate_directory_reloads_total", result="ok")
        mark = self.svc.log_mark()
        self.svc.write_file(self.edited())
        time.sleep(0.3)
        self.assertEqual(self.svc.lookup("dora@example.com", "imap")[0], 404)  # not watched
        self.svc.signal(signal.SIGHUP)
        self.assertLookupPod("dora@example.com", "imap", "pod-2")
        self.assertLookupPod(ALICE, "imap", "pod-2")
        self.assertTrue(self.svc.wait_log(r"directory reloaded \(SIGHUP\).*3 users", since=mark))
        self.assertEqual(self.svc.metric("podgate_directory_reloads_total", result="ok"), ok + 1)
        self.assertEqual(self.svc.get("/healthz")[1]["users"], 3)

    def test_sighup_with_an_invalid_file_keeps_the_old_data(self):
        failed = self.svc.metric("podgate_directory_reloads_total", result="failed")
        mark = self.svc.log_mark()
        broken = self.edited()
        broken["users"]["dora@example.com"] = {"pod": "pod-404"}
        self.svc.write_file(broken)
        self.svc.signal(signal.SIGHUP)
        line = self.svc.wait_log(r"reload \(SIGHUP\) failed", since=mark)
        self.assertTrue(line, podlib.tail(self.svc.stderr_path))
        self.assertIn('unknown pod "pod-404"', line)
        self.assertLookupPod(ALICE, "imap", "pod-1", timeout=0)
        self.assertEqual(self.svc.lookup("dora@example.com", "imap")[0], 404)
        self.assertEqual(self.svc.metric("podgate_directory_reloads_total", result="failed"),
                         failed + 1)


class FileWatchTest(ServiceTestCase):

    def test_a_changed_file_is_picked_up_without_a_signal(self):
        d = base_directory()
        d["users"][ALICE] = {"pod": "pod-2"}
        self.svc.write_file(d, atomic=True)  # renamed over the old one
        self.assertLookupPod(ALICE, "imap", "pod-2", timeout=5)
        d["users"][ALICE] = {"pod": "pod-1"}
        d["users"]["eve@example.com"] = {"pod": "pod-1"}
        self.svc.write_file(d)  # in place, same inode
        self.assertLookupPod(ALICE, "imap", "pod-1", timeout=5)
        self.assertLookupPod("eve@example.com", "imap", "pod-1", timeout=0)
        self.assertTrue(self.svc.wait_log(r"directory reloaded \(file changed\)"))

    def test_an_invalid_file_keeps_the_old_data_and_says_why(self):
        mark = self.svc.log_mark()
        failed = self.svc.metric("podgate_directory_reloads_total", result="failed")
        self.svc.write_file('{"pods": {"pod-1": ', atomic=True)
        line = self.svc.wait_log(r"reload \(file changed\) failed", timeout=5, since=mark)
        self.assertTrue(line, podlib.tail(self.svc.stderr_path))
        self.assertIn("not valid JSON", line)
        self.assertLookupPod(ALICE, "imap", "pod-1", timeout=0)
        self.assertEqual(self.svc.get("/healthz")[1]["users"], 2)
        self.assertEqual(self.svc.metric("podgate_directory_reloads_total", result="failed"),
                         failed + 1)
        # edits are refused rather than written over the operator's broken
        # file (their work would be lost); the answer says why
        status, body = self.svc.put("/v1/users/fay%40example.com", {"pod": "pod-1"})
        self.assertEqual(status, 409)
        self.assertIn("not valid JSON", body["error"])
        self.assertEqual(self.svc.file_bytes(), b'{"pods": {"pod-1": ')
        # a file that is fixed is loaded again
        d = base_directory()
        d["users"]["gus@example.com"] = {"pod": "pod-2"}
        self.svc.write_file(d, atomic=True)
        self.assertLookupPod("gus@example.com", "imap", "pod-2")

    def test_our_own_edits_are_not_counted_as_reloads(self):
        ok = self.svc.metric("podgate_directory_reloads_total", result="ok")
        self.svc.put("/v1/users/hal%40example.com", {"pod": "pod-2"})
        time.sleep(2.5)  # two watch intervals
        self.assertEqual(self.svc.metric("podgate_directory_reloads_total", result="ok"), ok)


class StartupTest(unittest.TestCase):

    def setUp(self):
        self.root = podlib.make_tempdir("pg-dir-")

    def tearDown(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def run_service(self, directory, extra=()):
        svc = DirectoryService(self.root, directory)
        svc.write_directory()
        cmd = svc.command() + list(extra)
        import subprocess
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)

    def test_an_invalid_file_at_start_is_refused_with_the_reason(self):
        d = base_directory()
        d["pods"]["pod-1"]["backend_tls"] = "starttls"
        r = self.run_service(d)
        self.assertEqual(r.returncode, 2)
        self.assertIn(b'backend_tls must be "none" or "implicit"', r.stderr)
        d = base_directory()
        d["users"][ALICE] = {"pod": 1}
        r = self.run_service(d)
        self.assertEqual(r.returncode, 2)
        self.assertIn(b'"pod" must be a string', r.stderr)

    def test_bad_flags_are_refused(self):
        r = self.run_service(base_directory(), ["--listen", "localhost:99"])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"--listen", r.stderr)


class GreetingServer:
    """A fake pod server on loopback: greets every connection and hangs up."""

    def __init__(self, greeting=b"* OK fake pod ready\r\n", port=0):
        self.greeting = greeting
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.addr = "127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            try:
                conn.sendall(self.greeting)
                conn.settimeout(1.0)
                try:
                    conn.recv(100)  # the prober's LOGOUT, or its close
                except OSError:
                    pass
            finally:
                conn.close()

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(5)
        if self.thread.is_alive():
            raise AssertionError("the greeting server's thread did not end")


class HealthTest(unittest.TestCase):
    """pod-1: a real Dovecot pod and a refusing port; pod-down: only a
    refusing port; pod-fake: a greeting server that goes away and comes back."""

    INTERVAL_MS = 300

    @classmethod
    def setUpClass(cls):
        podlib.require_root()
        cls.root = podlib.make_tempdir("pg-dirh-")
        cls.pod = podlib.DovecotPod("pod-1", os.path.join(cls.root, "pod-1"),
                                    {ALICE: "secret"}, marker="").start()
        cls.refusing = podlib.RefusingPort()
        podlib.register_cleanup(cls.refusing.close)

    @classmethod
    def tearDownClass(cls):
        cls.pod.stop()
        cls.refusing.close()
        shutil.rmtree(cls.root, ignore_errors=True)

    def setUp(self):
        self.fake = GreetingServer()
        self.addCleanup(lambda: self.fake.close())
        directory = {
            "pods": {
                "pod-1": {"imap": [self.refusing.addr, self.pod.imap_addr]},
                "pod-down": {"imap": [self.refusing.addr]},
                "pod-fake": {"imap": [self.fake.addr]},
            },
            "users": {ALICE: {"pod": "pod-1"}, BOB: {"pod": "pod-down"},
                      "fay@example.com": {"pod": "pod-fake"}},
        }
        self.svc = DirectoryService(os.path.join(self.root, self.id().rsplit(".", 1)[-1]),
                                    directory, probe_interval_ms=self.INTERVAL_MS,
                                    probe_timeout_ms=500)
        self.svc.start()
        self.addCleanup(self.svc.stop)

    def servers(self, user):
        status, body = self.svc.lookup(user, "imap")
        self.assertEqual(status, 200, body)
        return body["servers"], body.get("error")

    def test_down_servers_leave_lookups_and_come_back(self):
        # the refusing port is dropped from the first probe on
        self.assertTrue(wait_for(lambda: self.servers(ALICE)[0] == [self.pod.imap_addr], 3),
                        self.servers(ALICE))
        self.assertEqual(self.servers(BOB), ([], "no server available"))
        self.assertEqual(self.svc.metric("podgate_directory_server_up", pod="pod-1",
                                         server=self.pod.imap_addr), 1)
        self.assertEqual(self.svc.metric("podgate_directory_server_up", pod="pod-down",
                                         protocol="imap", server=self.refusing.addr), 0)
        self.assertEqual(self.svc.metric("podgate_directory_server_up", pod="pod-1",
                                         server=self.refusing.addr), 0)
        self.assertTrue(self.svc.wait_log(r"imap server %s \(pod pod-1, pod-down\) is down: "
                                          r"connect: connection refused"
                                          % self.refusing.addr))
        no_server = self.svc.metric("podgate_directory_lookups_total", result="no_server")
        self.servers(BOB)
        self.assertEqual(self.svc.metric("podgate_directory_lookups_total", result="no_server"),
                         no_server + 1)

        # a server that goes away disappears within the probe interval...
        self.assertEqual(self.servers("fay@example.com"), ([self.fake.addr], None))
        port = self.fake.port
        mark = self.svc.log_mark()
        self.fake.close()
        t0 = time.time()
        self.assertTrue(wait_for(lambda: self.servers("fay@example.com")[0] == [], 5))
        # one probe interval, plus slack for a loaded machine
        self.assertLess(time.time() - t0, self.INTERVAL_MS / 1000.0 + 2.5)
        self.assertEqual(self.servers("fay@example.com"), ([], "no server available"))
        self.assertTrue(self.svc.wait_log(r"is down", since=mark))
        # ...and is back from its first good probe
        self.fake = GreetingServer(port=port)
        self.assertTrue(wait_for(lambda: self.servers("fay@example.com")[0] == [self.fake.addr], 3))
        self.assertTrue(self.svc.wait_log(r"%s \(pod pod-fake\) is up again" % self.fake.addr,
                                          since=mark))
        # the transition is logged once, not at every probe
        time.sleep(3 * self.INTERVAL_MS / 1000.0)
        down_lines = [l for l in self.svc.stderr_text().splitlines()
                      if self.refusing.addr in l and "is down" in l]
        self.assertEqual(len(down_lines), 1, down_lines)

    def test_a_real_pod_stopped_mid_test_disappears(self):
        pod2 = podlib.DovecotPod("pod-2", os.path.join(self.root, "pod-2-" + str(os.getpid())),
                                 {BOB: "secret"}, marker="").start()
        try:
            self.assertEqual(self.svc.put("/v1/pods/pod-2", {"imap": [pod2.imap_addr]})[0], 201)
            self.assertEqual(self.svc.put(self.svc.user_path(BOB), {"pod": "pod-2"})[0], 200)
            self.assertTrue(wait_for(lambda: self.svc.metric(
                "podgate_directory_server_up", pod="pod-2", server=pod2.imap_addr) == 1, 3))
            self.assertEqual(self.servers(BOB), ([pod2.imap_addr], None))
            pod2.stop()
            t0 = time.time()
            self.assertTrue(wait_for(lambda: self.servers(BOB)[0] == [], 5),
                            podlib.tail(self.svc.stderr_path))
            self.assertLess(time.time() - t0, self.INTERVAL_MS / 1000.0 + 2.5)
            self.assertEqual(self.svc.metric("podgate_directory_server_up", pod="pod-2",
                                             server=pod2.imap_addr), 0)
        finally:
            pod2.stop()


if __name__ == "__main__":
    unittest.main()
