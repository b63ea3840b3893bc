#!/usr/bin/env python3
"""Fixtures for podgate's real-server integration tests (Python 3 stdlib only).

  make_cert(dir, kind)      self-signed cert+key for localhost/127.0.0.1 (openssl CLI)
  free_port()               a free TCP port on 127.0.0.1
  RefusingPort()            a port that refuses connections (bound, never listening)
  MutePort()                a port that accepts TCP but never says anything
  tcp_connections(pid, port) a process's TCP sockets (to one port), from `ss -tanp`
  open_fds(pid, kind)       how many descriptors (sockets) a process has open
  DovecotPod                one private Dovecot instance (imap, pop3; auth+lmtp listeners)
  PostfixPod                one private Postfix: SMTP submission backend for a DovecotPod
  Podgate                   one podgate process with its own config and directory
  PodIMAP4 / PodIMAP4_SSL   imaplib clients that can bind a chosen source address
  RawIMAP                   a line-level IMAP client over plain TCP, TLS or STARTTLS
  ImapWorld                 the standard test topology: two pods, routed users, podgate

Self-check of the Dovecot fixture (no podgate needed):

  python3 tests/integration/podlib.py selftest

and of the Postfix pods (ImapWorld(smtp=True); smtplib and swaks):

  python3 tests/integration/podlib.py selftest-smtp
"""

import atexit
import base64
import hashlib
import json
import os
import pwd
import grp
import random
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import imaplib

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

DEFAULT_PODGATE_BIN = os.path.join(REPO, "build", "proxy", "podgate")


def podgate_bin():
    return os.path.abspath(os.environ.get("PODGATE_BIN") or DEFAULT_PODGATE_BIN)


def podgate_bench_bin():
    """podgate-bench from the build podgate_bin() comes from (BUILD/bench/),
    unless PODGATE_BENCH_BIN names one."""
    build = os.path.dirname(os.path.dirname(podgate_bin()))
    return os.path.abspath(os.environ.get("PODGATE_BENCH_BIN") or
                           os.path.join(build, "bench", "podgate-bench"))


def log(msg):
    if os.environ.get("PODLIB_VERBOSE"):
        sys.stderr.write("[podlib] %s\n" % msg)
        sys.stderr.flush()


# --------------------------------------------------------------------------
# Cleanup registry: every started process / temp dir is stopped at exit, even
# when a test (or setUpClass) fails half way, or on SIGTERM.

_cleanups = []


def register_cleanup(fn):
    _cleanups.append(fn)
    return fn


def unregister_cleanup(fn):
    try:
        _cleanups.remove(fn)
    except ValueError:
        pass


def run_cleanups():
    while _cleanups:
        fn = _cleanups.pop()
        try:
            fn()
        except Exception as e:  # pragma: no cover - best effort
            sys.stderr.write("[podlib] cleanup error: %r\n" % (e,))


atexit.register(run_cleanups)


def _on_sigterm(signum, frame):
    run_cleanups()
    sys.exit(128 + signum)


try:
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, _on_sigterm)
except ValueError:  # not in main thread
    pass


def make_tempdir(prefix="pg-"):
    """A short temp dir under /tmp, mode 0755 (Dovecot's unprivileged
    processes must be able to enter it)."""
    d = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chmod(d, 0o755)
    return d


def mkdir(path, mode=0o755):
    os.makedirs(path, exist_ok=True)
    os.chmod(path, mode)
    return path


def tail(path, lines=60):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        return "<cannot read %s: %s>" % (path, e)
    text = data.decode("utf-8", "replace").splitlines()
    return "\n".join(text[-lines:])


# --------------------------------------------------------------------------
# Certificates and ports

def make_cert(directory, kind="ecdsa", name=None, san="DNS:localhost,IP:127.0.0.1"):
    """Self-signed certificate for CN=localhost, SAN DNS:localhost,IP:127.0.0.1
    (or `san`). Returns (cert_path, key_path)."""
    name = name or kind
    cert = os.path.join(directory, "%s-cert.pem" % name)
    key = os.path.join(directory, "%s-key.pem" % name)
    if kind == "ecdsa":
        newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
    elif kind == "rsa":
        newkey = ["-newkey", "rsa:2048"]
    else:
        raise ValueError("kind must be 'ecdsa' or 'rsa'")
    cmd = (["openssl", "req", "-x509", "-nodes", "-days", "30"] + newkey +
           ["-keyout", key, "-out", cert, "-subj", "/CN=localhost",
            "-addext", "subjectAltName=" + san,
            "-addext", "basicConstraints=critical,CA:FALSE"])
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise RuntimeError("openssl failed: %s" % r.stderr.decode(errors="replace"))
    os.chmod(key, 0o644)  # tests only; podgate may drop privileges
    return cert, key


def cert_der(cert_path):
    with open(cert_path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


# Ports handed out by free_port() come from below the kernel's ephemeral
# range (32768-60999), so no outgoing connection can take one between the
# check and the daemon's bind; each test process draws from its own block
# (by PID), so suites run side by side (ctest -j) do not draw the same one.
_PORT_BLOCKS = 8
_PORT_BLOCK_SIZE = 2000
_PORT_BASE = 16000
_ports_given = set()


def free_port(host="127.0.0.1"):
    block = _PORT_BASE + (os.getpid() % _PORT_BLOCKS) * _PORT_BLOCK_SIZE
    for _ in range(200):
        port = block + random.randrange(_PORT_BLOCK_SIZE)
        if port in _ports_given:
            continue
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((host, port))
        except OSError:
            continue
        finally:
            s.close()
        _ports_given.add(port)
        return port
    raise RuntimeError("no free port in %d-%d" % (block, block + _PORT_BLOCK_SIZE - 1))


class RefusingPort:
    """A port on 127.0.0.1 that is bound but never listens: connecting to it
    is refused (RST), and nobody else can take it while this object lives."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.addr = "127.0.0.1:%d" % self.port

    def close(self):
        self.sock.close()


class MutePort:
    """A port that completes the TCP handshake (kernel backlog) and then never
    sends a byte: a server that hangs before its greeting."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.addr = "127.0.0.1:%d" % self.port

    def close(self):
        self.sock.close()


def wait_port(host, port, timeout=10.0, proc=None, greeting=None):
    """Wait until host:port accepts a TCP connection (and, if greeting is
    given, until the first line starts with it). Returns True/False."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            s = socket.create_connection((host, port), timeout=1.0)
        except OSError:
            time.sleep(0.05)
            continue
        try:
            if greeting is None:
                return True
            s.settimeout(2.0)
            data = b""
            while b"\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            if data.startswith(greeting):
                return True
        except OSError:
            pass
        finally:
            s.close()
        time.sleep(0.05)
    return False


def tcp_connections(pid, peer_port=None):
    """The TCP sockets process `pid` still holds (`ss -tanp`), as (state,
    local "ip:port", peer "ip:port") tuples; with `peer_port`, only those to
    that port: e.g. podgate's connections to one pod server. A socket
    podgate closed is no longer its own (at most an orphan in FIN-WAIT or
    TIME-WAIT), so an empty list means every such connection was closed; a
    leaked one shows up, typically in CLOSE-WAIT."""
    r = subprocess.run(["ss", "-tanpH"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=10)
    if r.returncode != 0:
        raise RuntimeError("ss -tanp failed: %s" % r.stderr.decode(errors="replace"))
    out = []
    mark = "pid=%d," % pid
    for line in r.stdout.decode(errors="replace").splitlines():
        fields = line.split()
        if len(fields) < 6 or mark not in line:
            continue
        state, local, peer = fields[0], fields[3], fields[4]
        if peer_port is not None and not peer.endswith(":%d" % peer_port):
            continue
        out.append((state, local, peer))
    return out


def open_fds(pid, kind=None):
    """How many file descriptors process `pid` has open; kind="socket":
    only sockets (kind is the prefix of the /proc/PID/fd link, e.g.
    "socket:", "pipe:", "anon_inode:")."""
    fds = os.listdir("/proc/%d/fd" % pid)
    if kind is None:
        return len(fds)
    count = 0
    for fd in fds:
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith(kind):
                count += 1
        except OSError:  # closed meanwhile
            pass
    return count


# --------------------------------------------------------------------------
# Dovecot pod

def terminate(proc, grace):
    """SIGTERM, then SIGKILL after `grace` seconds. Returns (exit code,
    whether it had to be killed); a negative code is the killing signal."""
    killed = False
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            killed = True
    return proc.returncode, killed


def require_root():
    if os.geteuid() != 0:
        raise RuntimeError("the Dovecot pods need root (they drop to the 'mail' user): "
                           "run the integration tests as root")
    for tool in ("dovecot", "doveadm", "openssl"):
        if shutil.which(tool) is None and not os.path.exists("/usr/sbin/" + tool):
            raise RuntimeError("%s not found: run scripts/setup.sh --deps-only" % tool)


def _mail_ids():
    pw = pwd.getpwnam("mail")
    return pw.pw_uid, pw.pw_gid


class DovecotPod:
    """A private Dovecot instance: its own config, base_dir, state_dir, log,
    users in a passwd-file and Maildirs under workdir, listening on
    127.0.0.1 only (or `host`: another loopback address, e.g. 127.0.0.2, where
    podgate's connections from 127.0.0.1 do not count as local, so Dovecot's
    disable_plaintext_auth and LOGINDISABLED apply to them).

    protocols: dict protocol -> port, e.g. {"imap": 20143, "pop3": 20110}.
    "imap", "pop3" and "lmtp" are wired; "submission" is the next entry in
    _service_blocks.

    For a PostfixPod in front of this pod (both off by default):
      auth_port: an inet listener of the auth service (Postfix SASL,
                 smtpd_sasl_type = dovecot); True picks a free port.
      lmtp_port: an LMTP inet listener (same as protocols["lmtp"]); True
                 picks a free port. RCPT TO:<alice@example.com> delivers to
                 the passwd-file user alice@example.com.

    Also off by default:
      pop3s_port: an implicit-TLS POP3 listener (needs tls_cert and "pop3"
                  in protocols); True picks a free port.
      extra_conf: text appended to dovecot.conf. Dovecot merges a section
                  named again (e.g. `service imap { client_limit = 500 }`)
                  into the earlier one, later values winning, so this
                  overrides the limits above, e.g. for load tests.
    """

    def __init__(self, name, workdir, users, imap_port=None, marker=None,
                 protocols=None, tls_cert=None, tls_key=None, imaps_port=None,
                 auth_port=None, lmtp_port=None, pop3s_port=None, extra_conf=None,
                 host="127.0.0.1"):
        self.name = name
        self.host = host
        self.workdir = mkdir(workdir)
        self.users = dict(users)
        self.protocols = dict(protocols or {})
        if "imap" not in self.protocols:
            self.protocols["imap"] = imap_port or free_port()
        self.imap_port = self.protocols["imap"]
        if lmtp_port:
            self.protocols["lmtp"] = lmtp_port
        if "lmtp" in self.protocols and self.protocols["lmtp"] in (None, 0, True):
            self.protocols["lmtp"] = free_port()
        self.auth_port = None
        if auth_port:
            self.auth_port = free_port() if auth_port is True else int(auth_port)
        self.marker = marker if marker is not None else "%s marker" % name
        self.tls_cert, self.tls_key = tls_cert, tls_key
        self.imaps_port = None
        if tls_cert:
            self.imaps_port = imaps_port or free_port()
        self.pop3s_port = None
        if pop3s_port:
            if not tls_cert or "pop3" not in self.protocols:
                raise ValueError("DovecotPod %s: pop3s_port needs tls_cert and pop3" % name)
            self.pop3s_port = free_port() if pop3s_port is True else int(pop3s_port)
        self.extra_conf = extra_conf or ""
        self.base_dir = make_tempdir("pg-%s-" % name[:6])
        if len(self.base_dir) > 40:
            raise RuntimeError("base_dir too long for Dovecot sockets: %s" % self.base_dir)
        self.state_dir = mkdir(os.path.join(self.workdir, "state"))
        self.home_root = mkdir(os.path.join(self.workdir, "home"))
        self.log_path = os.path.join(self.workdir, "dovecot.log")
        self.conf_path = os.path.join(self.workdir, "dovecot.conf")
        self.passwd_path = os.path.join(self.workdir, "passwd")
        self.instance_name = "podgate-test-%s-%s" % (name, os.path.basename(self.base_dir))
        self.proc = None
        self._cleanup = None

    @property
    def imap_addr(self):
        return "%s:%d" % (self.host, self.imap_port)

    @property
    def pop3_addr(self):
        return "%s:%d" % (self.host, self.protocols["pop3"])

    @property
    def lmtp_port(self):
        return self.protocols.get("lmtp")

    @property
    def lmtp_addr(self):
        return "%s:%d" % (self.host, self.protocols["lmtp"])

    @property
    def auth_addr(self):
        return "%s:%d" % (self.host, self.auth_port)

    # -- configuration ----------------------------------------------------

    def _write_passwd(self):
        uid, gid = _mail_ids()
        lines = []
        for user, password in sorted(self.users.items()):
            for ch in ":\n\r":
                if ch in user or ch in password:
                    raise ValueError("passwd-file cannot hold %r in user/password" % ch)
            home = os.path.join(self.home_root, user)
            if not os.path.isdir(home):
                os.makedirs(home)
                os.chown(home, uid, gid)
                os.chmod(home, 0o700)
            lines.append("%s:{PLAIN}%s:%d:%d::%s::\n" % (user, password, uid, gid, home))
        with open(self.passwd_path, "w") as f:
            f.writelines(lines)
        os.chmod(self.passwd_path, 0o644)

    def _service_blocks(self):
        blocks = []
        imaps = ""
        if self.imaps_port:
            imaps = ("  inet_listener imaps {\n    address = %s\n"
                     "    port = %d\n    ssl = yes\n  }\n" % (self.host, self.imaps_port))
        else:
            imaps = "  inet_listener imaps {\n    port = 0\n  }\n"
        blocks.append(
            "service imap-login {\n"
            "  inet_listener imap {\n    address = %s\n    port = %d\n  }\n"
            "%s"
            "  service_count = 0\n"      # high-performance mode: no fork per login
            "  process_min_avail = 1\n"
            "  client_limit = 1000\n"
            "}\n" % (self.host, self.imap_port, imaps))
        blocks.append("service imap {\n  process_limit = 1000\n  client_limit = 1\n}\n")
        blocks.append("protocol imap {\n  mail_max_userip_connections = 1000\n}\n")
        if "pop3" in self.protocols:
            pop3s = "  inet_listener pop3s {\n    port = 0\n  }\n"
            if self.pop3s_port:
                pop3s = ("  inet_listener pop3s {\n    address = %s\n"
                         "    port = %d\n    ssl = yes\n  }\n" % (self.host, self.pop3s_port))
            blocks.append(
                "service pop3-login {\n"
                "  inet_listener pop3 {\n    address = %s\n    port = %d\n  }\n"
                "%s"
                "  service_count = 0\n  process_min_avail = 1\n  client_limit = 1000\n"
                "}\n" % (self.host, self.protocols["pop3"], pop3s))
            blocks.append("service pop3 {\n  process_limit = 1000\n  client_limit = 1\n}\n")
            blocks.append("protocol pop3 {\n  mail_max_userip_connections = 1000\n"
                          "  pop3_uidl_format = %08Xu%08Xv\n}\n")
        if "lmtp" in self.protocols:
            # delivery from a PostfixPod (virtual_transport = lmtp:inet:...);
            # the RCPT address is the userdb key as is (auth_username_format
            # %Lu keeps the domain; the passwd-file users are full addresses)
            blocks.append(
                "service lmtp {\n"
                "  inet_listener lmtp {\n    address = %s\n    port = %d\n  }\n"
                "  process_min_avail = 1\n"
                "}\n" % (self.host, self.protocols["lmtp"]))
            blocks.append("protocol lmtp {\n  auth_username_format = %Lu\n"
                          "  lmtp_save_to_detail_mailbox = no\n"
                          "  postmaster_address = postmaster@example.com\n}\n")
        # Future: "submission" -> service submission-login {...} + submission_relay_host.
        for proto in self.protocols:
            if proto not in ("imap", "pop3", "lmtp"):
                raise NotImplementedError("DovecotPod: protocol %s not wired yet" % proto)
        return "".join(blocks)

    def write_config(self):
        self._write_passwd()
        ssl_lines = "ssl = no\n"
        if self.tls_cert:
            ssl_lines = ("ssl = yes\nssl_cert = <%s\nssl_key = <%s\n"
                         % (self.tls_cert, self.tls_key))
        conf = (
            "# generated by tests/integration/podlib.py for pod %(name)s\n"
            "base_dir = %(base_dir)s\n"
            "state_dir = %(state_dir)s\n"
            "instance_name = %(instance)s\n"
            "log_path = %(log)s\n"
            "info_log_path = %(log)s\n"
            "debug_log_path = %(log)s\n"
            "listen = %(host)s\n"
            "protocols = %(protocols)s\n"
            "%(ssl)s"
            "disable_plaintext_auth = no\n"
            "auth_mechanisms = plain login\n"
            "auth_failure_delay = 0\n"
            "auth_verbose = yes\n"
            "auth_cache_size = 0\n"
            "login_trusted_networks = 127.0.0.0/8\n"
            "login_greeting = %(name)s ready.\n"
            "login_log_format_elements = user=<%%u> method=%%m rip=%%r rport=%%{rport} lip=%%l mpid=%%e %%c session=<%%{session}>\n"
            "first_valid_uid = %(uid)d\n"
            "first_valid_gid = %(gid)d\n"
            "mail_location = maildir:~/Maildir\n"
            "mail_max_userip_connections = 1000\n"
            "default_client_limit = 2000\n"
            "default_process_limit = 1000\n"
            "imap_idle_notify_interval = 2 mins\n"
            "passdb {\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%%u %(passwd)s\n}\n"
            "userdb {\n  driver = passwd-file\n  args = username_format=%%u %(passwd)s\n}\n"
            # no auth penalty: every proxied login comes from 127.0.0.x, and a
            # growing per-IP delay after failed logins would make tests slow
            # and flaky (failures are still answered after ~0.5 s)
            "service anvil {\n  client_limit = 3000\n"
            "  unix_listener anvil-auth-penalty {\n    mode = 0\n  }\n}\n"
            "service auth {\n  client_limit = 3000\n%(auth_listener)s}\n"
            "%(services)s"
            "%(extra)s"
        ) % {
            "name": self.name, "host": self.host, "base_dir": self.base_dir,
            "state_dir": self.state_dir,
            "instance": self.instance_name, "log": self.log_path,
            "protocols": " ".join(sorted(self.protocols)), "ssl": ssl_lines,
            "uid": _mail_ids()[0], "gid": _mail_ids()[1],
            "passwd": self.passwd_path, "services": self._service_blocks(),
            "extra": self.extra_conf,
            # Postfix SASL (smtpd_sasl_type = dovecot) over TCP: an unnamed
            # inet listener of the auth service speaks the auth client protocol
            "auth_listener": ("  inet_listener {\n    address = %s\n    port = %d\n  }\n"
                              % (self.host, self.auth_port)) if self.auth_port else "",
        }
        with open(self.conf_path, "w") as f:
            f.write(conf)
        os.chmod(self.conf_path, 0o644)

    # -- lifecycle --------------------------------------------------------

    def start(self, timeout=15.0):
        require_root()
        self.write_config()
        err_path = os.path.join(self.workdir, "dovecot.stderr")
        self._err = open(err_path, "ab")
        self.proc = subprocess.Popen(["dovecot", "-F", "-c", self.conf_path],
                                     stdin=subprocess.DEVNULL, stdout=self._err,
                                     stderr=self._err)
        self._cleanup = register_cleanup(self.stop)
        if not wait_port(self.host, self.imap_port, timeout, self.proc, greeting=b"* OK"):
            msg = ("Dovecot pod %s did not start on port %d\n--- stderr:\n%s\n--- log:\n%s"
                   % (self.name, self.imap_port, tail(err_path), tail(self.log_path)))
            self.stop()
            raise RuntimeError(msg)
        if self.marker:
            for user in self.users:
                self.deliver(user, make_message(self.marker, "%s lives on %s\r\n" % (user, self.name)))
        log("pod %s up on %d" % (self.name, self.imap_port))
        return self

    def begin_stop(self):
        """SIGTERM to the master (what `doveadm stop` does, without its
        polling delay of ~3 s); stop() waits. Lets several pods stop at once."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def kill(self, timeout=5.0):
        """The pod dies: SIGKILL to the master and to every process it
        started (login, imap, pop3, auth... processes), as in a crash, an OOM
        kill or a lost container; the kernel closes their sockets (a FIN to
        each peer). A plain SIGTERM is no death: Dovecot's mail processes
        outlive their master and keep serving their sessions. Waits until
        they are gone; stop() afterwards only cleans up."""
        if self.proc is None or self.proc.poll() is not None:
            return
        master = self.proc.pid
        os.kill(master, signal.SIGSTOP)  # no more forks while we look
        pids = _descendants(master)
        for pid in pids + [master]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()
        deadline = time.time() + timeout
        while any(_alive(pid) for pid in pids) and time.time() < deadline:
            time.sleep(0.02)

    def stop(self):
        if self._cleanup:
            unregister_cleanup(self._cleanup)
            self._cleanup = None
        if self.proc is not None:
            self.begin_stop()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if getattr(self, "_err", None):
            self._err.close()
            self._err = None
        shutil.rmtree(self.base_dir, ignore_errors=True)

    # -- mail and logs ------------------------------------------------------

    def doveadm(self, *args, input=None, timeout=60):
        return subprocess.run(["doveadm", "-c", self.conf_path] + list(args),
                              input=input, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout)

    def deliver(self, user, rfc822_bytes, mailbox="INBOX"):
        """Save a message into the user's mailbox through Dovecot itself (index
        updated, IDLE sessions notified)."""
        if isinstance(rfc822_bytes, str):
            rfc822_bytes = rfc822_bytes.encode()
        r = self.doveadm("save", "-u", user, "-m", mailbox, input=rfc822_bytes)
        if r.returncode != 0:
            raise RuntimeError("doveadm save for %s on %s failed (%d): %s"
                               % (user, self.name, r.returncode,
                                  r.stderr.decode(errors="replace")))

    def kick(self, user):
        return self.doveadm("kick", user)

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def login_lines(self):
        """imap-login 'Login:' lines, in order."""
        return [l for l in self.log_text().splitlines()
                if re.search(r"-login: (Info: )?Login: user=<", l)]


def _descendants(pid):
    """Every live descendant of `pid` (children first found in
    /proc/PID/task/TID/children)."""
    out, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            tids = os.listdir("/proc/%d/task" % parent)
        except OSError:
            continue
        for tid in tids:
            try:
                with open("/proc/%d/task/%s/children" % (parent, tid)) as f:
                    kids = [int(k) for k in f.read().split()]
            except (OSError, ValueError):
                continue
            out.extend(kids)
            todo.extend(kids)
    return out


def _alive(pid):
    """True while `pid` exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def make_message(subject, body="hello\r\n", sender="tests@podgate.test", to="user@example.com"):
    """A small RFC 822 message with CRLF line endings."""
    msg = ("From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: Thu, 01 Jan 2026 00:00:00 +0000\r\n"
           "Message-ID: <%s@podgate.test>\r\nMIME-Version: 1.0\r\n"
           "Content-Type: text/plain; charset=us-ascii\r\n\r\n%s"
           % (sender, to, subject, hashlib.sha1((subject + body + str(time.time())).encode()).hexdigest(), body))
    return msg.encode()


def make_big_message(size, subject="big message"):
    """A message of about `size` bytes, CRLF everywhere, 76-char base64 lines
    of random data, so Dovecot stores and returns it byte for byte."""
    head = ("From: tests@podgate.test\r\nTo: user@example.com\r\nSubject: %s\r\n"
            "Date: Thu, 01 Jan 2026 00:00:00 +0000\r\nMIME-Version: 1.0\r\n"
            "Content-Type: application/octet-stream\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n" % subject).encode()
    raw_len = (size - len(head)) * 57 // 78  # 57 raw bytes -> 76 chars + CRLF
    data = base64.b64encode(os.urandom(raw_len))
    lines = [data[i:i + 76] for i in range(0, len(data), 76)]
    return head + b"\r\n".join(lines) + b"\r\n"


# --------------------------------------------------------------------------
# Postfix pod: an SMTP submission backend in front of one DovecotPod

POSTFIX_DAEMON_DIR = "/usr/lib/postfix/sbin"


def require_postfix():
    require_root()
    for tool in ("postfix", "postconf"):
        if shutil.which(tool) is None and not os.path.exists("/usr/sbin/" + tool):
            raise RuntimeError("%s not found: run scripts/setup.sh --deps-only" % tool)
    try:
        pwd.getpwnam("postfix")
        grp.getgrnam("postdrop")
    except KeyError:
        raise RuntimeError("the postfix user or the postdrop group is missing: "
                           "reinstall the postfix package")


def _postfix_daemon_dir():
    try:
        r = subprocess.run(["postconf", "-dh", "daemon_directory"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, timeout=10)
        d = r.stdout.decode().strip()
        if d and os.path.exists(os.path.join(d, "master")):
            return d
    except (OSError, subprocess.SubprocessError):
        pass
    return POSTFIX_DAEMON_DIR


# The Postfix master exits on SIGTERM right after passing the signal on to
# its daemons, which are then orphans: where PID 1 does not reap (as in some
# containers and VMs) they would stay behind as zombies. This small parent is
# a child subreaper: it runs the master (its own process group), forwards
# SIGTERM/SIGINT to it, reaps it and every orphaned daemon, and exits only
# when none is left (SIGKILL to the master's group after argv[1] seconds).
# Exit status: the master's (128+N if it died of signal N).
_POSTFIX_REAPER = r"""
import ctypes, os, signal, subprocess, sys, time
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)   # PR_SET_CHILD_SUBREAPER
grace = float(sys.argv[1])
since, master = [], None
def on_signal(signum, frame):
    since.append(time.time())
    if master is not None:
        try:
            os.kill(master.pid, signal.SIGTERM)
        except OSError:
            pass
signal.signal(signal.SIGTERM, on_signal)
signal.signal(signal.SIGINT, on_signal)
master = subprocess.Popen(sys.argv[2:], start_new_session=True)
if since:
    os.kill(master.pid, signal.SIGTERM)
status, killed = None, False
while True:
    try:
        if status is None:
            pid, st = os.wait()
        else:
            if not killed and time.time() - (since or [time.time()])[0] > grace:
                try:
                    os.killpg(master.pid, signal.SIGKILL)
                except OSError:
                    pass
                killed = True
            pid, st = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                time.sleep(0.01)
                continue
    except ChildProcessError:
        break
    if pid == master.pid:
        status = os.waitstatus_to_exitcode(st)
        master.returncode = status
        since = since or [time.time()]
# os._exit: interpreter shutdown would put SIGTERM back to its default
# action, and a late SIGTERM would then end us with a misleading -15
sys.stdout.flush()
os._exit(1 if status is None else (status if status >= 0 else 128 - status))
"""


class PostfixPod:
    """A private Postfix instance: an authenticated submission server on
    127.0.0.1:submission_port that delivers into `dovecot_pod`'s mailboxes.

      SASL:     Dovecot's auth inet listener (smtpd_sasl_type = dovecot);
                the DovecotPod needs auth_port=... and lmtp_port=...
      delivery: virtual_mailbox_domains (example.com, example.org) with
                virtual_transport = lmtp:inet:<pod's LMTP port>; recipients
                are the pod's users (others: 550 5.1.1 at RCPT)
      policy:   RCPT only after AUTH (permit_sasl_authenticated, reject),
                XCLIENT from 127.0.0.0/8, no TLS (plaintext on loopback)
      other domains: default_transport = error, so their recipients are
                refused at RCPT (550 5.1.1); nothing ever leaves the machine

    Its own config dir (main.cf, master.cf), queue_directory, data_directory
    and log file (maillog_file, via postlogd) live under workdir; the master
    runs in the foreground under a small reaper process of ours (its own
    process group), so stop() can always end it and every daemon it
    started, without zombies. extra_main_cf: dict of main.cf overrides, e.g.
    {"default_process_limit": 300} (at most 100 smtpd sessions by default)
    or {"inet_protocols": "all"} (XCLIENT ADDR=IPV6:... is refused with 501
    while Postfix's own IPv6 support is off; it still listens on 127.0.0.1
    only). tls_cert/tls_key: also an implicit-TLS submission port (465
    style, smtpd_tls_wrappermode) on self.smtps_port.

      pf = PostfixPod("pod-1", dir, dovecot_pod).start()   # pf.addr
      ...
      pf.stop()     # also registered for exit
    """

    def __init__(self, name, workdir, dovecot_pod, submission_port=None,
                 message_size_limit=30 * 1024 * 1024,
                 domains=("example.com", "example.org"), extra_main_cf=None,
                 tls_cert=None, tls_key=None):
        if not dovecot_pod.auth_port or not dovecot_pod.lmtp_port:
            raise ValueError("PostfixPod %s: DovecotPod %s needs auth_port and lmtp_port"
                             % (name, dovecot_pod.name))
        self.name = name
        self.workdir = mkdir(workdir)
        self.dovecot = dovecot_pod
        self.port = submission_port or free_port()
        self.tls_cert, self.tls_key = tls_cert, tls_key
        self.smtps_port = free_port() if tls_cert else None
        self.message_size_limit = int(message_size_limit)
        self.domains = list(domains)
        self.extra_main_cf = dict(extra_main_cf or {})
        self.config_dir = mkdir(os.path.join(self.workdir, "etc"))
        self.queue_dir = os.path.join(self.workdir, "spool")
        self.data_dir = os.path.join(self.workdir, "data")
        self.log_path = os.path.join(self.workdir, "postfix.log")
        self.stderr_path = os.path.join(self.workdir, "postfix.stderr")
        self.mailboxes_path = os.path.join(self.config_dir, "vmailbox")
        self.hostname = "%s.podgate.test" % re.sub(r"[^A-Za-z0-9-]", "-", name)
        self.proc = None
        self.pgid = None
        self._err = None
        self._cleanup = None
        self.start_seconds = None
        self.stop_seconds = None
        self.stopped_cleanly = None
        self.exit_code = None
        self._term_sent = False

    @property
    def addr(self):
        return "127.0.0.1:%d" % self.port

    @property
    def smtps_addr(self):
        return "127.0.0.1:%d" % self.smtps_port

    # -- configuration ----------------------------------------------------

    def main_cf(self):
        cf = [
            ("compatibility_level", "3.6"),
            ("config_directory", self.config_dir),
            ("queue_directory", self.queue_dir),
            ("data_directory", self.data_dir),
            ("mail_owner", "postfix"),
            ("setgid_group", "postdrop"),
            ("syslog_name", "postfix-%s" % self.name),
            ("maillog_file", self.log_path),
            ("maillog_file_prefixes", os.path.dirname(self.workdir.rstrip("/")) or "/"),
            ("myhostname", self.hostname),
            ("mydomain", "podgate.test"),
            ("myorigin", "$myhostname"),
            ("mydestination", ""),
            ("mynetworks", "127.0.0.0/8"),
            ("inet_interfaces", "127.0.0.1"),
            ("inet_protocols", "ipv4"),
            ("smtpd_banner", "$myhostname ESMTP Postfix (%s)" % self.name),
            ("biff", "no"),
            ("append_dot_mydomain", "no"),
            ("alias_maps", ""),
            ("alias_database", ""),
            ("local_recipient_maps", ""),
            ("relay_domains", ""),
            # delivery into the Dovecot pod
            ("virtual_mailbox_domains", " ".join(self.domains)),
            ("virtual_mailbox_maps", "texthash:%s" % self.mailboxes_path),
            ("virtual_transport", "lmtp:inet:127.0.0.1:%d" % self.dovecot.lmtp_port),
            ("default_transport", "error:mail for other domains is not delivered in tests"),
            ("relay_transport", "error:mail for other domains is not delivered in tests"),
            ("lmtp_host_lookup", "native"),
            ("smtp_host_lookup", "native"),
            # sizes (mailbox limits must not be below message_size_limit)
            ("message_size_limit", str(self.message_size_limit)),
            ("mailbox_size_limit", "0"),
            ("virtual_mailbox_limit", "0"),
            # immediate delivery, quick retries
            ("in_flow_delay", "0"),
            ("queue_run_delay", "1s"),
            ("minimal_backoff_time", "1s"),
            ("maximal_backoff_time", "2s"),
            ("delay_warning_time", "0"),
            # submission with SASL through the pod's Dovecot
            ("smtpd_sasl_auth_enable", "yes"),
            ("smtpd_sasl_type", "dovecot"),
            ("smtpd_sasl_path", "inet:127.0.0.1:%d" % self.dovecot.auth_port),
            ("smtpd_sasl_security_options", "noanonymous"),
            ("smtpd_tls_security_level", "none"),
            ("smtpd_tls_auth_only", "no"),
            ("smtpd_relay_restrictions", "permit_sasl_authenticated, reject_unauth_destination"),
            ("smtpd_recipient_restrictions", "permit_sasl_authenticated, reject"),
            ("smtpd_authorized_xclient_hosts", "127.0.0.0/8"),
            # every session reaches the pod from 127.0.0.1 (or an XCLIENT
            # address): no per-client limits, no reverse DNS of those
            ("smtpd_peername_lookup", "no"),
            ("smtpd_client_connection_count_limit", "0"),
            ("smtpd_client_connection_rate_limit", "0"),
            ("smtpd_client_message_rate_limit", "0"),
            ("smtpd_client_recipient_rate_limit", "0"),
            ("smtpd_client_auth_rate_limit", "0"),
        ]
        if self.tls_cert:
            cf += [("smtpd_tls_cert_file", self.tls_cert), ("smtpd_tls_key_file", self.tls_key),
                   ("smtpd_tls_loglevel", "1")]
        keys = dict(cf)
        for k, v in self.extra_main_cf.items():
            if k in keys:
                cf = [(kk, vv) for kk, vv in cf if kk != k]
            cf.append((k, str(v)))
        return "".join("%s = %s\n" % kv for kv in cf)

    def master_cf(self):
        rows = [
            # service   type  private unpriv chroot wakeup maxproc command
            ("127.0.0.1:%d" % self.port, "inet", "n", "-", "n", "-", "-", "smtpd"),
            ("pickup", "unix", "n", "-", "n", "60", "1", "pickup"),
            ("cleanup", "unix", "n", "-", "n", "-", "0", "cleanup"),
            ("qmgr", "unix", "n", "-", "n", "300", "1", "qmgr"),
            ("rewrite", "unix", "-", "-", "n", "-", "-", "trivial-rewrite"),
            ("bounce", "unix", "-", "-", "n", "-", "0", "bounce"),
            ("defer", "unix", "-", "-", "n", "-", "0", "bounce"),
            ("trace", "unix", "-", "-", "n", "-", "0", "bounce"),
            ("verify", "unix", "-", "-", "n", "-", "1", "verify"),
            ("flush", "unix", "n", "-", "n", "1000?", "0", "flush"),
            ("proxymap", "unix", "-", "-", "n", "-", "-", "proxymap"),
            ("proxywrite", "unix", "-", "-", "n", "-", "1", "proxymap"),
            ("smtp", "unix", "-", "-", "n", "-", "-", "smtp"),
            ("relay", "unix", "-", "-", "n", "-", "-", "smtp"),
            ("showq", "unix", "n", "-", "n", "-", "-", "showq"),
            ("error", "unix", "-", "-", "n", "-", "-", "error"),
            ("retry", "unix", "-", "-", "n", "-", "-", "error"),
            ("discard", "unix", "-", "-", "n", "-", "-", "discard"),
            ("lmtp", "unix", "-", "-", "n", "-", "-", "lmtp"),
            ("anvil", "unix", "-", "-", "n", "-", "1", "anvil"),
            ("scache", "unix", "-", "-", "n", "-", "1", "scache"),
            ("postlog", "unix-dgram", "n", "-", "n", "-", "1", "postlogd"),
        ]
        if self.smtps_port:
            rows.insert(1, ("127.0.0.1:%d" % self.smtps_port, "inet", "n", "-", "n", "-", "-",
                            "smtpd -o smtpd_tls_wrappermode=yes "
                            "-o smtpd_tls_security_level=encrypt"))
            # smtpd's TLS needs the TLS manager (session cache, entropy)
            rows.append(("tlsmgr", "unix", "-", "-", "n", "1000?", "1", "tlsmgr"))
        return ("# generated by tests/integration/podlib.py for %s (chroot off everywhere)\n"
                % self.name + "".join("%-22s %-10s %-3s %-3s %-3s %-5s %-3s %s\n" % r
                                      for r in rows))

    def write_config(self):
        with open(os.path.join(self.config_dir, "main.cf"), "w") as f:
            f.write("# generated by tests/integration/podlib.py for %s\n" % self.name)
            f.write(self.main_cf())
        with open(os.path.join(self.config_dir, "master.cf"), "w") as f:
            f.write(self.master_cf())
        with open(self.mailboxes_path, "w") as f:
            for user in sorted(self.dovecot.users):
                f.write("%s OK\n" % user.lower())
        # Postfix (util/load_file.c) sleeps until a config file it loads is
        # at least 2 s old ("pausing to let FILE finish"), in every postconf,
        # postfix and daemon start: date the files back instead of waiting
        past = time.time() - 60
        for fn in ("main.cf", "master.cf", "vmailbox"):
            os.chmod(os.path.join(self.config_dir, fn), 0o644)
            os.utime(os.path.join(self.config_dir, fn), (past, past))
        # queue_directory owned by root (post-install creates its
        # subdirectories with the owners Postfix wants), data_directory
        # owned by mail_owner
        mkdir(self.queue_dir, 0o755)
        os.chown(self.queue_dir, 0, 0)
        mkdir(self.data_dir, 0o700)
        pw = pwd.getpwnam("postfix")
        os.chown(self.data_dir, pw.pw_uid, pw.pw_gid)

    def postfix(self, *args, timeout=60):
        """Run `postfix -c CONFIG_DIR args...` (check, flush, ...)."""
        return subprocess.run(["postfix", "-c", self.config_dir] + list(args),
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=timeout)

    def postconf(self, *args, timeout=30):
        return subprocess.run(["postconf", "-c", self.config_dir] + list(args),
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout)

    # -- lifecycle --------------------------------------------------------

    def start(self, timeout=20.0):
        require_postfix()
        t0 = time.time()
        self.write_config()
        # creates the queue subdirectories with their owners and modes,
        # checks the config and the postlog service
        r = self.postfix("check")
        if r.returncode != 0:
            raise RuntimeError("postfix -c %s check failed (%d):\n%s\n--- log:\n%s"
                               % (self.config_dir, r.returncode,
                                  r.stdout.decode(errors="replace"), tail(self.log_path)))
        self._err = open(self.stderr_path, "ab")
        # the master in the foreground (what `postfix start-fg` runs, minus
        # the shell around it), under the reaper above: self.proc is the
        # reaper; the master leads its own process group with every daemon
        # it forks
        master = [os.path.join(_postfix_daemon_dir(), "master"), "-c", self.config_dir, "-s"]
        self.proc = subprocess.Popen([sys.executable, "-c", _POSTFIX_REAPER, "5"] + master,
                                     stdin=subprocess.DEVNULL, stdout=self._err,
                                     stderr=self._err, start_new_session=True,
                                     env=dict(os.environ, MAIL_CONFIG=self.config_dir))
        self._cleanup = register_cleanup(self.stop)
        self._term_sent = False
        self.pgid = self._master_pid(self.proc.pid)
        if not wait_port("127.0.0.1", self.port, timeout, self.proc, greeting=b"220"):
            msg = ("Postfix pod %s did not greet on port %d (exit code %s)\n--- stderr:\n%s\n"
                   "--- log:\n%s" % (self.name, self.port, self.proc.poll(),
                                     tail(self.stderr_path), tail(self.log_path)))
            self.stop()
            raise RuntimeError(msg)
        if self.pgid is None:  # no /proc/PID/task/PID/children: the pid file
            try:
                with open(os.path.join(self.queue_dir, "pid", "master.pid")) as f:
                    self.pgid = int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
        self.start_seconds = time.time() - t0
        log("postfix %s up on %d for %s (%.2fs)" % (self.name, self.port, self.dovecot.name,
                                                    self.start_seconds))
        return self

    def _master_pid(self, reaper_pid, timeout=5.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                with open("/proc/%d/task/%d/children" % (reaper_pid, reaper_pid)) as f:
                    kids = f.read().split()
                if kids:
                    return int(kids[0])
            except OSError:
                return None
            if self.proc.poll() is not None:
                return None
            time.sleep(0.005)
        return None

    def begin_stop(self):
        """SIGTERM to the reaper, which passes it to the master, which passes
        it to its daemons. stop() waits (and kills what is left if that takes
        too long)."""
        if self.proc is not None and self.proc.poll() is None and not self._term_sent:
            self._term_sent = True
            try:
                self.proc.send_signal(signal.SIGTERM)
            except OSError:
                pass

    def stop(self, grace=10.0):
        """Clean stop: SIGTERM to the master (through the reaper), which
        passes it on to its daemons; waits until the master and every
        process of its group are gone. After `grace` seconds whatever is left is SIGKILLed (the
        master's process group, then the reaper's). Returns True if the
        stop was clean."""
        if self._cleanup:
            unregister_cleanup(self._cleanup)
            self._cleanup = None
        clean = True
        if self.proc is not None:
            t0 = time.time()
            self.begin_stop()
            deadline = t0 + grace
            try:
                self.proc.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                clean = False
            if self.processes() and self.pgid is not None:
                # the reaper is gone but not the master group: stop it directly
                clean = False
                try:
                    os.killpg(self.pgid, signal.SIGTERM)
                except (ProcessLookupError, PermissionError):
                    pass
                while self.processes() and time.time() < deadline:
                    time.sleep(0.02)
            if self.processes() or self.proc.poll() is None:
                clean = False
                for pgid in (self.pgid, self.proc.pid):
                    if pgid is None:
                        continue
                    try:
                        os.killpg(pgid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
                self.proc.wait()
                while self.processes() and time.time() < deadline + 5:
                    time.sleep(0.02)
            if self.proc.returncode not in (0, 128 + signal.SIGTERM):
                clean = False
            self.exit_code = self.proc.returncode
            self.proc = None
            self.stop_seconds = time.time() - t0
            self.stopped_cleanly = clean
            log("postfix %s stopped in %.2fs%s" % (self.name, self.stop_seconds,
                                                   "" if clean else " (killed)"))
        if self._err:
            self._err.close()
            self._err = None
        return clean

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def processes(self):
        """Live PIDs in this instance's process group (the master and its
        daemons; zombies do not count). Empty after stop()."""
        if self.pgid is None:
            return []
        out = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % entry) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[2]) == self.pgid and fields[0] != "Z":
                    out.append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
        return out

    # -- logs and queue -----------------------------------------------------

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_log(self, pattern, timeout=10.0, since=0):
        """The first log line (after character offset `since`) that matches
        the regular expression `pattern`, waiting up to `timeout` seconds;
        None if none appears."""
        rx = re.compile(pattern)
        deadline = time.time() + timeout
        while True:
            for line in self.log_text()[since:].splitlines():
                if rx.search(line):
                    return line
            if time.time() > deadline:
                return None
            time.sleep(0.05)

    def queue_ids(self):
        """Queue IDs of the messages still in this instance's queue."""
        ids = []
        for sub in ("incoming", "active", "deferred", "hold", "maildrop"):
            for root, _, files in os.walk(os.path.join(self.queue_dir, sub)):
                ids.extend(files)
        return ids

    def flush(self):
        return self.postfix("flush")


def pod_smtp(port, source=None, timeout=10.0, host="127.0.0.1"):
    """smtplib client (plain SMTP, no TLS) to a PostfixPod port (or
    podgate's SMTP listener), optionally from a chosen source address."""
    import smtplib
    return smtplib.SMTP(host, port, timeout=timeout,
                        source_address=(source, 0) if source else None)


def mailbox_has_subject(pod, user, password, subject, mailbox="INBOX"):
    """True if `user`'s mailbox on DovecotPod `pod` holds a message with
    exactly this Subject (checked over IMAP)."""
    im = PodIMAP4(pod.imap_port)
    try:
        im.login(user, password)
        return subject in imap_subjects(im, mailbox)
    finally:
        try:
            im.logout()
        except (imaplib.IMAP4.error, OSError):
            pass


def wait_subject(pod, user, password, subject, timeout=5.0, mailbox="INBOX"):
    """Waits until a message with this Subject is in the mailbox (a message
    submitted to a PostfixPod goes through its queue and LMTP first).
    Returns the seconds it took, or None on timeout."""
    t0 = time.time()
    while True:
        if mailbox_has_subject(pod, user, password, subject, mailbox):
            return time.time() - t0
        if time.time() - t0 > timeout:
            return None
        time.sleep(0.05)


# --------------------------------------------------------------------------
# podgate

class Podgate:
    """One podgate process. listeners: list of dicts {"protocol", "tls"} and
    optionally "listen"; a free port is picked when "listen" is missing."""

    def __init__(self, workdir, listeners, directory_dict, cert, key,
                 extra_config=None, binary=None, access_log=True):
        self.workdir = mkdir(workdir)
        self.listeners = []
        for l in listeners:
            l = dict(l)
            if "listen" not in l:
                l["listen"] = "127.0.0.1:%d" % free_port()
            self.listeners.append(l)
        self.directory = directory_dict
        self.cert, self.key = cert, key
        self.extra_config = dict(extra_config or {})
        self.binary = binary or podgate_bin()
        self.config_path = os.path.join(self.workdir, "podgate.json")
        self.directory_path = os.path.join(self.workdir, "directory.json")
        self.stderr_path = os.path.join(self.workdir, "podgate.stderr")
        self.access_log_path = os.path.join(self.workdir, "access.log") if access_log else None
        self.proc = None
        self._cleanup = None
        self.exit_code = None
        self.killed = False

    def port(self, protocol="imap", tls="implicit"):
        for l in self.listeners:
            if l["protocol"] == protocol and l["tls"] == tls:
                return int(l["listen"].rsplit(":", 1)[1])
        raise KeyError("no %s/%s listener" % (protocol, tls))

    def listener_addr(self, protocol="imap", tls="implicit"):
        return "127.0.0.1:%d" % self.port(protocol, tls)

    def _rel(self, path):
        """Relative to the config folder when inside it (exercises podgate's
        'paths are relative to the config file' rule)."""
        ap = os.path.abspath(path)
        if ap.startswith(self.workdir + os.sep):
            return os.path.relpath(ap, self.workdir)
        return ap

    def config_dict(self):
        cfg = {
            "listeners": self.listeners,
            "tls": {"certificate": self._rel(self.cert), "private_key": self._rel(self.key)},
            "directory": {"file": "directory.json"},
        }
        if self.access_log_path:
            cfg["access_log"] = self.access_log_path
        # The brute-force guard is on, as it ships: every test runs with it.
        # Tests that make many failures on purpose do so from addresses of
        # their own (127.0.x.y), or set "protection" in extra_config.
        for k, v in self.extra_config.items():
            cfg[k] = v
        return cfg

    def write_config(self):
        # certificate and key next to the config, referenced relatively
        for attr, name in (("cert", "cert.pem"), ("key", "key.pem")):
            src = getattr(self, attr)
            dst = os.path.join(self.workdir, name)
            if os.path.abspath(src) != dst:
                shutil.copyfile(src, dst)
                os.chmod(dst, 0o644)
                setattr(self, attr, dst)
        with open(self.directory_path, "w") as f:
            json.dump(self.directory, f, indent=2)
        with open(self.config_path, "w") as f:
            json.dump(self.config_dict(), f, indent=2)

    def start(self, timeout=10.0):
        if not (os.path.isfile(self.binary) and os.access(self.binary, os.X_OK)):
            raise RuntimeError("podgate binary not found or not executable: %s "
                               "(build it, or set PODGATE_BIN)" % self.binary)
        self.write_config()
        self._err = open(self.stderr_path, "ab")
        # cwd is "/" on purpose: relative paths must resolve against the
        # config file's folder, not the working directory.
        self.proc = subprocess.Popen([self.binary, "--config", self.config_path],
                                     cwd="/", stdin=subprocess.DEVNULL,
                                     stdout=self._err, stderr=self._err)
        self._cleanup = register_cleanup(self.stop)
        deadline = time.time() + timeout
        for l in self.listeners:
            host, port = l["listen"].rsplit(":", 1)
            if not wait_port(host, int(port), max(0.1, deadline - time.time()), self.proc):
                rc = self.proc.poll()
                self.stop()
                raise RuntimeError(
                    "podgate did not accept connections on %s within %.0f s (exit code %s)\n"
                    "--- command: %s --config %s\n--- config:\n%s\n--- stderr:\n%s"
                    % (l["listen"], timeout, rc, self.binary, self.config_path,
                       json.dumps(self.config_dict(), indent=2), tail(self.stderr_path, 200)))
        log("podgate up: %s" % [l["listen"] for l in self.listeners])
        return self

    def drain_seconds(self):
        return self.config_dict().get("timeouts", {}).get("drain_seconds", 30)

    def stop(self, grace=5.0):
        """One SIGTERM, as an operator's stop sends: podgate closes what has
        not logged in at once, drains logged-in sessions for at most
        timeouts.drain_seconds, and exits. If it is still running `grace`
        seconds after that window, it is SIGKILLed: the exit code is then
        negative and ImapWorld.stop() fails the test. Returns the exit code."""
        if self._cleanup:
            unregister_cleanup(self._cleanup)
            self._cleanup = None
        if self.proc is not None:
            self.exit_code, killed = terminate(self.proc, self.drain_seconds() + grace)
            self.killed = self.killed or killed
            self.proc = None
        if getattr(self, "_err", None):
            self._err.close()
            self._err = None
        return self.exit_code

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def access_log_text(self):
        if not self.access_log_path:
            return ""
        try:
            with open(self.access_log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def access_log_lines(self):
        """Parsed JSON objects, one per complete line. A line that is not
        valid JSON is returned as {"_unparsable": text} so tests can fail on it."""
        out = []
        text = self.access_log_text()
        for line in text.split("\n")[:-1] if not text.endswith("\n") else text.split("\n"):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                obj = {"_unparsable": line}
            out.append(obj)
        return out

    def wait_access_log_where(self, predicate, timeout=5.0):
        """Lines for which `predicate(line)` holds; waits until there is one."""
        deadline = time.time() + timeout
        while True:
            found = [o for o in self.access_log_lines() if predicate(o)]
            if found or time.time() > deadline:
                return found
            time.sleep(0.05)

    def wait_access_log(self, client, timeout=5.0):
        """Lines whose "client" equals `client` ("ip:port"); waits until at
        least one has been written (a session is logged when it closes)."""
        deadline = time.time() + timeout
        while True:
            found = [o for o in self.access_log_lines() if o.get("client") == client]
            if found or time.time() > deadline:
                return found
            time.sleep(0.05)

    def check_config(self, config_path=None, timeout=10):
        """Run `podgate --check-config --config FILE`; returns CompletedProcess."""
        return subprocess.run([self.binary, "--check-config", "--config",
                               config_path or self.config_path],
                              cwd="/", stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout)


# --------------------------------------------------------------------------
# Clients

_client_ctx = None


def client_tls_context():
    """A shared client context without certificate checks (self-signed test
    certificates). Shared, and without the system CA store: loading that
    store costs ~30 ms per context and would show up in every login time."""
    global _client_ctx
    if _client_ctx is None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        _client_ctx = ctx
    return _client_ctx


def connect(port, host="127.0.0.1", source=None, timeout=10.0):
    src = (source, 0) if source else None
    s = socket.create_connection((host, port), timeout=timeout, source_address=src)
    # like most mail clients: no Nagle delay on our small command writes (else
    # a command written right after the TLS Finished waits ~40 ms for the
    # server's delayed ACK, and login timings measure the client)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


class PodIMAP4(imaplib.IMAP4):
    """imaplib over plain TCP (use .starttls() for STARTTLS), from a chosen
    source address."""

    def __init__(self, port, host="127.0.0.1", source=None, timeout=10.0):
        self._pg_source = source
        super().__init__(host, port, timeout=timeout)

    def _create_socket(self, timeout):
        return connect(self.port, self.host, self._pg_source, timeout)

    def starttls_noverify(self):
        return self.starttls(ssl_context=client_tls_context())

    def client_addr(self):
        return "%s:%d" % self.sock.getsockname()[:2]


class PodIMAP4_SSL(imaplib.IMAP4_SSL):
    """imaplib over implicit TLS (no certificate check), from a chosen source
    address."""

    def __init__(self, port, host="127.0.0.1", source=None, timeout=10.0, ssl_context=None):
        self._pg_source = source
        super().__init__(host, port, ssl_context=ssl_context or client_tls_context(),
                         timeout=timeout)

    def _create_socket(self, timeout):
        sock = connect(self.port, self.host, self._pg_source, timeout)
        return self.ssl_context.wrap_socket(sock, server_hostname=self.host)

    def client_addr(self):
        return "%s:%d" % self.sock.getsockname()[:2]


class Closed(Exception):
    pass


class RawIMAP:
    """Line-level IMAP client: you write the bytes, it hands back lines.

    mode: "tls" (implicit TLS), "plain" (no TLS; call starttls() yourself)."""

    def __init__(self, port, mode="tls", source=None, timeout=10.0, host="127.0.0.1",
                 read_greeting=True):
        self.timeout = timeout
        self.raw = connect(port, host, source, timeout)
        self.client_addr = "%s:%d" % self.raw.getsockname()[:2]
        try:
            self._init(mode, host, read_greeting)
        except BaseException:
            self.close()
            raise

    def _init(self, mode, host, read_greeting):
        self.sock = self.raw
        self.buf = bytearray()
        self.transcript = []
        self.sent_bytes = 0   # application bytes (after TLS decryption)
        self.recv_bytes = 0
        if mode == "tls":
            self.sock = client_tls_context().wrap_socket(self.raw, server_hostname=host)
        self.greeting = self.readline() if read_greeting else None

    def tls_version(self):
        return self.sock.version() if isinstance(self.sock, ssl.SSLSocket) else None

    def starttls_handshake(self):
        """Handshake on the current socket (after `tag STARTTLS` got OK).
        Bytes already buffered from the server are an error by spec, so
        they are returned to the caller to check."""
        leftover = bytes(self.buf)
        self.buf = bytearray()
        self.sock = client_tls_context().wrap_socket(self.raw, server_hostname="127.0.0.1")
        return leftover

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.transcript.append(b"C: " + data)
        self.sock.sendall(data)
        self.sent_bytes += len(data)

    def _fill(self, deadline):
        remaining = deadline - time.time()
        if remaining <= 0:
            raise socket.timeout("timed out waiting for server")
        self.sock.settimeout(remaining)
        chunk = self.sock.recv(65536)
        if not chunk:
            raise Closed("connection closed by server")
        self.recv_bytes += len(chunk)
        self.buf += chunk

    def readline(self, timeout=None):
        deadline = time.time() + (timeout if timeout is not None else self.timeout)
        start = 0
        while True:
            i = self.buf.find(b"\r\n", start)
            if i >= 0:
                break
            start = max(0, len(self.buf) - 1)
            self._fill(deadline)
        line = bytes(self.buf[:i])
        del self.buf[:i + 2]
        self.transcript.append(b"S: " + line[:2000])
        return line

    def read_exact(self, n, timeout=None):
        deadline = time.time() + (timeout if timeout is not None else self.timeout)
        while len(self.buf) < n:
            self._fill(deadline)
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def read_response(self, tag, timeout=None):
        """Read lines until the tagged completion for `tag`; literals in
        untagged data are read whole. Returns (tagged_line, untagged_lines)."""
        tag = tag.encode() if isinstance(tag, str) else tag
        untagged = []
        deadline = time.time() + (timeout if timeout is not None else self.timeout)
        while True:
            line = self.readline(max(0.01, deadline - time.time()))
            m = re.search(rb"\{(\d+)\}$", line)
            if m:
                lit = self.read_exact(int(m.group(1)), max(0.01, deadline - time.time()))
                line = line + b"\r\n" + lit
                rest = self.readline(max(0.01, deadline - time.time()))
                line = line + rest
            if line.startswith(tag + b" "):
                return line, untagged
            untagged.append(line)

    def command(self, tag, text, timeout=None):
        self.send("%s %s\r\n" % (tag, text))
        return self.read_response(tag, timeout)

    def read_until_closed(self, timeout=None):
        """Lines until EOF. Raises socket.timeout if the server keeps it open."""
        lines = []
        deadline = time.time() + (timeout if timeout is not None else self.timeout)
        while True:
            try:
                lines.append(self.readline(max(0.01, deadline - time.time())))
            except socket.timeout:
                raise
            except (Closed, OSError):  # EOF, reset, TLS alert
                if self.buf:
                    lines.append(bytes(self.buf))
                    self.buf = bytearray()
                return lines

    def is_closed(self, timeout=2.0):
        """True if the server closes the connection within `timeout` (lines
        it sends first, e.g. a BYE, are kept in self.closing_lines)."""
        try:
            self.closing_lines = self.read_until_closed(timeout)
            return True
        except socket.timeout:
            return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
        try:
            self.raw.close()
        except OSError:
            pass

    def reset(self):
        """Vanish: close with an RST instead of a FIN (SO_LINGER on, zero
        timeout), as a client that crashes or loses its network does."""
        # self.sock: after a TLS wrap it owns the descriptor (self.raw is detached)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close()

    def dump(self):
        return "\n".join(t[:300].decode("utf-8", "replace") for t in self.transcript[-40:])


def imap_quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def plain_b64(user, password, authzid=""):
    return base64.b64encode(("%s\0%s\0%s" % (authzid, user, password)).encode()).decode()


def b64(s):
    return base64.b64encode(s.encode()).decode()


def imap_subjects(im, mailbox="INBOX"):
    """Subjects of every message in a mailbox, via an imaplib client."""
    typ, _ = im.select(mailbox, readonly=True)
    if typ != "OK":
        raise AssertionError("SELECT %s failed: %s" % (mailbox, typ))
    typ, data = im.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    out = []
    for item in data:
        if isinstance(item, tuple):
            for line in item[1].decode(errors="replace").splitlines():
                if line.lower().startswith("subject:"):
                    out.append(line.split(":", 1)[1].strip())
    return out


# --------------------------------------------------------------------------
# The standard topology used by the test files and the demo

PASSWORDS = {
    "alice@example.com": "alice-Pw-7d1e9",
    "bob@example.com": "bob-Pw-2c8a4",
    "carol@example.com": "carol-Pw-5b3f0",
    "dave@example.com": 'd4ve Pw "quoted" {7} \\back',  # spaces, quotes, braces, backslash
    "dan@example.com": "dan-Pw-9e6d2",        # on the dead pod
    "frank@example.com": "frank-Pw-1a7c3",    # on the failover pod [dead, pod-1]
    "erin@example.org": "erin-Pw-8f2b6",      # routed by domain to pod-2
    "grace@example.com": "grace-Pw-4d9a1",    # pod-2: IDLE and big message
}
WRONG_PASSWORDS = ["wrong-Pw-0f0f0", "Wrong Pw with spaces 3e3e"]


class ImapWorld:
    """Two Dovecot pods with every user on both (so a misroute is visible
    through the marker mail), a directory that routes them, and podgate.

      pod-1: alice, carol (imap disabled), dave, frank (via pod-fo)
      pod-2: bob, erin@example.org (domain route), grace
      pod-dead: [refusing port]          dan
      pod-fo:   [refusing port, pod-1]   frank

    smtp=True: each pod also gets a PostfixPod (self.postfix1, self.postfix2,
    self.postfixes by pod name) for submission into that pod's mailboxes,
    listed in directory() as "smtp" (pod-dead: the refusing port; pod-fo:
    [refusing port, pod-1's Postfix]). smtp may also be a dict of extra
    PostfixPod keyword arguments, e.g. {"extra_main_cf": {"inet_protocols":
    "all"}} so Postfix accepts XCLIENT ADDR=IPV6:...
    """

    def __init__(self, podgate_extra=None, cert_kind="ecdsa", start_podgate=True,
                 listeners=None, pod_tls=False, pop3=False, smtp=False):
        self.root = make_tempdir("pg-")
        register_cleanup(self._rm_root)
        self.passwords = dict(PASSWORDS)
        self.dead = RefusingPort()
        self.cert, self.key = make_cert(self.root, cert_kind)
        tls = {}
        if pod_tls:
            tls = {"tls_cert": self.cert, "tls_key": self.key}
            if pop3:
                tls["pop3s_port"] = True
        def protocols():
            return {"imap": free_port(), "pop3": free_port()} if pop3 else None
        if smtp:  # auth + LMTP listeners for a PostfixPod in front of each pod
            tls.update(auth_port=True, lmtp_port=True)
        self.pod1 = DovecotPod("pod-1", os.path.join(self.root, "pod-1"), self.passwords,
                               marker="pod-1 marker", protocols=protocols(), **tls)
        self.pod2 = DovecotPod("pod-2", os.path.join(self.root, "pod-2"), self.passwords,
                               marker="pod-2 marker", protocols=protocols(), **tls)
        self.pods = {"pod-1": self.pod1, "pod-2": self.pod2}
        # smtp=True: one private Postfix per pod (submission with SASL from
        # the pod's Dovecot, delivery into the pod's mailboxes by LMTP)
        self.postfixes = {}
        self.postfix1 = self.postfix2 = None
        self.user_pod = {
            "alice@example.com": "pod-1", "bob@example.com": "pod-2",
            "carol@example.com": "pod-1", "dave@example.com": "pod-1",
            "dan@example.com": "pod-dead", "frank@example.com": "pod-fo",
            "erin@example.org": "pod-2", "grace@example.com": "pod-2",
        }
        self.podgate = None
        self.extra_podgates = []
        try:
            self.pod1.start()
            self.pod2.start()
            if smtp:
                smtp_kw = dict(smtp) if isinstance(smtp, dict) else {}
                if pod_tls:  # and an smtps port, for backend_tls "implicit"
                    smtp_kw.setdefault("tls_cert", self.cert)
                    smtp_kw.setdefault("tls_key", self.key)
                self.postfix1 = PostfixPod("pod-1", os.path.join(self.root, "pod-1-smtp"),
                                           self.pod1, **smtp_kw)
                self.postfixes["pod-1"] = self.postfix1
                self.postfix1.start()
                self.postfix2 = PostfixPod("pod-2", os.path.join(self.root, "pod-2-smtp"),
                                           self.pod2, **smtp_kw)
                self.postfixes["pod-2"] = self.postfix2
                self.postfix2.start()
            if start_podgate:
                self.podgate = self.new_podgate("podgate", podgate_extra, listeners=listeners)
        except Exception:
            self.stop()
            raise

    def directory(self):
        pods = {
            "pod-1": {"imap": [self.pod1.imap_addr]},
            "pod-2": {"imap": [self.pod2.imap_addr]},
            "pod-dead": {"imap": [self.dead.addr]},
            "pod-fo": {"imap": [self.dead.addr, self.pod1.imap_addr]},
        }
        if "pop3" in self.pod1.protocols:
            pods["pod-1"]["pop3"] = [self.pod1.pop3_addr]
            pods["pod-2"]["pop3"] = [self.pod2.pop3_addr]
            pods["pod-dead"]["pop3"] = [self.dead.addr]
            pods["pod-fo"]["pop3"] = [self.dead.addr, self.pod1.pop3_addr]
        if self.postfixes:
            pods["pod-1"]["smtp"] = [self.postfix1.addr]
            pods["pod-2"]["smtp"] = [self.postfix2.addr]
            pods["pod-dead"]["smtp"] = [self.dead.addr]
            pods["pod-fo"]["smtp"] = [self.dead.addr, self.postfix1.addr]
        return {
            "pods": pods,
            "users": {
                "alice@example.com": {"pod": "pod-1"},
                "bob@example.com": {"pod": "pod-2"},
                "carol@example.com": {"pod": "pod-1", "imap": False},
                "dave@example.com": {"pod": "pod-1"},
                "dan@example.com": {"pod": "pod-dead"},
                "frank@example.com": {"pod": "pod-fo"},
                "grace@example.com": {"pod": "pod-2"},
            },
            "domains": {"example.org": {"pod": "pod-2"}},
        }

    # podgate answers every refused login no sooner than
    # timeouts.auth_failure_delay_ms (default 2000): shorter here so the
    # suite stays fast, but above Dovecot's own ~0.5 s so it is observable
    AUTH_FAILURE_DELAY_MS = 700
    # The brute-force guard is on with its thresholds as shipped; only its
    # tarpit (2 s more per failure from one address, up to 15 s) is shorter,
    # or the wrong passwords the tests send from 127.0.0.1 would add minutes.
    TARPIT = {"tarpit_step_ms": 50, "tarpit_max_ms": 200}
    # Sessions a test leaves logged in when it stops podgate hold the stop up
    # for at most this long (the default is 30 s).
    DRAIN_SECONDS = 2

    def new_podgate(self, name, extra=None, directory=None, cert=None, key=None,
                    listeners=None, start=True):
        extra = json.loads(json.dumps(extra or {}))
        extra.setdefault("timeouts", {}).setdefault("auth_failure_delay_ms",
                                                    self.AUTH_FAILURE_DELAY_MS)
        # a stop waits for logged-in sessions this long (Podgate.stop)
        extra["timeouts"].setdefault("drain_seconds", self.DRAIN_SECONDS)
        for setting, value in self.TARPIT.items():
            extra.setdefault("protection", {}).setdefault(setting, value)
        pg = Podgate(os.path.join(self.root, name),
                     listeners or [{"protocol": "imap", "tls": "implicit"},
                                   {"protocol": "imap", "tls": "starttls"}],
                     directory or self.directory(), cert or self.cert, key or self.key,
                     extra_config=extra)
        if pg is not None and self.podgate is not None:
            self.extra_podgates.append(pg)
        if start:
            pg.start()
        return pg

    def all_podgates(self):
        return [p for p in [self.podgate] + self.extra_podgates if p is not None]

    def marker_of(self, user):
        pod = self.user_pod[user]
        return {"pod-1": "pod-1 marker", "pod-2": "pod-2 marker",
                "pod-fo": "pod-1 marker"}.get(pod)

    def diagnostics(self):
        parts = []
        for pg in self.all_podgates():
            parts.append("--- podgate %s stderr (tail):\n%s" % (pg.workdir, tail(pg.stderr_path, 40)))
            if pg.access_log_path:
                parts.append("--- podgate %s access log (tail):\n%s" % (pg.workdir, tail(pg.access_log_path, 10)))
        for name, pod in self.pods.items():
            parts.append("--- %s log (tail):\n%s" % (name, tail(pod.log_path, 25)))
        for name, pf in getattr(self, "postfixes", {}).items():
            parts.append("--- %s postfix log (tail):\n%s" % (name, tail(pf.log_path, 25)))
        return "\n".join(parts)

    def stop(self):
        """Stops everything, then fails if any podgate did not exit cleanly on
        SIGTERM or reported a sanitizer finding (leak, overflow, UB) on its
        way out: the ASan build's integration runs rely on this."""
        problems = []
        for pg in self.all_podgates():
            code = pg.stop()
            text = pg.stderr_text()
            if code not in (0, None):
                problems.append("podgate %s exited with %s" % (pg.workdir, code))
            if "Sanitizer" in text or "runtime error:" in text:
                problems.append("podgate %s sanitizer report:\n%s" % (pg.workdir, tail(pg.stderr_path, 80)))
        postfixes = list(getattr(self, "postfixes", {}).values())
        for pf in postfixes:  # before the pods: they use the pods' auth and LMTP
            pf.begin_stop()
        for pf in postfixes:
            if not pf.stop():
                sys.stderr.write("[podlib] postfix %s did not stop cleanly (exit %s)\n"
                                 % (pf.name, pf.exit_code))
        for pod in self.pods.values():
            pod.begin_stop()
        for pod in self.pods.values():
            pod.stop()
        self.dead.close()
        if problems:
            raise AssertionError("\n".join(problems))

    def _rm_root(self):
        if os.environ.get("PODLIB_KEEP"):
            sys.stderr.write("[podlib] kept %s\n" % self.root)
            return
        shutil.rmtree(self.root, ignore_errors=True)


# --------------------------------------------------------------------------
# unittest glue shared by the test files

import unittest  # noqa: E402


class WorldTestCase(unittest.TestCase):
    """Starts an ImapWorld per test class (world_kwargs), stops it in
    tearDownClass (and at exit, whatever happens), and prints podgate's
    stderr, the access log, the pod logs and the raw client transcript of a
    test that failed."""

    world_kwargs = {}
    world = None

    @classmethod
    def setUpClass(cls):
        cls.world = ImapWorld(**cls.world_kwargs)
        cls.pg = cls.world.podgate
        try:
            cls.set_up_more()
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def set_up_more(cls):
        """What a test class adds to the world (more podgates, services).
        If it fails, tearDownClass() stops whatever was started."""

    @classmethod
    def tearDownClass(cls):
        if cls.world is not None:
            try:
                cls.world.stop()
            finally:
                cls.world._rm_root()

    def _problems(self):
        result = getattr(getattr(self, "_outcome", None), "result", None)
        if result is None:
            return 0
        return len(getattr(result, "errors", [])) + len(getattr(result, "failures", []))

    def setUp(self):
        self._raws = []
        self._problems_before = self._problems()

    def tearDown(self):
        failed = self._problems() > self._problems_before
        for r in self._raws:
            if failed:
                sys.stderr.write("\n--- raw client %s transcript:\n%s\n" % (r.client_addr, r.dump()))
            r.close()
        if failed and self.world is not None:
            sys.stderr.write("\n=== diagnostics for %s ===\n%s\n" % (self.id(), self.world.diagnostics()))

    # -- clients ----------------------------------------------------------

    def raw(self, port=None, mode="tls", source=None, pg=None, **kw):
        pg = pg or self.pg
        if port is None:
            port = pg.port("imap", "implicit" if mode == "tls" else "starttls")
        mark = len(pg.access_log_lines())
        r = RawIMAP(port, mode=mode, source=source, **kw)
        r.log_mark = (pg, mark)
        self._raws.append(r)
        return r

    def log_mark(self, pg=None):
        """Access-log position before a session starts (ephemeral client
        ports get reused, so "client" alone is not unique over a run)."""
        return len((pg or self.pg).access_log_lines())

    def raw_starttls(self, source=None, pg=None):
        """Plain connection to the STARTTLS listener, upgraded to TLS."""
        r = self.raw(mode="plain", source=source, pg=pg)
        tagged, _ = r.command("s", "STARTTLS")
        self.assertTrue(tagged.startswith(b"s OK"), tagged)
        leftover = r.starttls_handshake()
        self.assertEqual(leftover, b"", "server sent plaintext after STARTTLS OK")
        return r

    def login(self, r, user, password, tag="L"):
        tagged, _ = r.command(tag, "LOGIN %s %s" % (imap_quote(user), imap_quote(password)))
        return tagged

    def assertTagged(self, line, tag, status, code=None):
        prefix = ("%s %s" % (tag, status)).encode()
        self.assertTrue(line.startswith(prefix + b" ") or line == prefix,
                        "expected %r, got %r" % (prefix, line))
        if code is not None:
            self.assertTrue(line.startswith(prefix + b" [" + code.encode() + b"]"),
                            "expected [%s] in %r" % (code, line))

    def access_line(self, client, pg=None, timeout=5.0, since=None):
        """The one access-log line of the session from `client` ("ip:port"),
        among the lines written after `since` (default: when the RawIMAP
        client with that address was opened)."""
        pg = pg or self.pg
        if since is None:
            for r in self._raws:
                if r.client_addr == client and r.log_mark[0] is pg:
                    since = r.log_mark[1]
            if since is None:
                since = 0
        deadline = time.time() + timeout
        while True:
            lines = [o for o in pg.access_log_lines()[since:] if o.get("client") == client]
            if lines or time.time() > deadline:
                break
            time.sleep(0.05)
        time.sleep(0.1)
        lines = [o for o in pg.access_log_lines()[since:] if o.get("client") == client]
        self.assertEqual(len(lines), 1, "expected exactly one access-log line for %s, got %r"
                         % (client, lines))
        return lines[0]


class NoSecretsMixin:
    """Runs last in its class (name order): no password, and no base64 AUTH
    payload made from one, appears in any podgate's access log or stderr."""

    def test_zz_no_secrets_logged(self):
        # Make sure every mechanism has been used at least once in this class.
        pw = self.world.passwords
        pg = getattr(self, "secrets_pg", None)  # a podgate whose timeouts allow slow logins
        r = self.raw(pg=pg)
        self.login(r, "alice@example.com", WRONG_PASSWORDS[0], tag="w1")
        r.command("w2", "AUTHENTICATE PLAIN " + plain_b64("bob@example.com", WRONG_PASSWORDS[1]))
        r.send("w3 AUTHENTICATE LOGIN\r\n")
        r.readline()
        r.send(b64("alice@example.com") + "\r\n")
        r.readline()
        r.send(b64(WRONG_PASSWORDS[0]) + "\r\n")
        r.read_response("w3")
        r.close()
        r = self.raw(pg=pg)
        tagged, _ = r.command("w4", "AUTHENTICATE PLAIN " + plain_b64("alice@example.com", pw["alice@example.com"]))
        self.assertTagged(tagged, "w4", "OK")
        r.close()
        r = self.raw(pg=pg)
        r.send("x1 AUTHENTICATE LOGIN\r\n")
        r.readline()
        r.send(b64("bob@example.com") + "\r\n")
        r.readline()
        r.send(b64(pw["bob@example.com"]) + "\r\n")
        tagged, _ = r.read_response("x1")
        self.assertTagged(tagged, "x1", "OK")
        r.close()
        time.sleep(0.5)

        passwords = list(pw.values()) + list(WRONG_PASSWORDS) + list(getattr(self, "extra_secrets", []))
        secrets = set()
        for p in passwords:
            secrets.add(p)
            secrets.add(json.dumps(p)[1:-1])       # as it would look inside a JSON string
            secrets.add(imap_quote(p)[1:-1])       # as it looks quoted on the wire
            secrets.add(b64(p))
            for u in list(pw) + ["nobody@example.com", "nobody@example.org"]:
                for authz in ("", "bob@example.com"):
                    secrets.add(plain_b64(u, p, authz))
        found = []
        for each in self.world.all_podgates():
            for what, text in (("access log", each.access_log_text()),
                               ("stderr", each.stderr_text())):
                for s in secrets:
                    if s and s in text:
                        found.append("%s of %s contains %r" % (what, each.workdir, s))
        self.assertEqual(found, [])
        # Nothing was checked unless the logins above are in the logs read:
        # the podgate that served them logged a refusal and a success of
        # alice, and bob's success.
        served = [o for o in (pg or self.pg).access_log_lines()]
        for user, result in (("alice@example.com", "auth_failed"), ("alice@example.com", "ok"),
                             ("bob@example.com", "ok")):
            self.assertTrue(any(o.get("user") == user and o.get("result") == result
                                for o in served),
                            "no %s login of %s in the access log read" % (result, user))


# --------------------------------------------------------------------------
# Self-check: the Dovecot fixture, straight to the pods (no podgate needed)

def selftest():
    t0 = time.time()
    w = ImapWorld(start_podgate=False)
    ok = True

    def check(cond, what):
        nonlocal ok
        print("%s %s" % ("ok  " if cond else "FAIL", what))
        ok = ok and bool(cond)

    try:
        for user, podname in [("alice@example.com", "pod-1"), ("bob@example.com", "pod-2")]:
            pod = w.pods[podname]
            im = PodIMAP4(pod.imap_port)
            im.login(user, w.passwords[user])
            subj = imap_subjects(im)
            check(subj == ["%s marker" % podname], "%s on %s sees %r" % (user, podname, subj))
            im.logout()
        # odd password (spaces, quotes, braces, backslash) via quoted string and literal
        im = PodIMAP4(w.pod1.imap_port)
        typ, _ = im.login("dave@example.com", w.passwords["dave@example.com"])
        check(typ == "OK", "dave logs in with quoted odd password")
        im.logout()
        r = RawIMAP(w.pod1.imap_port, mode="plain")
        pw = w.passwords["dave@example.com"].encode()
        r.send(b"a LOGIN dave@example.com {%d+}\r\n%s\r\n" % (len(pw), pw))
        tagged, _ = r.read_response("a")
        check(tagged.startswith(b"a OK"), "dave logs in with LITERAL+ password: %r" % tagged)
        r.close()
        # wrong password is fast (auth_failure_delay = 0)
        im = PodIMAP4(w.pod1.imap_port)
        t = time.time()
        try:
            im.login("alice@example.com", "nope")
            check(False, "wrong password refused")
        except imaplib.IMAP4.error:
            check(time.time() - t < 1.0, "wrong password refused quickly (%.2fs)" % (time.time() - t))
        im.shutdown()
        # x-originating-ip honoured from a trusted network
        r = RawIMAP(w.pod1.imap_port, mode="plain")
        r.command("i", 'ID ("x-originating-ip" "127.0.0.77" "x-originating-port" "4242")')
        tagged, _ = r.command("l", "LOGIN alice@example.com %s" % imap_quote(w.passwords["alice@example.com"]))
        check(tagged.startswith(b"l OK"), "login after ID")
        r.command("o", "LOGOUT")
        r.close()
        time.sleep(0.2)
        check(any("rip=127.0.0.77" in l and "rport=4242" in l for l in w.pod1.login_lines()),
              "pod log shows rip=127.0.0.77 rport=4242 from ID")
        # IDLE wakes within 2 s on deliver()
        r = RawIMAP(w.pod2.imap_port, mode="plain")
        r.command("a", "LOGIN grace@example.com %s" % imap_quote(w.passwords["grace@example.com"]))
        tagged, untagged = r.command("b", "SELECT INBOX")
        n = [int(l.split()[1]) for l in untagged if l.endswith(b"EXISTS")][0]
        r.send("t IDLE\r\n")
        check(r.readline().startswith(b"+"), "IDLE continuation")
        t = time.time()
        w.pod2.deliver("grace@example.com", make_message("idle test"))
        line = r.readline(timeout=3)
        check(line == b"* %d EXISTS" % (n + 1),
              "IDLE saw %r after %.2fs" % (line, time.time() - t))
        r.send("DONE\r\n")
        tagged, _ = r.read_response("t")
        check(tagged.startswith(b"t OK"), "IDLE done")
        # kick closes the session
        w.pod2.kick("grace@example.com")
        check(r.is_closed(3), "doveadm kick closes the session")
        r.close()
        # big message is byte-identical
        big = make_big_message(2 * 1024 * 1024)
        w.pod2.deliver("grace@example.com", big, mailbox="INBOX")
        im = PodIMAP4(w.pod2.imap_port)
        im.login("grace@example.com", w.passwords["grace@example.com"])
        typ, data = im.select("INBOX", readonly=True)
        n = int(data[0])
        typ, data = im.fetch(str(n), "(BODY.PEEK[])")
        check(data[0][1] == big, "2 MB message comes back byte for byte (%d bytes)" % len(big))
        im.logout()
    finally:
        w.stop()
        run_cleanups()
    print("selftest %s in %.1fs" % ("PASSED" if ok else "FAILED", time.time() - t0))
    return 0 if ok else 1


# --------------------------------------------------------------------------
# Self-check: the Postfix pods (SMTP submission backends), no podgate needed

def selftest_smtp():
    import smtplib
    t0 = time.time()
    ok = True

    def check(cond, what):
        nonlocal ok
        print("%s %s" % ("ok  " if cond else "FAIL", what))
        sys.stdout.flush()
        ok = ok and bool(cond)

    def uniq(what):
        return "%s %s" % (what, hashlib.sha1(os.urandom(8)).hexdigest()[:12])

    w = ImapWorld(smtp=True, start_podgate=False)
    print("world with 2 Dovecot + 2 Postfix pods up in %.2fs (postfix start %.2fs, %.2fs)"
          % (time.time() - t0, w.postfix1.start_seconds, w.postfix2.start_seconds))
    pf1, pf2 = w.postfix1, w.postfix2
    alice, apw = "alice@example.com", w.passwords["alice@example.com"]
    extra = None
    try:
        d = w.directory()["pods"]
        check(d["pod-1"]["smtp"] == [pf1.addr] and d["pod-2"]["smtp"] == [pf2.addr]
              and d["pod-dead"]["smtp"] == [w.dead.addr]
              and d["pod-fo"]["smtp"] == [w.dead.addr, pf1.addr],
              "directory() lists the smtp backends: %r" % {k: v["smtp"] for k, v in d.items()})

        # EHLO: extensions
        s = pod_smtp(pf1.port)
        code, banner = s.ehlo("client.podgate.test")
        f = s.esmtp_features
        auth = f.get("auth", "").split()
        check(code == 250 and all(k in f for k in ("size", "8bitmime", "pipelining",
                                                 "enhancedstatuscodes", "xclient"))
              and "PLAIN" in auth and "LOGIN" in auth,
              "EHLO lists SIZE 8BITMIME PIPELINING ENHANCEDSTATUSCODES AUTH PLAIN LOGIN XCLIENT: %r"
              % banner.decode().splitlines())
        check(f.get("size") == str(30 * 1024 * 1024), "SIZE %s" % f.get("size"))
        # no AUTH yet: recipients refused
        s.mail("alice@example.com")
        code, msg = s.rcpt(alice)
        check(code == 554 and b"5.7.1" in msg, "RCPT before AUTH refused: %d %r" % (code, msg))
        s.rset()
        # wrong password: 535, session still usable
        s.user, s.password = alice, "wrong-" + apw
        code, msg = s.docmd("AUTH", "PLAIN " + plain_b64(alice, "wrong-" + apw))
        check(code == 535 and msg.startswith(b"5.7.8"), "wrong password: %d %r" % (code, msg))
        t = time.time()
        code, msg = s.docmd("AUTH", "PLAIN " + plain_b64(alice, apw))
        check(code == 235, "AUTH PLAIN as alice: %d %r (%.3fs)" % (code, msg, time.time() - t))
        # too big (declared SIZE) and unknown recipient
        code, msg = s.mail("alice@example.com", ["SIZE=%d" % (30 * 1024 * 1024 + 1)])
        check(code == 552, "MAIL SIZE over message_size_limit: %d %r" % (code, msg))
        s.rset()
        s.mail("alice@example.com")
        code, msg = s.rcpt("nobody@example.com")
        check(code == 550 and b"5.1.1" in msg, "unknown recipient: %d %r" % (code, msg))
        s.rset()
        # a message for alice lands on pod-1 (not pod-2)
        subj = uniq("smtp selftest")
        t = time.time()
        refused = s.sendmail("alice@example.com", [alice],
                             make_message(subj, to=alice, sender=alice))
        check(refused == {}, "sendmail accepted")
        took = wait_subject(w.pod1, alice, apw, subj, timeout=5)
        check(took is not None, "message in alice's INBOX on pod-1 after %.2fs"
              % (time.time() - t))
        check(not mailbox_has_subject(w.pod2, alice, apw, subj), "and not on pod-2")
        # 10 MB, body byte for byte
        big_subj = uniq("smtp big")
        big = make_big_message(10 * 1024 * 1024, subject=big_subj)
        t = time.time()
        s.sendmail("alice@example.com", [alice], big)
        sent = time.time() - t
        took = wait_subject(w.pod1, alice, apw, big_subj, timeout=15)
        im = PodIMAP4(w.pod1.imap_port)
        im.login(alice, apw)
        im.select("INBOX", readonly=True)
        typ, data = im.search(None, "HEADER", "Subject", '"%s"' % big_subj)
        nums = data[0].split()
        body = b""
        if nums:
            typ, data = im.fetch(nums[-1], "(BODY.PEEK[TEXT])")
            body = data[0][1]
        im.logout()
        check(took is not None and body == big.split(b"\r\n\r\n", 1)[1],
              "10 MB message: sent in %.2fs, body byte-identical in IMAP (%d bytes)"
              % (sent, len(body)))
        s.quit()

        # LOGIN mechanism works too; pod-2's Postfix delivers into pod-2
        s = pod_smtp(pf2.port)
        s.ehlo("client.podgate.test")
        s.user, s.password = "bob@example.com", w.passwords["bob@example.com"]
        code, msg = s.auth("LOGIN", s.auth_login)
        check(code == 235, "AUTH LOGIN as bob on pod-2: %d" % code)
        subj2 = uniq("smtp pod-2")
        s.sendmail("bob@example.com", ["bob@example.com"], make_message(subj2))
        s.quit()
        check(wait_subject(w.pod2, "bob@example.com", w.passwords["bob@example.com"], subj2)
              is not None, "bob's message via pod-2's Postfix is in bob's INBOX on pod-2")
        check(not mailbox_has_subject(w.pod1, "bob@example.com",
                                      w.passwords["bob@example.com"], subj2),
              "and not on pod-1")

        # XCLIENT: the client address as podgate would pass it
        mark = len(pf1.log_text())
        s = pod_smtp(pf1.port)
        s.ehlo("podgate")
        code, msg = s.docmd("XCLIENT", "ADDR=127.0.0.9")
        check(code == 220, "XCLIENT ADDR=127.0.0.9: %d %r" % (code, msg))
        s.ehlo_resp = None
        s.esmtp_features = {}
        code, _ = s.ehlo("client.example.net")
        bad, _ = s.docmd("AUTH", "PLAIN " + plain_b64(alice, "wrong-after-xclient"))
        code2, _ = s.docmd("AUTH", "PLAIN " + plain_b64(alice, apw))
        subj3 = uniq("smtp xclient")
        s.sendmail(alice, [alice], make_message(subj3))
        s.quit()
        line = pf1.wait_log(r"client=unknown\[127\.0\.0\.9\]", since=mark)
        check(code == 250 and code2 == 235 and line is not None,
              "after XCLIENT, EHLO+AUTH work and the Postfix log shows the client as 127.0.0.9: %r"
              % line)
        check(wait_subject(w.pod1, alice, apw, subj3) is not None, "XCLIENT session's message delivered")
        # Postfix hands the XCLIENT address to Dovecot's auth (rip): the
        # failed AUTH above is logged with it
        rip = [l for l in w.pod1.log_text().splitlines()
               if "alice@example.com,127.0.0.9" in l]
        check(bad == 535 and rip, "Dovecot auth saw the XCLIENT address: %r" % rip[-1:])

        # XCLIENT only for smtpd_authorized_xclient_hosts: a third Postfix
        # side by side that only trusts 127.0.0.2
        extra = PostfixPod("pod-1x", os.path.join(w.root, "pod-1x-smtp"), w.pod1,
                           extra_main_cf={"smtpd_authorized_xclient_hosts": "127.0.0.2"})
        extra.start()
        s = pod_smtp(extra.port, source="127.0.0.1")
        s.ehlo("client")
        no_xclient = "xclient" not in s.esmtp_features
        code, msg = s.docmd("XCLIENT", "ADDR=127.0.0.9")
        s.close()
        s = pod_smtp(extra.port, source="127.0.0.2")
        s.ehlo("client")
        yes_xclient = "xclient" in s.esmtp_features
        s.close()
        check(no_xclient and code == 550 and yes_xclient,
              "XCLIENT offered only to authorized hosts (127.0.0.1: absent, XCLIENT -> %d %r; "
              "127.0.0.2: offered)" % (code, msg))
        extra.stop()
        check(extra.stopped_cleanly and extra.processes() == [],
              "third Postfix stopped cleanly in %.3fs, no process left" % extra.stop_seconds)

        # swaks
        swaks = shutil.which("swaks")
        if not swaks:
            check(False, "swaks installed (scripts/setup.sh --deps-only)")
        else:
            subj4 = uniq("swaks")
            r = subprocess.run([swaks, "--server", pf1.addr, "--auth", "PLAIN",
                                "--auth-user", alice, "--auth-password", apw,
                                "--from", alice, "--to", alice, "--ehlo", "swaks.podgate.test",
                                "--header", "Subject: %s" % subj4, "--body", "sent by swaks\n"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
            out = r.stdout.decode(errors="replace")
            check(r.returncode == 0 and "235 2.7.0" in out and " 250 2.0.0 Ok: queued" in out,
                  "swaks --auth PLAIN: exit %d" % r.returncode)
            check(wait_subject(w.pod1, alice, apw, subj4) is not None, "swaks message delivered")
            r = subprocess.run([swaks, "--server", pf1.addr, "--auth", "PLAIN",
                                "--auth-user", alice, "--auth-password", "nope",
                                "--to", alice], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=30)
            out = r.stdout.decode(errors="replace")
            check(r.returncode != 0 and "535 5.7.8" in out,
                  "swaks with a wrong password: exit %d, 535 5.7.8" % r.returncode)
        check(pf1.queue_ids() == [] and pf2.queue_ids() == [], "queues are empty")
    finally:
        if extra is not None:
            extra.stop()
        pfs = [pf for pf in (w.postfix1, w.postfix2) if pf]
        t = time.time()
        w.stop()
        stop_all = time.time() - t
        run_cleanups()
    check(all(pf.stopped_cleanly and pf.processes() == [] for pf in pfs),
          "both Postfix pods stopped cleanly (%s), no process left; world stopped in %.2fs"
          % (", ".join("%.3fs" % pf.stop_seconds for pf in pfs), stop_all))
    left = []
    for pf in pfs:
        try:
            socket.create_connection(("127.0.0.1", pf.port), timeout=1).close()
            left.append(pf.port)
        except OSError:
            pass
    check(not left, "submission ports closed")
    print("selftest-smtp %s in %.1fs" % ("PASSED" if ok else "FAILED", time.time() - t0))
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "selftest":
        os.environ.setdefault("PODLIB_VERBOSE", "1")
        sys.exit(selftest())
    if len(sys.argv) > 1 and sys.argv[1] == "selftest-smtp":
        os.environ.setdefault("PODLIB_VERBOSE", "1")
        sys.exit(selftest_smtp())
    print(__doc__)
