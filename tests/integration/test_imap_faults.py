#!/usr/bin/env python3
"""podgate when clients and pods misbehave at awkward moments: a client that
resets while podgate still has something to tell it, a TLS client that sends
garbage next to healthy sessions, and a client that half-closes after LOGOUT.
A scripted slow pod (answers the login after 0.5 s) makes the timing
deterministic; everything else is the real Dovecot of ImapWorld.

  python3 -m unittest -v tests/integration/test_imap_faults.py
"""

import os
import socket
import ssl
import struct
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import podlib  # noqa: E402
from podlib import imap_quote, plain_b64  # noqa: E402

ALICE = "alice@example.com"
SLOW_USER = "slow@example.com"
# Longer than the session's close grace period (5 s), after which a session
# left in a confused state would touch its freed client stream.
CLOSE_GRACE_S = 5.5


class SlowPod:
    """An IMAP server that greets at once, answers every login OK after
    `delay` seconds, and then answers every tagged command OK."""

    def __init__(self, delay=0.5):
        self.delay = delay
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.logins = 0
        self.stopping = False
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def _accept_loop(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            conn.sendall(b"* OK [CAPABILITY IMAP4rev1 SASL-IR ID AUTH=PLAIN] slow pod\r\n")
            buffer = b""
            while True:
                data = conn.recv(4096)
                if not data:
                    return
                buffer += data
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    tag = line.split(b" ", 1)[0]
                    if b" AUTHENTICATE " in line or b" LOGIN " in line:
                        self.logins += 1
                        time.sleep(self.delay)
                        conn.sendall(tag + b" OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n")
                    else:
                        conn.sendall(tag + b" OK done\r\n")
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.stopping = True
        self.sock.close()


def reset(client):
    """Close a RawIMAP client with an RST instead of a FIN (SO_LINGER on,
    zero timeout)."""
    client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.sock.close()


def send_under_tls(client, data):
    """Writes bytes straight to a TLS client's TCP socket, bypassing TLS."""
    with socket.socket(fileno=os.dup(client.sock.fileno())) as raw:
        raw.sendall(data)


class ImapFaultsTest(podlib.NoSecretsMixin, podlib.WorldTestCase):

    @classmethod
    def setUpClass(cls):
        cls.world = podlib.ImapWorld(start_podgate=False)
        try:
            cls.slow = SlowPod()
            podlib.register_cleanup(cls.slow.close)
            directory = cls.world.directory()
            directory["pods"]["pod-slow"] = {"imap": [cls.slow.addr]}
            directory["users"][SLOW_USER] = {"pod": "pod-slow"}
            cls.world.podgate = cls.world.new_podgate("podgate", directory=directory)
            cls.pg = cls.world.podgate
        except Exception:
            cls.world.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.slow.close()
        super().tearDownClass()

    def pw(self, user):
        return self.world.passwords.get(user, "slow-password")

    def assert_still_serving(self):
        self.assertTrue(self.pg.alive(), "podgate died:\n" + self.pg.stderr_text()[-3000:])
        r = self.raw()
        self.assertTagged(self.login(r, ALICE, self.pw(ALICE)), "L", "OK")
        tagged, _ = r.command("n", "NOOP")
        self.assertTagged(tagged, "n", "OK")

    def test_client_resets_while_podgate_answers_a_sasl_step(self):
        for pipelined in ("", "=\r\n", "AGZvbwBiYXI=\r\n"):
            for _ in range(3):
                r = self.raw()
                r.send("a AUTHENTICATE PLAIN\r\n" + pipelined)
                reset(r)
        time.sleep(CLOSE_GRACE_S)
        self.assert_still_serving()

    def test_client_resets_while_the_pod_login_is_under_way(self):
        logins_before = self.slow.logins
        for _ in range(3):
            r = self.raw()
            # NOOP pipelined behind the login goes to the pod after the OK.
            r.send("a LOGIN %s %s\r\nb NOOP\r\n" % (SLOW_USER, imap_quote("pw")))
            time.sleep(0.1)  # the login is at the pod now
            reset(r)
        time.sleep(self.slow.delay + CLOSE_GRACE_S)
        self.assertEqual(self.slow.logins - logins_before, 3)
        self.assert_still_serving()
        lines = [l for l in self.pg.access_log_lines() if l.get("user") == SLOW_USER]
        self.assertGreaterEqual(len(lines), 3)
        for line in lines[-3:]:
            self.assertEqual(line["pod"], "pod-slow")
            self.assertIn(line["close_reason"], ("client_closed",))

    def test_tls_garbage_from_one_client_does_not_hurt_others(self):
        healthy = self.raw()
        self.assertTagged(self.login(healthy, ALICE, self.pw(ALICE)), "L", "OK")
        waiting = self.raw()  # not logged in yet
        for _ in range(5):
            bad = self.raw()  # handshake done, greeting read
            # Under the TLS layer: a forged application-data record, then
            # junk. A fatal record error on an established connection.
            send_under_tls(bad, b"\x17\x03\x03\x00\x20" + os.urandom(32) + b"\xff" * 64)
            try:
                bad.read_until_closed(timeout=3)
            except socket.timeout:  # an OSError too: it must come first
                self.fail("podgate kept a connection open after a forged TLS record")
            except (ssl.SSLError, OSError, podlib.Closed):
                pass  # closed with an alert or a reset: as it should be
            for tag, session in (("h", healthy), ("w", waiting)):
                tagged, _ = session.command(tag, "NOOP")
                self.assertTagged(tagged, tag, "OK")
        self.assertTagged(self.login(waiting, "bob@example.com", self.pw("bob@example.com")),
                          "L", "OK")

    def test_half_close_after_logout_still_gets_the_pods_goodbye(self):
        # A memory-BIO TLS client, so we can send close_notify + FIN and keep
        # reading: what scripts and `nc`-like tools do after LOGOUT.
        raw = podlib.connect(self.pg.port("imap", "implicit"))
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = podlib.client_tls_context().wrap_bio(incoming, outgoing,
                                                   server_hostname="127.0.0.1")

        def pump_out():
            data = outgoing.read()
            if data:
                raw.sendall(data)

        def read_plain(until, timeout=5.0):
            got = b""
            deadline = time.time() + timeout
            while until not in got and time.time() < deadline:
                try:
                    got += tls.read(65536)
                    continue
                except ssl.SSLWantReadError:
                    pass
                except ssl.SSLZeroReturnError:
                    break
                raw.settimeout(max(0.05, deadline - time.time()))
                try:
                    data = raw.recv(65536)
                except socket.timeout:
                    break
                if not data:
                    incoming.write_eof()
                    try:
                        got += tls.read(65536)
                    except (ssl.SSLError, ssl.SSLZeroReturnError):
                        pass
                    break
                incoming.write(data)
            return got

        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                pump_out()
                incoming.write(raw.recv(65536))
        pump_out()
        self.assertIn(b"* OK", read_plain(b"\r\n"))
        tls.write(("a AUTHENTICATE PLAIN %s\r\n" % plain_b64(ALICE, self.pw(ALICE))).encode())
        pump_out()
        self.assertIn(b"a OK", read_plain(b"a OK"))
        tls.write(b"b LOGOUT\r\n")
        try:
            tls.unwrap()  # queues our close_notify
        except ssl.SSLWantReadError:
            pass
        pump_out()
        raw.shutdown(socket.SHUT_WR)
        answer = read_plain(b"b OK")
        raw.close()
        self.assertIn(b"* BYE", answer)
        self.assertIn(b"b OK", answer)


if __name__ == "__main__":
    unittest.main()
