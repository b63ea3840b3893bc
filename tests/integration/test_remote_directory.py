#!/usr/bin/env python3
"""podgate with a shared directory service: two podgate instances asking one
podgate-directory (cache, TTL, stale answers while it is down, user moves
with kicks through both admin APIs, pod servers marked down by the
directory's health probe), and the nginx auth_http mode against a small
auth_http service started here.

  python3 -m unittest -v tests/integration/test_remote_directory.py
"""

import http.server
import imaplib
import os
import poplib
import smtplib
import socket
import sys
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import directorylib  # noqa: E402
import podlib  # noqa: E402
from adminlib import AdminClient, http_call  # noqa: E402

ALICE, BOB, DAVE, ERIN, GRACE = ("alice@example.com", "bob@example.com", "dave@example.com",
                                 "erin@example.org", "grace@example.com")
HENRY = "frank@example.com"  # moved to the two-server pod by the health test
TTL = 6  # long enough for a round of logins on a loaded machine
PROBE_INTERVAL_MS = 500
LISTENERS = [{"protocol": "imap", "tls": "implicit"},
             {"protocol": "pop3", "tls": "implicit"},
             {"protocol": "smtp", "tls": "implicit"}]


class RemoteDirectoryTest(podlib.NoSecretsMixin, podlib.WorldTestCase):
    extra_secrets = ["ghost-guess-%d" % i for i in range(6)]
    world_kwargs = {"start_podgate": False, "pop3": True}

    @classmethod
    def set_up_more(cls):
        world = cls.world
        cls.directory = directorylib.DirectoryService(
            os.path.join(world.root, "directory"), world.directory(), ttl=TTL,
            probe_interval_ms=PROBE_INTERVAL_MS, probe_timeout_ms=1000)
        cls.directory.start()
        cls.podgates = []
        cls.admins = []
        for name in ("podgate-a", "podgate-b"):
            extra = {"directory": {"url": [cls.directory.url], "timeout_ms": 1000},
                     "admin": {"listen": "127.0.0.1:%d" % podlib.free_port()}}
            pg = world.new_podgate(name, extra, listeners=LISTENERS)
            if world.podgate is None:
                world.podgate = pg
            cls.podgates.append(pg)
            cls.admins.append(AdminClient(pg))
        cls.pg = cls.podgates[0]

    @classmethod
    def tearDownClass(cls):
        directory = getattr(cls, "directory", None)
        try:
            super().tearDownClass()
        finally:
            if directory is not None:
                directory.stop()

    # --- clients ---------------------------------------------------------
    def imap_login(self, pg, user):
        im = podlib.PodIMAP4_SSL(pg.port("imap", "implicit"))
        im.login(user, self.world.passwords[user])
        return im

    def imap_subjects_of(self, pg, user):
        im = self.imap_login(pg, user)
        try:
            return podlib.imap_subjects(im)
        finally:
            im.logout()

    def imap_refusal(self, pg, user):
        im = podlib.PodIMAP4_SSL(pg.port("imap", "implicit"))
        try:
            with self.assertRaises(imaplib.IMAP4.error) as refused:
                im.login(user, self.world.passwords[user])
            return str(refused.exception)
        finally:
            im.shutdown()

    def pop3_refusal(self, pg, user):
        pop = poplib.POP3_SSL("127.0.0.1", pg.port("pop3", "implicit"),
                              context=podlib.client_tls_context(), timeout=10)
        try:
            pop.user(user)
            with self.assertRaises(poplib.error_proto) as refused:
                pop.pass_(self.world.passwords[user])
            return refused.exception.args[0].decode()
        finally:
            pop.close()

    def smtp_refusal(self, pg, user):
        smtp = smtplib.SMTP_SSL("127.0.0.1", pg.port("smtp", "implicit"),
                                context=podlib.client_tls_context(), timeout=10)
        try:
            smtp.ehlo("client.example")
            with self.assertRaises(smtplib.SMTPAuthenticationError) as refused:
                smtp.login(user, self.world.passwords[user])
            return refused.exception.smtp_code, refused.exception.smtp_error.decode()
        finally:
            smtp.close()

    def access_lines(self, pg, user):
        return [l for l in pg.access_log_lines() if l.get("user") == user]

    def last_access(self, pg, user, seen=None):
        """The newest access-log line of the user; with `seen` (how many
        there were before), waits for a newer one (lines are written when a
        session closes, a moment after the client left)."""
        deadline = time.time() + 5
        while True:
            lines = self.access_lines(pg, user)
            if lines and (seen is None or len(lines) > seen):
                return lines[-1]
            if time.time() > deadline:
                self.fail("no new access-log line for %s" % user)
            time.sleep(0.05)

    # --- tests -----------------------------------------------------------
    def test_0_unknown_users_from_the_directory_meet_the_guard(self):
        # podgate-directory answers 404; the guard counts those like wrong
        # passwords, with its shipped thresholds (5 for a user from one address).
        pg = self.podgates[0]
        user = "ghost@example.com"
        for i in range(6):
            r = self.raw(pg=pg, source="127.0.13.1")
            self.assertTagged(self.login(r, user, "ghost-guess-%d" % i), "L", "NO",
                              "AUTHENTICATIONFAILED")
            r.close()
        lines = pg.wait_access_log_where(
            lambda o: o.get("user") == user and o.get("lockout") == "user_address")
        self.assertEqual(len(lines), 1, self.access_lines(pg, user))
        self.assertEqual([o["outcome"] for o in self.access_lines(pg, user)],
                         ["unknown_user"] * 5 + ["locked_out"])

    def test_1_two_podgates_share_one_directory_and_cache_its_answers(self):
        def directory_found():
            return self.directory.metric("podgate_directory_lookups_total", result="found") or 0

        found_before = directory_found()
        hits_before = [admin.lookups("cache_hit") for admin in self.admins]
        for _ in range(3):
            for pg in self.podgates:
                seen = len(self.access_lines(pg, BOB))
                self.assertIn("pod-2 marker", self.imap_subjects_of(pg, BOB))
                self.last_access(pg, BOB, seen)
        # one request per podgate for the user; the other logins hit the cache
        self.assertEqual(directory_found(), found_before + 2)
        for admin, before in zip(self.admins, hits_before):
            self.assertEqual(admin.lookups("cache_hit"), before + 2)
        self.assertEqual(self.last_access(self.podgates[0], BOB)["directory"], "cache")
        # after the TTL each podgate asks again, once
        time.sleep(TTL + 0.5)
        for _ in range(2):
            for pg in self.podgates:
                self.assertIn("pod-2 marker", self.imap_subjects_of(pg, BOB))
        self.assertEqual(directory_found(), found_before + 4)

    def test_2_a_moved_user_is_kicked_and_logs_in_to_the_new_pod(self):
        clients = [self.imap_login(pg, ALICE) for pg in self.podgates]
        for im in clients:
            self.assertIn("pod-1 marker", podlib.imap_subjects(im))
        listed = self.admins[0].sessions(ALICE)
        self.assertEqual(len(listed), 1)
        self.assertEqual(listed[0]["pod"], "pod-1")
        self.assertEqual(listed[0]["protocol"], "imap")
        self.assertGreater(listed[0]["bytes"]["to_client"], 0)

        status, _ = self.directory.put("/v1/users/" + ALICE, {"pod": "pod-2"})
        self.assertIn(status, (200, 201))
        try:
            for admin in self.admins:
                self.assertEqual(admin.kick(ALICE), 1)
            for im in clients:
                # the polite goodbye, then the end of the connection
                im.sock.settimeout(5)
                rest = b""
                while True:
                    data = im.sock.recv(4096)
                    if not data:
                        break
                    rest += data
                self.assertIn(b"* BYE", rest)
                self.assertIn(b"administrator", rest)
                im.shutdown()
            for pg in self.podgates:
                self.assertEqual(self.last_access(pg, ALICE)["close_reason"], "kicked")
                # the cached route was dropped with the kick: the new pod at once
                subjects = self.imap_subjects_of(pg, ALICE)
                self.assertIn("pod-2 marker", subjects)
                self.assertNotIn("pod-1 marker", subjects)
        finally:
            self.directory.put("/v1/users/" + ALICE, {"pod": "pod-1"})
            for admin in self.admins:
                admin.kick(ALICE)

    def test_2b_a_kicked_pop3_session_is_closed_without_a_stray_reply(self):
        pg, admin = self.podgates[0], self.admins[0]
        pop = poplib.POP3_SSL("127.0.0.1", pg.port("pop3", "implicit"),
                              context=podlib.client_tls_context(), timeout=10)
        pop.user(BOB)
        pop.pass_(self.world.passwords[BOB])
        pop.stat()
        self.assertEqual(admin.kick(BOB), 1)
        # POP3 has no unsolicited replies: the client just sees the end
        pop.sock.settimeout(5)
        self.assertEqual(pop.sock.recv(4096), b"")
        pop.close()
        self.assertEqual(self.last_access(pg, BOB)["close_reason"], "kicked")
        self.assertEqual(admin.sessions(BOB), [])
        # kicking nobody is no error
        self.assertEqual(admin.kick("nobody@example.com"), 0)

    def test_3_without_the_directory_cached_users_log_in_and_others_wait(self):
        pg = self.podgates[0]
        admin = self.admins[0]
        self.assertIn("pod-2 marker", self.imap_subjects_of(pg, GRACE))  # now cached
        self.directory.kill()
        try:
            time.sleep(TTL + 0.5)  # the cached route is past its TTL: served stale
            stale_before = admin.lookups("stale")
            seen = len(self.access_lines(pg, GRACE))
            self.assertIn("pod-2 marker", self.imap_subjects_of(pg, GRACE))
            self.assertEqual(admin.lookups("stale"), stale_before + 1)
            self.assertEqual(self.last_access(pg, GRACE, seen)["directory"], "stale")
            # users podgate never looked up cannot be routed
            seen = len(self.access_lines(pg, DAVE))
            self.assertIn("[UNAVAILABLE]", self.imap_refusal(pg, DAVE))
            self.assertEqual(self.last_access(pg, DAVE, seen)["result"], "unavailable")
            self.assertIn("[SYS/TEMP]", self.pop3_refusal(pg, DAVE))
            code, text = self.smtp_refusal(pg, DAVE)
            self.assertEqual(code, 454)
            self.assertTrue(text.startswith("4.7.0"), text)
        finally:
            self.directory.start(write=False)
        seen = len(self.access_lines(pg, DAVE))
        self.assertIn("pod-1 marker", self.imap_subjects_of(pg, DAVE))
        self.assertEqual(self.last_access(pg, DAVE, seen)["directory"], "directory")

    def test_4_a_stopped_pod_server_is_left_out_by_the_health_probe(self):
        world = self.world
        replicas = []
        for name in ("pod-3a", "pod-3b"):
            pod = podlib.DovecotPod(name, os.path.join(world.root, name), world.passwords,
                                    marker="%s marker" % name)
            pod.start()
            replicas.append(pod)
            world.pods[name] = pod  # stopped with the world
        first, second = replicas
        status, text = self.directory.put(
            "/v1/pods/pod-3", {"imap": [first.imap_addr, second.imap_addr]})
        self.assertIn(status, (200, 201), text)
        status, text = self.directory.put("/v1/users/" + HENRY, {"pod": "pod-3"})
        self.assertIn(status, (200, 201), text)
        for admin in self.admins:
            admin.kick(HENRY)  # forget any route cached before the move
        pg = self.podgates[1]
        self.assertIn("pod-3a marker", self.imap_subjects_of(pg, HENRY))

        first.stop()
        stopped_at = time.time()
        while first.imap_addr in self.directory.lookup(HENRY, "imap")[1].get("servers", []):
            # one probe interval and one probe timeout, plus slack for a loaded machine
            self.assertLess(time.time() - stopped_at, PROBE_INTERVAL_MS / 1000 + 1.0 + 2.5,
                            "the directory still lists the stopped server")
            time.sleep(0.05)
        status, answer = self.directory.lookup(HENRY, "imap")
        self.assertEqual(answer["servers"], [second.imap_addr])

        time.sleep(TTL + 0.5)  # podgate's cached route (both servers) expires
        errors_before = pg.stderr_text().count("cannot connect to pod pod-3")
        seen = len(self.access_lines(pg, HENRY))
        subjects = self.imap_subjects_of(pg, HENRY)
        self.assertIn("pod-3b marker", subjects)
        self.assertEqual(self.last_access(pg, HENRY, seen)["backend"], second.imap_addr)
        # podgate went straight to the live server: no failed connect first
        self.assertEqual(pg.stderr_text().count("cannot connect to pod pod-3"), errors_before)


class AuthHttpService:
    """A small nginx-style auth_http service: checks the password against
    the world's users and sends everyone to pod-1's server for the protocol."""

    def __init__(self, passwords, servers):
        self.passwords = passwords
        self.servers = servers  # protocol -> "ip:port"
        self.requests = []
        self.crashed = False  # drop every connection without an answer
        service = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                if service.crashed:
                    self.close_connection = True
                    return
                headers = {k: v for k, v in self.headers.items()}
                service.requests.append(headers)
                user = urllib.request.unquote(headers.get("Auth-User", ""))
                password = urllib.request.unquote(headers.get("Auth-Pass", ""))
                protocol = headers.get("Auth-Protocol", "")
                self.send_response(200)
                if service.passwords.get(user) == password and protocol in service.servers:
                    host, port = service.servers[protocol].rsplit(":", 1)
                    self.send_header("Auth-Status", "OK")
                    self.send_header("Auth-Server", host)
                    self.send_header("Auth-Port", port)
                else:
                    self.send_header("Auth-Status", "Invalid login or password")
                    self.send_header("Auth-Wait", "1")
                    self.send_header("Auth-Error-Code", "535 5.7.8")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/mail/auth" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


class AuthHttpTest(podlib.NoSecretsMixin, podlib.WorldTestCase):
    extra_secrets = ["auth-http-guess-%d" % i for i in range(6)]
    world_kwargs = {"start_podgate": False, "pop3": True}

    @classmethod
    def set_up_more(cls):
        world = cls.world
        cls.service = AuthHttpService(world.passwords, {"imap": world.pod1.imap_addr,
                                                        "pop3": world.pod1.pop3_addr})
        world.podgate = world.new_podgate(
            "podgate-auth-http", {"directory": {"auth_http": cls.service.url}},
            listeners=LISTENERS[:2])
        cls.pg = world.podgate

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            if getattr(cls, "service", None):
                cls.service.close()

    def test_the_service_routes_and_podgate_logs_in(self):
        before = len(self.service.requests)
        im = podlib.PodIMAP4_SSL(self.pg.port("imap", "implicit"))
        im.login(DAVE, self.world.passwords[DAVE])
        self.assertIn("pod-1 marker", podlib.imap_subjects(im))
        client_ip, client_port = im.sock.getsockname()[:2]
        im.logout()
        request = self.service.requests[before]
        self.assertEqual(request["Auth-Method"], "plain")
        self.assertEqual(urllib.request.unquote(request["Auth-User"]), DAVE)
        self.assertEqual(urllib.request.unquote(request["Auth-Pass"]), self.world.passwords[DAVE])
        self.assertEqual(request["Auth-Protocol"], "imap")
        self.assertEqual(request["Auth-Login-Attempt"], "1")
        self.assertEqual(request["Client-IP"], client_ip)
        self.assertEqual(request["Auth-SSL"], "on")
        lines = self.pg.wait_access_log("%s:%d" % (client_ip, client_port))
        self.assertEqual(len(lines), 1)
        line = lines[0]
        self.assertEqual(line["directory"], "auth_http")
        self.assertEqual(line["backend"], self.world.pod1.imap_addr)
        # the password travelled to the service, never to the log
        self.assertNotIn(self.world.passwords[DAVE], self.pg.access_log_text())
        self.assertNotIn(self.world.passwords[DAVE], self.pg.stderr_text())

    def test_a_refusal_waits_and_counts_attempts_on_the_connection(self):
        before = len(self.service.requests)
        raw = podlib.RawIMAP(self.pg.port("imap", "implicit"))
        self._raws.append(raw)
        started = time.time()
        tagged, _ = raw.command("a1", "LOGIN %s wrong-password" % ALICE)
        self.assertGreaterEqual(time.time() - started, 0.95)  # the service's Auth-Wait: 1
        self.assertIn(b"NO [AUTHENTICATIONFAILED]", tagged)
        tagged, _ = raw.command("a2", "LOGIN %s %s" % (ALICE, podlib.imap_quote(
            self.world.passwords[ALICE])))
        self.assertIn(b"a2 OK", tagged)
        attempts = [r["Auth-Login-Attempt"] for r in self.service.requests[before:]]
        self.assertEqual(attempts, ["1", "2"])

    def test_refusals_of_the_service_meet_the_guard(self):
        # Each refusal waits the service's Auth-Wait (1 s): five are enough
        # for the guard's default user_address threshold; the sixth guess
        # never reaches the service.
        before = len(self.service.requests)
        for i in range(6):
            raw = podlib.RawIMAP(self.pg.port("imap", "implicit"), source="127.0.12.1")
            self._raws.append(raw)
            tagged, _ = raw.command("g", "LOGIN %s auth-http-guess-%d" % (GRACE, i))
            self.assertIn(b"NO [AUTHENTICATIONFAILED]", tagged)
            raw.close()
        asked = [r for r in self.service.requests[before:]
                 if urllib.request.unquote(r.get("Auth-User", "")) == GRACE]
        self.assertEqual(len(asked), 5)
        self.assertIn("lockout start: user_address %s from 127.0.12.1" % GRACE,
                      self.pg.stderr_text())

    def test_pop3_goes_through_the_service_too(self):
        pop = poplib.POP3_SSL("127.0.0.1", self.pg.port("pop3", "implicit"),
                              context=podlib.client_tls_context(), timeout=10)
        pop.user(BOB)
        pop.pass_(self.world.passwords[BOB])
        count, _ = pop.stat()
        self.assertGreaterEqual(count, 1)
        pop.quit()
        self.assertEqual(self.service.requests[-1]["Auth-Protocol"], "pop3")

    def test_a_service_that_drops_requests_means_unavailable(self):
        self.service.crashed = True  # every request dropped unanswered
        try:
            raw = podlib.RawIMAP(self.pg.port("imap", "implicit"))
            self._raws.append(raw)
            tagged, _ = raw.command("a1", "LOGIN %s %s" % (ERIN, podlib.imap_quote(
                self.world.passwords[ERIN])))
            self.assertIn(b"NO [UNAVAILABLE]", tagged)
        finally:
            self.service.crashed = False


if __name__ == "__main__":
    unittest.main()
