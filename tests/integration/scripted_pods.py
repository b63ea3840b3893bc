"""Scripted pods for fault injection: servers that answer a fixed script,
for the failures a real pod will not produce on demand (a locked maildrop, a
pod that drops the session right after login). Never a stand-in for the real
pods: every normal path is tested against Dovecot and Postfix."""

import socket
import threading


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
