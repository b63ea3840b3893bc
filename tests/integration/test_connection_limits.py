#!/usr/bin/env python3
"""Connection limits against real Dovecot pods: connections per client
address, the global cap (accepting pauses, nothing is dropped), refused
logins per connection on IMAP, POP3 and SMTP, and 2,000 slow clients that
cost bounded memory and are closed at the pre-auth timeout.

  python3 -m unittest -v tests/integration/test_connection_limits.py

The brute-force protection is off in these podgates: its tarpit would slow
down the many refused logins made here (it has its own tests).
"""

import os
import resource
import selectors
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import adminlib  # noqa: E402
import podlib  # noqa: E402
from podlib import plain_b64  # noqa: E402

ALICE = "alice@example.com"
WRONG = podlib.WRONG_PASSWORDS[0]
NOBODY = "nobody@example.net"  # in no directory: refused by podgate itself

PER_ADDRESS = 3
AUTH_ATTEMPTS = 2
LISTENERS = [
    {"protocol": "imap", "tls": "implicit"},
    {"protocol": "imap", "tls": "starttls"},
    {"protocol": "pop3", "tls": "implicit"},
    {"protocol": "smtp", "tls": "implicit"},
]
QUICK = {
    "timeouts": {"auth_failure_delay_ms": 0},
}


def config(limits, **more):
    extra = {"limits": limits, "admin": {"listen": "127.0.0.1:%d" % podlib.free_port()}}
    extra.update(QUICK)
    extra.update(more)
    return extra


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for %d" % pid)


def raise_open_file_limit(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class ConnectionLimitsTest(podlib.NoSecretsMixin, podlib.WorldTestCase):

    @classmethod
    def setUpClass(cls):
        cls.world = podlib.ImapWorld(start_podgate=False, pop3=True)
        try:
            cls.world.podgate = cls.world.new_podgate(
                "podgate-limits",
                config({"max_connections_per_address": PER_ADDRESS,
                        "max_auth_attempts": AUTH_ATTEMPTS}),
                listeners=LISTENERS)
            cls.pg = cls.world.podgate
            # default limits and protection, for the secrets check (it makes
            # three refused logins on one connection)
            cls.secrets_pg = cls.world.new_podgate("podgate-defaults")
        except Exception:
            cls.world.stop()
            raise

    def metric(self, pg, key):
        return adminlib.AdminClient(pg).metrics().get(key, 0)

    def expect_greeting(self, r, prefix=b"* OK"):
        self.assertTrue(r.greeting and r.greeting.startswith(prefix), r.greeting)

    def wait_released(self, pg, client):
        """podgate has logged (so closed) the session from `client`."""
        self.assertTrue(pg.wait_access_log(client, timeout=5), "no access-log line for " + client)

    # ---------------------------------------------------------------- per address

    def test_per_address_limit(self):
        limited = 'podgate_connections_limited_total{limit="max_connections_per_address"}'
        before = self.metric(self.pg, limited)
        held = [self.raw(mode="plain", source="127.0.0.1") for _ in range(PER_ADDRESS)]
        for r in held:
            self.expect_greeting(r)

        over = self.raw(mode="plain", source="127.0.0.1")
        self.assertEqual(over.greeting, b"* BYE Too many connections from your address.")
        self.assertTrue(over.is_closed(3), "the connection over the limit was left open")
        line = self.access_line(over.client_addr)
        self.assertEqual(line.get("close_reason"), "too_many_connections")
        self.assertEqual(line.get("result"), "no_login")

        # implicit TLS: the answer comes after the handshake, readable
        over_tls = self.raw(mode="tls", source="127.0.0.1")
        self.assertEqual(over_tls.greeting, b"* BYE Too many connections from your address.")
        self.assertTrue(over_tls.is_closed(3))

        # another address has its own count, and logs in
        other = self.raw(mode="tls", source="127.0.0.2")
        self.expect_greeting(other)
        self.assertTagged(self.login(other, ALICE, self.world.passwords[ALICE]), "L", "OK")

        # one closes: 127.0.0.1 gets in again
        held[0].close()
        self.wait_released(self.pg, held[0].client_addr)
        again = self.raw(mode="plain", source="127.0.0.1")
        self.expect_greeting(again)
        self.assertEqual(self.metric(self.pg, limited), before + 2)
        self.assertIn("limits.max_connections_per_address", self.pg.stderr_text())

    def test_per_address_limit_answers_in_each_protocol(self):
        held = [self.raw(mode="plain", source="127.0.0.3") for _ in range(PER_ADDRESS)]
        for r in held:
            self.expect_greeting(r)
        pop3 = self.raw(port=self.pg.port("pop3", "implicit"), source="127.0.0.3")
        self.assertEqual(pop3.greeting,
                         b"-ERR [SYS/TEMP] Too many connections from your address.")
        self.assertTrue(pop3.is_closed(3))
        smtp = self.raw(port=self.pg.port("smtp", "implicit"), source="127.0.0.3")
        self.assertEqual(smtp.greeting, b"421 4.7.0 Too many connections from your address")
        self.assertTrue(smtp.is_closed(3))

    # ---------------------------------------------------------------- refused logins

    def test_max_auth_attempts_imap(self):
        r = self.raw(source="127.0.0.4")
        self.assertTagged(self.login(r, ALICE, WRONG, tag="a"), "a", "NO", "AUTHENTICATIONFAILED")
        # a cancelled exchange is no refused login
        r.send("c AUTHENTICATE PLAIN\r\n")
        self.assertEqual(r.readline(), b"+ ")
        r.send("*\r\n")
        tagged, _ = r.read_response("c")
        self.assertTagged(tagged, "c", "BAD")
        r.send("b AUTHENTICATE PLAIN %s\r\n" % plain_b64(ALICE, WRONG))
        tagged, _ = r.read_response("b")
        self.assertTagged(tagged, "b", "NO", "AUTHENTICATIONFAILED")
        rest = r.read_until_closed(timeout=3)
        self.assertEqual(rest, [b"* BYE Too many authentication failures."])
        line = self.access_line(r.client_addr)
        self.assertEqual(line.get("close_reason"), "too_many_auth_attempts")
        self.assertEqual(line.get("result"), "auth_failed")
        key = 'podgate_connections_limited_total{limit="max_auth_attempts"}'
        self.assertGreaterEqual(self.metric(self.pg, key), 1)

    def test_login_after_a_refusal_still_works(self):
        r = self.raw(source="127.0.0.4")
        self.assertTagged(self.login(r, ALICE, WRONG, tag="a"), "a", "NO")
        self.assertTagged(self.login(r, ALICE, self.world.passwords[ALICE], tag="b"), "b", "OK")

    def test_max_auth_attempts_pop3(self):
        r = self.raw(port=self.pg.port("pop3", "implicit"), source="127.0.0.4")
        self.assertTrue(r.greeting.startswith(b"+OK"), r.greeting)
        for attempt in range(AUTH_ATTEMPTS):
            r.send("USER %s\r\n" % ALICE)
            self.assertEqual(r.readline(), b"+OK")
            r.send("PASS %s\r\n" % WRONG)
            self.assertTrue(r.readline().startswith(b"-ERR [AUTH]"))
        # POP3 has no unsolicited replies: the last -ERR, then the close
        self.assertEqual(r.read_until_closed(timeout=3), [])
        line = self.access_line(r.client_addr)
        self.assertEqual(line.get("close_reason"), "too_many_auth_attempts")

    def test_max_auth_attempts_smtp(self):
        r = self.raw(port=self.pg.port("smtp", "implicit"), source="127.0.0.4")
        self.assertTrue(r.greeting.startswith(b"220 "), r.greeting)
        r.send("EHLO client.example\r\n")
        while not r.readline().startswith(b"250 "):
            pass
        for attempt in range(AUTH_ATTEMPTS):
            r.send("AUTH PLAIN %s\r\n" % plain_b64(NOBODY, WRONG))
            self.assertTrue(r.readline().startswith(b"535 5.7.8"))
        self.assertEqual(r.read_until_closed(timeout=3),
                         [b"421 4.7.0 Too many authentication failures, closing connection"])
        line = self.access_line(r.client_addr)
        self.assertEqual(line.get("close_reason"), "too_many_auth_attempts")

    # ---------------------------------------------------------------- global cap

    def test_global_cap_pauses_accepting(self):
        cap, extra = 4, 3
        pg = self.world.new_podgate(
            "podgate-cap", config({"max_connections": cap, "max_connections_per_address": 0},
                                  workers=2))
        reached = "podgate_connection_limit_reached_total"
        # the start-up probes (one connection per listener) must be gone first
        deadline = time.time() + 5
        while self.metric(pg, "podgate_sessions_active") and time.time() < deadline:
            time.sleep(0.05)
        greeted = [self.raw(mode="plain", pg=pg) for _ in range(cap)]
        for r in greeted:
            self.expect_greeting(r)
        waiting = [self.raw(mode="plain", pg=pg, read_greeting=False) for _ in range(extra)]
        for r in waiting:  # connected (the kernel's backlog), not greeted, not reset
            r.sock.settimeout(0.7)
            with self.assertRaises(socket.timeout):
                r.sock.recv(100)
        self.assertEqual(self.metric(pg, reached), 1, pg.stderr_text())
        self.assertGreaterEqual(self.metric(pg, "podgate_listeners_paused"), 1)

        # each close lets one waiting connection in, on whichever worker
        for i in range(extra):
            greeted[i].close()
            self.wait_released(pg, greeted[i].client_addr)
            deadline = time.time() + 3
            got = []
            while len(got) < i + 1 and time.time() < deadline:
                got = [r for r in waiting if self._greeted(r, 0.05)]
            self.assertEqual(len(got), i + 1,
                             "waiting connections greeted after %d closes" % (i + 1))
        for r in waiting:
            self.expect_greeting(r)
        # all in; podgate runs on and logged the episode once each way
        self.assertEqual(self.metric(pg, "podgate_listeners_paused"), 0)
        tagged, _ = waiting[0].command("n", "NOOP")
        self.assertTagged(tagged, "n", "OK")
        for r in greeted[extra:] + waiting:
            r.close()
        deadline = time.time() + 5
        while "accepting normally again" not in pg.stderr_text() and time.time() < deadline:
            time.sleep(0.05)
        self.assertTrue(pg.alive())
        text = pg.stderr_text()
        self.assertEqual(text.count("limits.max_connections reached"), 1, text)
        self.assertEqual(text.count("accepting normally again"), 1, text)

    @staticmethod
    def _greeted(r, timeout):
        if r.greeting is not None:
            return True
        try:
            r.greeting = r.readline(timeout)
        except socket.timeout:
            return False
        return True

    # ---------------------------------------------------------------- slow clients

    def test_slow_clients_cost_bounded_memory_and_time_out(self):
        silent, dribbling, preauth = 2000, 20, 3
        raise_open_file_limit(silent + dribbling + 200)
        timeouts = {"preauth_seconds": preauth, "auth_failure_delay_ms": 0}
        pg = self.world.new_podgate("podgate-slow", config({}, workers=2, timeouts=timeouts),
                                    listeners=[{"protocol": "imap", "tls": "starttls"}])
        port = pg.port("imap", "starttls")
        # warm up: one full login, so TLS and the directory are loaded
        self.assertTagged(self.login(self.raw_starttls(pg=pg), ALICE, self.world.passwords[ALICE]),
                          "L", "OK")
        time.sleep(0.3)
        before = rss_kb(pg.proc.pid)

        sockets = []
        t0 = time.time()
        try:
            for i in range(silent + dribbling):
                # 50 per source address: under the default per-address limit
                source = "127.0.2.%d" % (1 + i // 50)
                s = socket.create_connection(("127.0.0.1", port), timeout=5,
                                             source_address=(source, 0))
                s.setblocking(False)
                sockets.append(s)
            opened = time.time() - t0
            # every one greeted: podgate holds them all now
            greeted = read_all(sockets, lambda data: b"\r\n" in data, t0 + preauth - 0.3)
            self.assertEqual(len(greeted), len(sockets), "not all slow clients were greeted")
            held = rss_kb(pg.proc.pid)

            # a normal login still works while they are held
            r = self.raw_starttls(pg=pg)
            self.assertTagged(self.login(r, ALICE, self.world.passwords[ALICE]), "L", "OK")
            r.close()

            closed = read_all(sockets, None, t0 + opened + preauth + 3,
                              dribble=sockets[silent:])
            elapsed = time.time() - t0
        finally:
            for s in sockets:
                s.close()
        growth = held - before
        per_connection = growth / len(sockets)
        print("\n  %d slow clients opened in %.2f s; podgate RSS %.1f MB before, %.1f MB while "
              "held: +%.1f MB, %.1f KB per connection; all closed %.2f s after the first opened"
              % (len(sockets), opened, before / 1024, held / 1024, growth / 1024,
                 per_connection, elapsed))
        self.assertEqual(len(closed), len(sockets),
                         "slow clients still open after the pre-auth timeout")
        # closed at the timeout (none much earlier), with the goodbye
        self.assertGreaterEqual(min(at for at, _ in closed.values()) - t0, preauth - 0.2)
        self.assertTrue(all(b"* BYE" in data for _, data in closed.values()))
        self.assertLess(growth, 40 * 1024, "2,000 idle connections grew RSS by %d KB" % growth)
        self.assertLess(per_connection, 16)
        self.assertTrue(pg.alive())
        timed_out = [o for o in pg.access_log_lines() if o.get("close_reason") == "preauth_timeout"]
        self.assertGreaterEqual(len(timed_out), len(sockets))


def read_all(sockets, enough, deadline, dribble=()):
    """Reads every socket until `enough(data)` holds, or with enough=None
    until the server closes it; the `dribble` sockets get one more byte each
    half second meanwhile. Returns {socket: (time done, bytes read)}."""
    sel = selectors.DefaultSelector()
    for s in sockets:
        sel.register(s, selectors.EVENT_READ, bytearray())
    done = {}
    next_dribble = time.time()
    while len(done) < len(sockets) and time.time() < deadline:
        if dribble and time.time() >= next_dribble:
            for s in dribble:
                if s not in done:
                    try:
                        s.send(b"x")
                    except OSError:
                        pass
            next_dribble += 0.5
        for key, _ in sel.select(timeout=0.1):
            s, data = key.fileobj, key.data
            try:
                chunk = s.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                chunk = b""
            data += chunk
            if (enough(data) if enough else not chunk):
                done[s] = (time.time(), bytes(data))
                sel.unregister(s)
    sel.close()
    return done


if __name__ == "__main__":
    unittest.main()
