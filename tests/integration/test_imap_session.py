#!/usr/bin/env python3
"""podgate IMAP relay after login: IDLE push, a 20 MB message byte for byte,
the pod dropping the session, several sessions at once.

  python3 -m unittest -v tests/integration/test_imap_session.py
"""

import hashlib
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import podlib  # noqa: E402
from podlib import imap_quote, PodIMAP4, PodIMAP4_SSL, imap_subjects  # noqa: E402

GRACE = "grace@example.com"  # lives on pod-2


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class ImapSessionTest(podlib.NoSecretsMixin, podlib.WorldTestCase):

    def pw(self, user):
        return self.world.passwords[user]

    def test_idle_push_arrives_within_2s(self):
        r = self.raw()
        self.assertTagged(self.login(r, GRACE, self.pw(GRACE), tag="a"), "a", "OK")
        tagged, untagged = r.command("b", "SELECT INBOX")
        self.assertTagged(tagged, "b", "OK")
        exists = [int(l.split()[1]) for l in untagged if l.endswith(b" EXISTS")]
        self.assertEqual(len(exists), 1, untagged)
        n = exists[0]
        r.send("t IDLE\r\n")
        self.assertTrue(r.readline().startswith(b"+"))
        t0 = time.time()
        self.world.pod2.deliver(GRACE, podlib.make_message("idle push test"))
        seen = None
        while time.time() - t0 < 2.0:
            try:
                line = r.readline(timeout=max(0.01, 2.0 - (time.time() - t0)))
            except Exception:
                break
            if line.endswith(b" EXISTS"):
                seen = line
                break
        self.assertIsNotNone(seen, "no EXISTS within 2 s of delivery")
        self.assertEqual(seen, b"* %d EXISTS" % (n + 1))
        r.send("DONE\r\n")
        tagged, _ = r.read_response("t")
        self.assertTagged(tagged, "t", "OK")

    def test_big_message_byte_identical(self):
        big = podlib.make_big_message(20 * 1024 * 1024, subject="20 MB through podgate")
        want = hashlib.sha256(big).hexdigest()
        self.world.pod2.deliver(GRACE, big)

        def fetch(im):
            im.login(GRACE, self.pw(GRACE))
            typ, data = im.select("INBOX", readonly=True)
            self.assertEqual(typ, "OK")
            typ, data = im.search(None, '(SUBJECT "20 MB through podgate")')
            self.assertEqual(typ, "OK")
            seq = data[0].split()[-1].decode()
            typ, data = im.fetch(seq, "(BODY.PEEK[])")
            self.assertEqual(typ, "OK")
            body = data[0][1]
            return im, body

        t0 = time.time()
        mark = self.log_mark()
        proxied_im, proxied = fetch(PodIMAP4_SSL(self.pg.port("imap", "implicit"), timeout=60))
        t_proxied = time.time() - t0
        client = proxied_im.client_addr()
        proxied_im.logout()
        direct_im, direct = fetch(PodIMAP4(self.world.pod2.imap_port, timeout=60))
        direct_im.logout()
        self.assertEqual(len(direct), len(big), "direct fetch from the pod changed the message")
        self.assertEqual(hashlib.sha256(direct).hexdigest(), want)
        self.assertEqual(len(proxied), len(direct))
        self.assertTrue(proxied == direct, "proxied bytes differ from direct bytes")
        self.assertEqual(hashlib.sha256(proxied).hexdigest(), want)
        self.assertLess(t_proxied, 30)
        line = self.access_line(client, since=mark)
        self.assertGreaterEqual(line.get("bytes_to_client") or 0, len(big))

    def test_big_append_byte_identical(self):
        big = podlib.make_big_message(8 * 1024 * 1024, subject="8 MB appended through podgate")
        im = PodIMAP4_SSL(self.pg.port("imap", "implicit"), timeout=60)
        im.login("bob@example.com", self.pw("bob@example.com"))
        typ, _ = im.append("INBOX", None, None, big)
        self.assertEqual(typ, "OK")
        im.logout()
        direct = PodIMAP4(self.world.pod2.imap_port, timeout=60)
        direct.login("bob@example.com", self.pw("bob@example.com"))
        direct.select("INBOX", readonly=True)
        typ, data = direct.search(None, '(SUBJECT "8 MB appended through podgate")')
        seq = data[0].split()[-1].decode()
        typ, data = direct.fetch(seq, "(BODY.PEEK[])")
        direct.logout()
        self.assertEqual(hashlib.sha256(data[0][1]).hexdigest(), hashlib.sha256(big).hexdigest())

    def test_slow_reader_backpressure(self):
        # the pod sends 32 MB, the client reads nothing for 2 s: podgate must
        # stop reading from the pod instead of buffering the message. A bounded
        # relay grows by well under 1 MB (about 11 MB in an ASan build);
        # buffering the message would grow it by 32 MB or more.
        size = 32 * 1024 * 1024
        big = podlib.make_big_message(size, subject="32 MB for a slow reader")
        self.world.pod2.deliver(GRACE, big)
        r = self.raw()
        self.assertTagged(self.login(r, GRACE, self.pw(GRACE), tag="a"), "a", "OK")
        tagged, _ = r.command("b", "SELECT INBOX")
        self.assertTagged(tagged, "b", "OK")
        tagged, untagged = r.command("c", 'UID SEARCH SUBJECT "32 MB for a slow reader"')
        uid = [l for l in untagged if l.startswith(b"* SEARCH")][0].split()[-1].decode()
        pid = self.pg.proc.pid
        before = rss_kb(pid)
        r.send("d UID FETCH %s (BODY.PEEK[])\r\n" % uid)
        time.sleep(2.0)
        during = rss_kb(pid)
        tagged, untagged = r.read_response("d", timeout=60)
        self.assertTagged(tagged, "d", "OK")
        body = untagged[0].split(b"}\r\n", 1)[1]
        self.assertTrue(body.startswith(big[:100]))
        self.assertEqual(hashlib.sha256(body[:len(big)]).hexdigest(), hashlib.sha256(big).hexdigest())
        self.assertLess(during - before, size // 2 // 1024,
                        "podgate grew by %d kB while the client was not reading" % (during - before))

    def test_pod_drops_session(self):
        r = self.raw()
        self.assertTagged(self.login(r, "erin@example.org", self.pw("erin@example.org"), tag="a"),
                          "a", "OK")
        tagged, _ = r.command("b", "SELECT INBOX")
        self.assertTagged(tagged, "b", "OK")
        res = self.world.pod2.kick("erin@example.org")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertTrue(r.is_closed(5), "client connection still open after the pod dropped it")
        client = r.client_addr
        r.close()
        line = self.access_line(client)
        self.assertEqual(line.get("result"), "ok")
        self.assertEqual(line.get("close_reason"), "backend_closed")

    def test_concurrent_sessions(self):
        users = ["alice@example.com", "bob@example.com", "erin@example.org",
                 "frank@example.com", "dave@example.com"] * 4
        errors = []
        start = threading.Barrier(len(users))

        def one(i, user):
            try:
                start.wait(10)
                if i % 2:
                    im = PodIMAP4_SSL(self.pg.port("imap", "implicit"))
                else:
                    im = PodIMAP4(self.pg.port("imap", "starttls"))
                    im.starttls_noverify()
                im.login(user, self.pw(user))
                subj = imap_subjects(im)
                if self.world.marker_of(user) not in subj:
                    errors.append("%s saw %r" % (user, subj))
                im.logout()
            except Exception as e:  # collected, reported below
                errors.append("%s: %r" % (user, e))

        threads = [threading.Thread(target=one, args=(i, u)) for i, u in enumerate(users)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
            self.assertFalse(t.is_alive(), "a session still hangs after 60 s")
        self.assertEqual(errors, [])


if __name__ == "__main__":
    unittest.main()
