"""The targets of a run: the pod itself ("direct"), podgate, and nginx's mail
proxy (with the auth_http service it needs). Each target names its client
ports by case key (imaps, imap_starttls, pop3s, smtp_starttls) and, for the
proxies, the root PIDs whose process trees are measured.
"""

import json
import os
import signal
import subprocess
import sys

from . import paths, procstat
import podlib

CASE_LISTENERS = {  # case key -> (protocol, tls), as podgate and nginx listen
    "imaps": ("imap", "implicit"),
    "imap_starttls": ("imap", "starttls"),
    "pop3s": ("pop3", "implicit"),
    "smtp_starttls": ("smtp", "starttls"),
}

NGINX = "/usr/sbin/nginx"
NGINX_MAIL_MODULE = "/usr/lib/nginx/modules/ngx_mail_module.so"

HOPS = {
    "podgate": ("IMAP: ID (x-originating-ip/port), then AUTHENTICATE PLAIN with SASL-IR "
                "(LOGIN if the pod lacks SASL-IR); POP3: XCLIENT ADDR/PORT, then AUTH PLAIN "
                "(USER/PASS if the pod lacks it); SMTP: EHLO, XCLIENT ADDR/PORT/HELO, EHLO, "
                "AUTH PLAIN with the client's credentials, so the pod checks the password "
                "itself (Postfix asks Dovecot's auth)"),
    "nginx": ("IMAP: LOGIN with synchronizing literals (waits for the pod's '+' twice); "
              "POP3: USER, PASS; SMTP (`xclient on`, nginx's default): EHLO, "
              "XCLIENT ADDR/LOGIN/NAME, EHLO, no AUTH: Postfix trusts 127.0.0.0/8 for "
              "XCLIENT and takes LOGIN= as the authenticated user, so the password is "
              "checked only by the auth_http service"),
}


def stop_process(proc, grace=10.0):
    """SIGTERM, then SIGKILL after `grace` seconds, by PID."""
    if proc is not None and proc.poll() is None:
        podlib.terminate(proc, grace)


class Direct:
    """The pod's own TLS ports: the baseline every proxy is compared with."""

    name = "direct"
    label = "direct (pod)"

    def __init__(self, pods):
        self.ports = pods.direct_ports()

    def root_pids(self):
        return []

    def start(self):
        return self

    def stop(self):
        pass


class PodgateTarget:
    """podgate with the embedded directory: every user of the domain on the
    one pod, plaintext to the pod."""

    name = "podgate"
    label = "podgate"

    def __init__(self, root, binary, pods, cert, key, workers):
        directory = {
            "pods": {"pod-1": {proto: [addr] for proto, addr in pods.backends().items()}},
            "domains": {"example.com": {"pod": "pod-1"}},
        }
        listeners = [{"protocol": p, "tls": t} for p, t in CASE_LISTENERS.values()]
        # As deployed: the brute-force guard on (every bench login succeeds,
        # so it only records known-good addresses); the per-address
        # connection limit off, as the whole load comes from 127.0.0.1.
        extra = {"protection": {"enabled": True},
                 "limits": {"max_connections_per_address": 0}}
        self.pg = podlib.Podgate(os.path.join(root, "podgate"), listeners, directory, cert, key,
                                 extra_config=extra, binary=binary)
        self.workers_wanted = workers
        self.workers = None  # what podgate was given; None = its own default
        self.ports = {case: self.pg.port(p, t) for case, (p, t) in CASE_LISTENERS.items()}

    def _accepts_workers(self):
        """podgate refuses unknown keys, so --check-config tells whether this
        build has a "workers" setting."""
        self.pg.extra_config["workers"] = self.workers_wanted
        self.pg.write_config()
        result = self.pg.check_config()
        if result.returncode == 0:
            return True
        del self.pg.extra_config["workers"]
        return False

    def start(self):
        if self._accepts_workers():
            self.workers = self.workers_wanted
        self.pg.start(timeout=20)
        return self

    def stop(self):
        self.pg.stop(grace=10)

    def root_pids(self):
        return [self.pg.proc.pid] if self.pg.proc else []

    def workers_note(self):
        if self.workers:
            return '"workers": %d' % self.workers
        return 'no "workers" setting in this build: podgate\'s default (one per core)'


class AuthHttp:
    """The auth_http service nginx asks on every login (its own process)."""

    def __init__(self, root, users_file, servers):
        self.port = podlib.free_port()
        self.url = "http://127.0.0.1:%d/mail/auth" % self.port
        self.log_path = os.path.join(root, "authhttp.log")
        self.cmd = [sys.executable, os.path.join(paths.HERE, "authhttp.py"),
                    "--listen", "127.0.0.1:%d" % self.port, "--users", users_file,
                    "--servers", json.dumps(servers)]
        self.proc = None
        self._cleanup = None

    def start(self):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        self._cleanup = podlib.register_cleanup(self.stop)
        if not podlib.wait_port("127.0.0.1", self.port, 15, self.proc):
            raise RuntimeError("auth_http service did not start:\n%s" % podlib.tail(self.log_path))
        return self

    def stop(self):
        if self._cleanup:
            podlib.unregister_cleanup(self._cleanup)
            self._cleanup = None
        stop_process(self.proc)

    def pid(self):
        return self.proc.pid if self.proc else None


def nginx_config(prefix, cert, key, auth_url, ports, workers, max_fds, tickets):
    """nginx.conf for the mail proxy: one server per case, 127.0.0.1 only.
    tickets=False adds `ssl_conf_command NumTickets 0`: nginx does not set
    TCP_NODELAY, so with TLS 1.3 its greeting otherwise waits behind the
    session tickets for the client's delayed ACK (about 40 ms per login).
    max_fds: descriptors per worker (RLIMIT_NOFILE's hard limit; a proxied
    session needs two)."""
    servers = {
        "imaps": "listen 127.0.0.1:%d ssl;\n    protocol imap;",
        "imap_starttls": "listen 127.0.0.1:%d;\n    protocol imap;\n    starttls only;",
        "pop3s": "listen 127.0.0.1:%d ssl;\n    protocol pop3;",
        "smtp_starttls": "listen 127.0.0.1:%d;\n    protocol smtp;\n    starttls only;\n"
                         "    xclient on;",
    }
    blocks = "".join("  server {\n    %s\n  }\n" % (servers[case] % ports[case]) for case in servers)
    return """# generated by bench/compare
load_module %(module)s;
worker_processes %(workers)d;
worker_rlimit_nofile %(fds)d;
pid %(prefix)s/nginx.pid;
error_log %(prefix)s/error.log warn;

events {
  worker_connections %(fds)d;
}

mail {
  auth_http %(auth)s;
  proxy_pass_error_message on;
  ssl_certificate %(cert)s;
  ssl_certificate_key %(key)s;
  ssl_protocols TLSv1.2 TLSv1.3;
%(tickets)s  imap_auth login plain;
  pop3_auth plain;
  smtp_auth login plain;
%(servers)s}
""" % {"module": NGINX_MAIL_MODULE, "workers": workers, "prefix": prefix,
       "auth": auth_url.replace("http://", ""), "fds": max_fds, "cert": cert, "key": key,
       "tickets": "" if tickets else "  ssl_conf_command NumTickets 0;\n", "servers": blocks}


class NginxTarget:
    """nginx (master + workers) in the foreground, its own prefix, pid file
    and error log; stopped by the master's PID."""

    def __init__(self, root, name, label, pods, cert, key, auth, workers, max_fds, tickets):
        self.name, self.label = name, label
        self.prefix = podlib.mkdir(os.path.join(root, name))
        self.conf_path = os.path.join(self.prefix, "nginx.conf")
        self.ports = {case: podlib.free_port() for case in CASE_LISTENERS}
        self.auth = auth
        self.workers = workers
        self.tickets = tickets
        self.config = nginx_config(self.prefix, cert, key, auth.url, self.ports, workers,
                                   max_fds, tickets)
        self.proc = None
        self._cleanup = None
        self.pids_at_start = []

    def _cmd(self, *extra):
        return [NGINX, "-p", self.prefix, "-c", self.conf_path,
                "-e", os.path.join(self.prefix, "error.log")] + list(extra)

    def start(self):
        with open(self.conf_path, "w") as f:
            f.write(self.config)
        check = subprocess.run(self._cmd("-t", "-q"), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
        if check.returncode != 0:
            raise RuntimeError("nginx -t refused %s:\n%s" % (self.conf_path,
                                                              check.stdout.decode(errors="replace")))
        err = open(os.path.join(self.prefix, "nginx.stderr"), "ab")
        self.proc = subprocess.Popen(self._cmd("-g", "daemon off;"), stdin=subprocess.DEVNULL,
                                     stdout=err, stderr=err)
        err.close()
        self._cleanup = podlib.register_cleanup(self.stop)
        for port in self.ports.values():
            if not podlib.wait_port("127.0.0.1", port, 15, self.proc):
                raise RuntimeError("nginx did not listen on %d:\n%s" % (
                    port, podlib.tail(os.path.join(self.prefix, "error.log"))))
        self.pids_at_start = procstat.tree(self.proc.pid)
        return self

    def stop(self):
        if self._cleanup:
            podlib.unregister_cleanup(self._cleanup)
            self._cleanup = None
        stop_process(self.proc)
        # workers exit with the master; any that did not are ended by PID,
        # once /proc shows the PID is still an nginx (not a reused number)
        for pid in self.pids_at_start:
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    if b"nginx" in f.read():
                        os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def root_pids(self):
        return [self.proc.pid] if self.proc else []

    def workers_note(self):
        return "worker_processes %d" % self.workers


def nginx_version():
    r = subprocess.run([NGINX, "-v"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return r.stdout.decode(errors="replace").strip().replace("nginx version: ", "")


def ensure_nginx():
    """Debian's nginx-light + libnginx-mod-mail, installed if missing. A
    policy-rc.d that exits 101 is written first so the package's scripts do
    not start a system nginx (which would also bind port 80)."""
    if os.path.exists(NGINX) and os.path.exists(NGINX_MAIL_MODULE):
        return False
    policy = "/usr/sbin/policy-rc.d"
    previous = None
    if os.path.exists(policy):
        with open(policy, "rb") as f:
            previous = f.read()
    with open(policy, "w") as f:
        f.write("#!/bin/sh\n# written by bench/compare: no service starts on install\nexit 101\n")
    os.chmod(policy, 0o755)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        subprocess.run(["apt-get", "update"], env=env, check=False)
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "nginx-light",
                        "libnginx-mod-mail"], env=env, check=True)
    finally:
        # the machine's own policy comes back (or none, as before)
        if previous is None:
            os.remove(policy)
        else:
            with open(policy, "wb") as f:
                f.write(previous)
    if not (os.path.exists(NGINX) and os.path.exists(NGINX_MAIL_MODULE)):
        raise RuntimeError("apt-get installed nginx-light and libnginx-mod-mail, but %s or %s "
                           "is still missing" % (NGINX, NGINX_MAIL_MODULE))
    return True
