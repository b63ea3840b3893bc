#!/usr/bin/env python3
"""podgate local demo: two Dovecot pods with different mail, one podgate in
front of them (embedded directory file), all on 127.0.0.1 high ports in a
temp dir.

  1. alice (pod-1) and bob (pod-2) log in through podgate over IMAPS,
     IMAP+STARTTLS, POP3S and POP3+STLS; each sees the marker mail of their
     own pod. Then each submits a message through podgate's SMTP port (a
     private Postfix per pod behind it) and it lands in their own pod.
  2. N sequential logins through podgate and N straight to the pod, then the
     client-side login latency (p50/p90/p99/max) of each, and the mean of
     podgate's own phases_ms from its access log.

  python3 deploy/demo/demo.py [--logins 50] [--keep]

Needs: dovecot-imapd (not running as a service is fine), openssl, and the
podgate binary from PODGATE_BIN or <repo>/build/proxy/podgate. Run as root
(Dovecot drops to the mail user). Everything is stopped and removed at exit.
"""

import argparse
import os
import poplib
import smtplib
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
import podlib  # noqa: E402

PHASES = ("tls", "credentials", "directory", "backend_connect", "backend_auth", "total")


def pct(values, p):
    v = sorted(values)
    if not v:
        return float("nan")
    k = (len(v) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def timed_login(port, mode, user, password):
    """Client-side login time in ms: TCP connect, TLS (implicit or after
    STARTTLS), greeting, LOGIN until its tagged OK. Returns (ms, client addr)."""
    t0 = time.perf_counter()
    r = podlib.RawIMAP(port, mode="tls" if mode == "imaps" else "plain")
    try:
        if mode == "starttls":
            tagged, _ = r.command("s", "STARTTLS")
            if not tagged.startswith(b"s OK"):
                raise RuntimeError("STARTTLS refused: %r" % tagged)
            r.starttls_handshake()
        tagged, _ = r.command("a", "LOGIN %s %s" % (podlib.imap_quote(user), podlib.imap_quote(password)))
        ms = (time.perf_counter() - t0) * 1000
        if not tagged.startswith(b"a OK"):
            raise RuntimeError("login failed: %r" % tagged)
        r.send("z LOGOUT\r\n")
        try:
            r.read_response("z", timeout=5)
        except Exception:
            pass
        return ms, r.client_addr
    finally:
        r.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--logins", type=int, default=50, help="logins per path (default 50)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs, configs)")
    args = ap.parse_args()
    if args.keep:
        os.environ["PODLIB_KEEP"] = "1"

    binary = podlib.podgate_bin()
    if not os.access(binary, os.X_OK):
        sys.exit("podgate binary not found at %s: build it first, or set PODGATE_BIN" % binary)

    print("podgate demo — binary %s" % binary)
    print("starting two Dovecot pods and podgate on 127.0.0.1 ...")
    t0 = time.time()
    world = podlib.ImapWorld(pod_tls=True, pop3=True, smtp=True, listeners=[
        {"protocol": "imap", "tls": "implicit"}, {"protocol": "imap", "tls": "starttls"},
        {"protocol": "pop3", "tls": "implicit"}, {"protocol": "pop3", "tls": "starttls"},
        {"protocol": "smtp", "tls": "starttls"}, {"protocol": "smtp", "tls": "implicit"}])
    try:
        pg = world.podgate
        print("  ready in %.1f s, temp dir %s" % (time.time() - t0, world.root))
        print("  pod-1   imap 127.0.0.1:%d   imaps 127.0.0.1:%d" % (world.pod1.imap_port, world.pod1.imaps_port))
        print("  pod-2   imap 127.0.0.1:%d   imaps 127.0.0.1:%d" % (world.pod2.imap_port, world.pod2.imaps_port))
        print("  podgate imaps 127.0.0.1:%d  imap+STARTTLS 127.0.0.1:%d" % (
            pg.port("imap", "implicit"), pg.port("imap", "starttls")))
        print("          pop3s 127.0.0.1:%d  pop3+STLS     127.0.0.1:%d" % (
            pg.port("pop3", "implicit"), pg.port("pop3", "starttls")))
        print("          smtps 127.0.0.1:%d  submission    127.0.0.1:%d (Postfix per pod behind)" % (
            pg.port("smtp", "implicit"), pg.port("smtp", "starttls")))
        print("  directory: alice@example.com -> pod-1, bob@example.com -> pod-2, example.org -> pod-2")
        print()

        print("1. who lands where (marker mail in each pod's INBOX)")
        for user in ("alice@example.com", "bob@example.com"):
            for how in ("IMAPS", "STARTTLS"):
                if how == "IMAPS":
                    im = podlib.PodIMAP4_SSL(pg.port("imap", "implicit"))
                else:
                    im = podlib.PodIMAP4(pg.port("imap", "starttls"))
                    im.starttls_noverify()
                im.login(user, world.passwords[user])
                subjects = podlib.imap_subjects(im)
                im.logout()
                pod = ("pod-1" if "pod-1 marker" in subjects else
                       "pod-2" if "pod-2 marker" in subjects else "?")
                print("  %-18s via %-8s -> %s   (INBOX subjects: %s)" % (user, how, pod, ", ".join(subjects)))
            for how in ("POP3S", "STLS"):
                if how == "POP3S":
                    p = poplib.POP3_SSL("127.0.0.1", pg.port("pop3", "implicit"),
                                        context=podlib.client_tls_context())
                else:
                    p = poplib.POP3("127.0.0.1", pg.port("pop3", "starttls"))
                    p.stls(context=podlib.client_tls_context())
                p.user(user)
                p.pass_(world.passwords[user])
                count, _ = p.stat()
                subjects = []
                for i in range(1, count + 1):
                    for line in p.top(i, 0)[1]:
                        if line.lower().startswith(b"subject:"):
                            subjects.append(line[8:].strip().decode())
                p.quit()
                pod = ("pod-1" if "pod-1 marker" in subjects else
                       "pod-2" if "pod-2 marker" in subjects else "?")
                print("  %-18s via %-8s -> %s   (maildrop subjects: %s)" % (user, how, pod, ", ".join(subjects)))
        print()

        print("2. submission through podgate (SMTP STARTTLS, AUTH) lands in the sender's pod")
        for user, pod in (("alice@example.com", world.pod1), ("bob@example.com", world.pod2)):
            subject = "demo submission from %s %d" % (user.split("@")[0], int(time.time()))
            smtp = smtplib.SMTP("127.0.0.1", pg.port("smtp", "starttls"), timeout=30)
            smtp.starttls(context=podlib.client_tls_context())
            smtp.login(user, world.passwords[user])
            smtp.sendmail(user, [user], podlib.make_message(subject, to=user))
            smtp.quit()
            found = podlib.wait_subject(pod, user, world.passwords[user], subject, timeout=15)
            print("  %-18s -> %s INBOX: %s" % (user, pod.name,
                                                 "\"%s\" delivered" % subject if found is not None else "NOT FOUND"))
        print()

        n = args.logins
        user, pw = "alice@example.com", world.passwords["alice@example.com"]
        paths = [
            ("direct   IMAP (no TLS) -> pod-1", world.pod1.imap_port, "plain"),
            ("direct   IMAPS         -> pod-1", world.pod1.imaps_port, "imaps"),
            ("podgate  IMAPS         -> pod-1", pg.port("imap", "implicit"), "imaps"),
            ("podgate  STARTTLS      -> pod-1", pg.port("imap", "starttls"), "starttls"),
        ]
        print("3. %d sequential logins per path, interleaved (client-side: connect -> LOGIN OK)" % n)
        for label, port, mode in paths:  # warm-up, not counted
            timed_login(port, mode, user, pw)
        time.sleep(0.3)
        mark = len(pg.access_log_lines())
        times = {label: [] for label, _, _ in paths}
        for _ in range(n):
            for label, port, mode in paths:
                ms, _ = timed_login(port, mode, user, pw)
                times[label].append(ms)
        print("  %-32s %8s %8s %8s %8s   (ms)" % ("path", "p50", "p90", "p99", "max"))
        for label, _, _ in paths:
            v = times[label]
            print("  %-32s %8.2f %8.2f %8.2f %8.2f" % (label, pct(v, 50), pct(v, 90), pct(v, 99), max(v)))
        print()

        print("4. podgate's own view (mean phases_ms from its access log)")
        time.sleep(0.3)
        log_lines = pg.access_log_lines()[mark:]  # the timed sessions only
        print("  %-32s %s" % ("path", " ".join("%15s" % p for p in PHASES)))
        for label, port, _ in paths:
            if not label.startswith("podgate"):
                continue
            listen = "127.0.0.1:%d" % port
            rows = [l for l in log_lines if l.get("listener") == listen and l.get("result") == "ok"]
            means = []
            for p in PHASES:
                vals = [r.get("phases_ms", {}).get(p) for r in rows]
                vals = [x for x in vals if isinstance(x, (int, float))]
                means.append("%15s" % ("%.3f" % (sum(vals) / len(vals)) if vals else "-"))
            print("  %-32s %s   (%d of %d sessions logged)" % (label, " ".join(means), len(rows), n))
        print()
        print("notes: the pod's IMAPS and podgate share one self-signed ECDSA P-256 certificate;")
        print("       the client is Python (about 1 ms CPU per TLS login itself), all on one machine.")
    finally:
        world.stop()
        world._rm_root()
        podlib.run_cleanups()
    return 0


if __name__ == "__main__":
    sys.exit(main())
