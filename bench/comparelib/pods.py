"""The pod every target logs in to: one Dovecot (IMAP, POP3, their TLS
ports, auth and LMTP listeners) and one Postfix submission server in front
of it, both with TLS of their own for the direct runs and plaintext for the
proxies.

One pod, not several: the direct runs can only aim at one address, and the
proxied runs must give the pod exactly the same work, so that "proxy minus
direct" is the cost of the proxy alone.
"""

import os

from . import paths  # noqa: F401  (puts tests/integration on sys.path)
import podlib

DOMAIN = "example.com"


def make_users(prefix, count):
    """{user: password}; passwords differ per user so that a proxy that
    mixes up sessions is caught by the pod."""
    return {"%s%d@%s" % (prefix, n, DOMAIN): "pw-%s%d-7f3a" % (prefix, n) for n in range(count)}


def write_users_file(path, users):
    """The `user password` lines podgate-bench (--users-file) and the
    auth_http service read."""
    with open(path, "w") as f:
        for user, password in sorted(users.items()):
            f.write("%s %s\n" % (user, password))
    return path


def dovecot_load_conf(max_sessions):
    """Overrides of podlib's test limits for load: many logged-in sessions
    per imap/pop3 process, each process kept for many sessions in turn
    (service_count = 0; Dovecot's default of one session per process would
    mean 10,000 processes for the held sessions and a fork per login), one
    login process per core, and no per-user+IP cap (every proxied session
    comes from 127.0.0.1)."""
    per_process = 1000
    processes = max_sessions // per_process + 8
    return (
        "service imap-login {\n  process_min_avail = 2\n  client_limit = 2000\n}\n"
        "service pop3-login {\n  process_min_avail = 2\n  client_limit = 2000\n}\n"
        "service imap {\n  service_count = 0\n  client_limit = %(per)d\n"
        "  process_limit = %(procs)d\n"
        "  process_min_avail = 2\n  vsz_limit = 4G\n}\n"
        "service pop3 {\n  service_count = 0\n  client_limit = %(per)d\n"
        "  process_limit = %(procs)d\n"
        "  process_min_avail = 1\n  vsz_limit = 1G\n}\n"
        "protocol imap {\n  mail_max_userip_connections = %(clients)d\n}\n"
        "protocol pop3 {\n  mail_max_userip_connections = %(clients)d\n}\n"
    ) % {"per": per_process, "procs": processes, "clients": max_sessions * 2 + 1000}


class TlsPostfixPod(podlib.PostfixPod):
    """podlib's Postfix submission server plus STARTTLS (the direct SMTP
    runs need it; the proxies keep talking plaintext to the same port)."""

    def __init__(self, name, workdir, dovecot_pod, cert, key):
        super().__init__(name, workdir, dovecot_pod, extra_main_cf={
            "smtpd_tls_security_level": "may",
            "smtpd_tls_cert_file": cert,
            "smtpd_tls_key_file": key,
            # every bench login is a full handshake, as against the proxies
            "smtpd_tls_session_cache_database": "",
            # at most 100 smtpd processes by default; the load is 50+ sessions
            "default_process_limit": "500",
        })

    def master_cf(self):
        # smtpd's TLS asks tlsmgr for its random seed and session cache
        return super().master_cf() + "%-22s %-10s %-3s %-3s %-3s %-5s %-3s %s\n" % (
            "tlsmgr", "unix", "-", "-", "n", "1000?", "1", "tlsmgr")


class Pods:
    """The Dovecot pod and its Postfix, started together.

    users: {user: password} for the login runs; fetch_users: the same for
    the relay runs (each gets one big message as message 1)."""

    def __init__(self, root, users, cert, key, max_sessions):
        self.users = dict(users)
        self.dovecot = podlib.DovecotPod(
            "pod-1", os.path.join(root, "pod-1"), self.users,
            marker="",  # no marker mail: an empty INBOX is what the login runs need
            protocols={"imap": podlib.free_port(), "pop3": podlib.free_port()},
            tls_cert=cert, tls_key=key, pop3s_port=True,
            auth_port=True, lmtp_port=True,
            extra_conf=dovecot_load_conf(max_sessions))
        self.postfix = TlsPostfixPod("pod-1", os.path.join(root, "pod-1-smtp"),
                                     self.dovecot, cert, key)

    def start(self):
        self.dovecot.start(timeout=60)
        self.postfix.start()
        return self

    def stop(self):
        self.postfix.stop()
        self.dovecot.stop()

    def deliver(self, user, message):
        self.dovecot.deliver(user, message)

    def backends(self):
        """Plaintext servers per protocol: what both proxies log in to."""
        return {"imap": "127.0.0.1:%d" % self.dovecot.imap_port,
                "pop3": "127.0.0.1:%d" % self.dovecot.protocols["pop3"],
                "smtp": self.postfix.addr}

    def direct_ports(self):
        """Client-facing ports for the direct runs, by case key."""
        return {"imaps": self.dovecot.imaps_port,
                "imap_starttls": self.dovecot.imap_port,
                "pop3s": self.dovecot.pop3s_port,
                "smtp_starttls": self.postfix.port}

    def pids(self):
        return [self.dovecot.proc.pid] if self.dovecot.proc else []
