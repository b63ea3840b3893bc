"""Scripted pods for fault injection: servers that answer a fixed script,
for the failures a real pod will not produce on demand (a locked maildrop, a
pod that drops the session right after login). Never a stand-in for the real
pods: every normal path is tested against Dovecot and Postfix."""

import select
import socket
import struct
import threading
import time


class ScriptedPod:
    """Accepts connections on 127.0.0.1, sends `greeting`, then for each line
    received sends whatever `answer(line)` returns (bytes); None closes the
    connection."""

    def __init__(self, greeting, answer):
        self.greeting = greeting
        self.answer = answer
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.lines = []
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def _accept_loop(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            conn.sendall(self.greeting)
            buffer = b""
            while True:
                data = conn.recv(4096)
                if not data:
                    return
                buffer += data
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    line = line.rstrip(b"\r")
                    self.lines.append(line)
                    reply = self.answer(line)
                    if reply is None:
                        return
                    conn.sendall(reply)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.sock.close()


def pop3_pod_with_locked_maildrop():
    """A POP3 pod whose every login finds the maildrop locked (RFC 2449 IN-USE)."""
    def answer(line):
        if line.upper().startswith((b"AUTH", b"PASS")):
            return b"-ERR [IN-USE] Mailbox is locked by another POP3 session.\r\n"
        if line.upper() == b"CAPA":
            return b"+OK\r\nUSER\r\nSASL PLAIN\r\nRESP-CODES\r\n.\r\n"
        return b"+OK\r\n"
    return ScriptedPod(b"+OK scripted pod ready\r\n", answer)


def smtp_pod_that_drops_after_auth():
    """An SMTP pod that accepts AUTH, then closes the connection at MAIL."""
    def answer(line):
        verb = line.split(b" ", 1)[0].upper()
        if verb == b"EHLO":
            return (b"250-scripted\r\n250-PIPELINING\r\n250-SIZE 20971520\r\n250-8BITMIME\r\n"
                    b"250-ENHANCEDSTATUSCODES\r\n250 AUTH PLAIN\r\n")
        if verb == b"AUTH":
            return b"235 2.7.0 Authentication successful\r\n"
        if verb == b"MAIL":
            return None
        return b"250 2.0.0 OK\r\n"
    return ScriptedPod(b"220 scripted ESMTP\r\n", answer)


# --------------------------------------------------------------------------
# Fault pods that keep a record of every connection, so a test can check not
# only what the client was told but also that podgate closed its side.

class FaultConnection:
    """What happened to one connection a FaultPod accepted (times are
    time.time() values; None: not yet)."""

    def __init__(self, peer):
        self.peer = peer                # podgate's side, "ip:port"
        self.accepted_at = time.time()
        self.login_at = None            # the login command arrived
        self.login_line = None          # its first word(s), no credentials
        self.logged_in_at = None        # the pod answered the login OK
        self.closed_at = None
        # "eof" or "reset": podgate closed (FIN / RST); "pod": the pod closed
        # or reset it on purpose
        self.how = None
        self.reset_requested = False


class FaultPod:
    """A scripted IMAP or POP3 pod with one fault, for what Dovecot will not
    do on demand. Every connection is recorded in self.connections.

      behaviour:
        "mute"         accepts, never greets (reads until podgate closes)
        "reset"        accepts, then resets the connection (RST) at once
        "hang_login"   greets, answers CAPABILITY / CAPA / ID, never answers the login
        "reset_login"  greets, resets the connection when the login arrives
        "ok"           greets, accepts any password (after login_delay
                       seconds), answers every later command OK;
                       reset_sessions() resets the logged-in connections
      protocol: "imap" or "pop3"
      sasl_ir:  (IMAP) advertise SASL-IR AUTH=PLAIN, so that podgate logs in
                with AUTHENTICATE PLAIN; False: with LOGIN

      pod = FaultPod("hang_login")          # pod.addr, pod.port
      ...
      conn = pod.wait_connection()          # the newest one
      pod.wait_closed(conn, timeout=3)      # "eof" / "reset" (podgate closed it)
      pod.close()
    """

    BEHAVIOURS = ("mute", "reset", "hang_login", "reset_login", "ok")

    def __init__(self, behaviour, protocol="imap", sasl_ir=True, login_delay=0.0):
        if behaviour not in self.BEHAVIOURS:
            raise ValueError("behaviour must be one of %r" % (self.BEHAVIOURS,))
        if protocol not in ("imap", "pop3"):
            raise ValueError("protocol must be imap or pop3")
        self.behaviour = behaviour
        self.protocol = protocol
        self.sasl_ir = sasl_ir
        self.login_delay = login_delay
        self.connections = []
        self._lock = threading.Lock()
        self.stopping = False
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.addr = "127.0.0.1:%d" % self.port
        threading.Thread(target=self._accept_loop, daemon=True).start()

    # -- what a test asks -------------------------------------------------

    def wait_connection(self, count=1, timeout=5.0):
        """The newest connection once at least `count` were accepted (None
        if that did not happen within `timeout`)."""
        deadline = time.time() + timeout
        while True:
            with self._lock:
                if len(self.connections) >= count:
                    return self.connections[-1]
            if time.time() > deadline:
                return None
            time.sleep(0.01)

    def wait_closed(self, conn, timeout=5.0):
        """How `conn` ended ("eof", "reset", "pod"), or None if it is still
        open after `timeout` seconds."""
        deadline = time.time() + timeout
        while conn.closed_at is None and time.time() < deadline:
            time.sleep(0.01)
        return conn.how

    def open_connections(self):
        with self._lock:
            return [c for c in self.connections if c.closed_at is None]

    def reset_sessions(self):
        """Resets (RST) every logged-in connection: the pod died mid-session.
        Returns how many."""
        with self._lock:
            victims = [c for c in self.connections
                       if c.closed_at is None and c.logged_in_at is not None]
        for c in victims:
            c.reset_requested = True
        for c in victims:
            if self.wait_closed(c, 5) is None:
                raise AssertionError("a logged-in connection was not reset within 5 s")
        return len(victims)

    def close(self):
        self.stopping = True
        try:
            self.sock.close()
        except OSError:
            pass

    # -- the server ---------------------------------------------------------

    def _accept_loop(self):
        while not self.stopping:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            record = FaultConnection("%s:%d" % peer[:2])
            with self._lock:
                self.connections.append(record)
            threading.Thread(target=self._serve, args=(conn, record), daemon=True).start()

    @staticmethod
    def _rst(conn):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()

    def _greeting(self):
        if self.protocol == "pop3":
            return b"+OK fault pod ready.\r\n"
        return b"* OK [CAPABILITY %s] fault pod ready.\r\n" % self._capabilities()

    def _capabilities(self):
        caps = b"IMAP4rev1 ID LITERAL+"
        if self.sasl_ir:
            caps += b" SASL-IR AUTH=PLAIN"
        return caps

    def _serve(self, conn, record):
        how = None
        try:
            if self.behaviour == "reset":
                self._rst(conn)
                how = "pod"
                return
            if self.behaviour != "mute":
                conn.sendall(self._greeting())
            buffer = b""
            while True:
                if self.stopping or record.reset_requested:
                    self._rst(conn)
                    how = "pod"
                    return
                readable, _, _ = select.select([conn], [], [], 0.02)
                if not readable:
                    continue
                data = conn.recv(65536)
                if not data:
                    how = "eof"
                    return
                if self.behaviour == "mute":
                    continue
                buffer += data
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    reply = self._answer(line.rstrip(b"\r"), record)
                    if reply == "reset":
                        self._rst(conn)
                        how = "pod"
                        return
                    if isinstance(reply, tuple):  # ("close", goodbye)
                        conn.sendall(reply[1])
                        conn.close()
                        how = "pod"
                        return
                    if reply:
                        conn.sendall(reply)
        except ConnectionResetError:
            how = "reset"
        except OSError:
            how = how or "reset"
        finally:
            record.how = how or "pod"
            record.closed_at = time.time()
            try:
                conn.close()
            except OSError:
                pass

    def _login(self, record, words):
        """The pod's answer to a login command: "reset", b"" (no answer: it
        hangs) or the OK."""
        record.login_at = time.time()
        record.login_line = b" ".join(words[:2]).decode(errors="replace")
        if self.behaviour == "reset_login":
            return "reset"
        if self.behaviour == "hang_login":
            return b""
        if self.login_delay:
            time.sleep(self.login_delay)
        record.logged_in_at = time.time()
        if self.protocol == "pop3":
            return b"+OK Logged in.\r\n"
        return b"%s OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n" % words[0]

    def _answer(self, line, record):
        words = line.split(b" ")
        if self.protocol == "pop3":
            verb = words[0].upper()
            if verb == b"CAPA":
                return b"+OK\r\nUSER\r\nSASL PLAIN\r\n.\r\n"
            if verb in (b"AUTH", b"PASS"):
                return self._login(record, words)
            if verb == b"QUIT":
                return ("close", b"+OK Logging out.\r\n")
            if verb == b"STAT":
                return b"+OK 0 0\r\n"
            return b"+OK\r\n"
        tag = words[0]
        verb = words[1].upper() if len(words) > 1 else b""
        if verb in (b"LOGIN", b"AUTHENTICATE"):
            return self._login(record, [tag, verb])
        if verb == b"CAPABILITY":
            return b"* CAPABILITY %s\r\n%s OK done\r\n" % (self._capabilities(), tag)
        if verb == b"ID":
            return b"* ID NIL\r\n%s OK ID completed\r\n" % tag
        if verb == b"LOGOUT":
            return ("close", b"* BYE Logging out\r\n%s OK Logout completed\r\n" % tag)
        return b"%s OK done\r\n" % tag
