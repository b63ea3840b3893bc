#!/usr/bin/env python3
"""Fixture for podgate-directory's integration tests (Python 3 stdlib only).

  svc = DirectoryService(workdir, directory_dict, ttl=30, probe_interval_ms=0)
  svc.start()                        # writes directory.json, waits for /healthz
  status, body = svc.lookup("alice@example.com", "imap")
  status, body = svc.put("/v1/users/bob%40example.com", {"pod": "pod-2"})
  svc.metric("podgate_directory_lookups_total", result="found")
  svc.stop()                         # SIGTERM; exit code 0 and a clean stderr, or it raises

The binary is $PODGATE_DIRECTORY_BIN, else <build>/backend-directory/podgate-directory
next to $PODGATE_BIN's <build>/proxy/podgate.
"""

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import podlib  # noqa: E402
from podlib import (free_port, mkdir, register_cleanup, tail, terminate,  # noqa: E402,F401
                    unregister_cleanup, wait_port)

SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
                   "ThreadSanitizer", "runtime error:")


def directory_bin():
    explicit = os.environ.get("PODGATE_DIRECTORY_BIN")
    if explicit:
        return os.path.abspath(explicit)
    build = os.path.dirname(os.path.dirname(podlib.podgate_bin()))
    return os.path.join(build, "backend-directory", "podgate-directory")


_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """Prometheus text -> {"name{labels}": float} (labels as written)."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        try:
            out[key] = float(value)
        except ValueError:
            continue
    return out


def split_series(key):
    """'name{a="1",b="2"}' -> ("name", {"a": "1", "b": "2"})."""
    if "{" not in key:
        return key, {}
    name, _, rest = key.partition("{")
    labels = {k: v.replace('\\"', '"').replace("\\\\", "\\")
              for k, v in _LABEL.findall(rest.rstrip("}"))}
    return name, labels


class DirectoryService:
    """One podgate-directory process serving `directory_dict` from
    workdir/directory.json on a free loopback port."""

    def __init__(self, workdir, directory_dict, ttl=30, probe_interval_ms=0,
                 probe_timeout_ms=2000, watch_interval_ms=1000, log_level="debug",
                 binary=None, extra_args=None):
        self.workdir = mkdir(workdir)
        self.directory = directory_dict
        self.ttl = ttl
        self.probe_interval_ms = probe_interval_ms
        self.probe_timeout_ms = probe_timeout_ms
        self.watch_interval_ms = watch_interval_ms
        self.log_level = log_level
        self.binary = binary or directory_bin()
        self.extra_args = list(extra_args or [])
        self.port = free_port()
        self.path = os.path.join(self.workdir, "directory.json")
        self.stderr_path = os.path.join(self.workdir, "podgate-directory.stderr")
        self.proc = None
        self.exit_code = None
        self._err = None
        self._cleanup = None

    # -- lifecycle --------------------------------------------------------

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def command(self):
        return [self.binary, "--file", self.path, "--listen", "127.0.0.1:%d" % self.port,
                "--ttl", str(self.ttl), "--probe-interval-ms", str(self.probe_interval_ms),
                "--probe-timeout-ms", str(self.probe_timeout_ms),
                "--watch-interval-ms", str(self.watch_interval_ms),
                "--log-level", self.log_level] + self.extra_args

    def write_directory(self, obj=None):
        self.write_file(self.directory if obj is None else obj)

    def start(self, timeout=10.0, write=True):
        """Writes the directory file (unless write=False: restarts keep what
        the service saved), starts the process, waits for /healthz."""
        if not (os.path.isfile(self.binary) and os.access(self.binary, os.X_OK)):
            raise RuntimeError("podgate-directory binary not found: %s (build it, or set "
                               "PODGATE_DIRECTORY_BIN)" % self.binary)
        if write:
            self.write_directory()
        self._err = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(self.command(), cwd="/", stdin=subprocess.DEVNULL,
                                     stdout=self._err, stderr=self._err)
        self._cleanup = register_cleanup(lambda: self.stop(check=False))
        deadline = time.time() + timeout
        ok = wait_port("127.0.0.1", self.port, timeout, self.proc)
        while ok and time.time() < deadline:
            try:
                if self.get("/healthz")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        rc = self.proc.poll()
        self.stop(check=False)
        raise RuntimeError("podgate-directory did not answer on %s within %.0f s (exit code %s)\n"
                           "--- command: %s\n--- stderr:\n%s"
                           % (self.url, timeout, rc, " ".join(self.command()),
                              tail(self.stderr_path, 100)))

    def _finish(self):
        if self._cleanup:
            unregister_cleanup(self._cleanup)
            self._cleanup = None
        if self._err:
            self._err.close()
            self._err = None

    def stop(self, grace=10.0, check=True):
        """SIGTERM and wait. With check, raises unless the exit code is 0 and
        stderr has no sanitizer report. Returns the exit code."""
        killed = False
        if self.proc is not None:
            self.exit_code, killed = terminate(self.proc, grace)
            self.proc = None
        self._finish()
        if check:
            problems = self.sanitizer_lines()
            if killed or self.exit_code != 0 or problems:
                raise AssertionError(
                    "podgate-directory did not stop cleanly (exit code %s%s)\n--- stderr:\n%s"
                    % (self.exit_code, ", killed after %.0f s" % grace if killed else "",
                       tail(self.stderr_path, 100)))
        return self.exit_code

    def kill(self):
        """SIGKILL: no chance to clean up (what survives is what was fsync'd)."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.exit_code = self.proc.returncode
            self.proc = None
        self._finish()
        return self.exit_code

    def restart(self, **kw):
        self.stop()
        return self.start(write=False, **kw)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, signum):
        self.proc.send_signal(signum)

    # -- HTTP -------------------------------------------------------------

    def request(self, method, path, body=None, timeout=5.0):
        """(status, parsed JSON body, or the text when it is not JSON)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            headers = {}
            if body is not None:
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        text = data.decode("utf-8", "replace")
        try:
            return response.status, json.loads(text)
        except ValueError:
            return response.status, text

    def get(self, path):
        return self.request("GET", path)

    def put(self, path, obj):
        """obj: anything json.dumps takes; str or bytes are sent as they are."""
        if isinstance(obj, str):
            body = obj.encode()
        elif isinstance(obj, bytes):
            body = obj
        else:
            body = json.dumps(obj).encode()
        return self.request("PUT", path, body)

    def delete(self, path):
        return self.request("DELETE", path)

    def lookup(self, user, protocol):
        return self.get("/v1/lookup?" + urllib.parse.urlencode({"user": user,
                                                                "protocol": protocol}))

    @staticmethod
    def user_path(user):
        return "/v1/users/" + urllib.parse.quote(user, safe="")

    def metrics_text(self):
        status, text = self.get("/metrics")
        if status != 200:
            raise AssertionError("/metrics answered %s: %r" % (status, text))
        return text

    def metrics(self):
        return parse_metrics(self.metrics_text())

    def metric(self, name, **labels):
        """The value of the series `name` whose labels include `labels`
        (summed when several match); None when none does."""
        total, found = 0.0, False
        for key, value in self.metrics().items():
            series, series_labels = split_series(key)
            if series != name:
                continue
            if all(series_labels.get(k) == str(v) for k, v in labels.items()):
                total += value
                found = True
        return total if found else None

    # -- the file and the log ----------------------------------------------

    def file_bytes(self):
        with open(self.path, "rb") as f:
            return f.read()

    def file_json(self):
        return json.loads(self.file_bytes().decode())

    def write_file(self, obj, atomic=False):
        """Writes the directory file as an editor would: in place, or (atomic)
        a new file renamed over the old one. obj: dict, or raw str/bytes."""
        if isinstance(obj, (dict, list)):
            data = json.dumps(obj, indent=2).encode()
        elif isinstance(obj, str):
            data = obj.encode()
        else:
            data = obj
        target = self.path
        if atomic:
            target = self.path + ".new"
        with open(target, "wb") as f:
            f.write(data)
        if atomic:
            os.rename(target, self.path)

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def sanitizer_lines(self):
        return [l for l in self.stderr_text().splitlines()
                if any(mark in l for mark in SANITIZER_MARKS)]

    def wait_log(self, pattern, timeout=5.0, since=0):
        """The first stderr line after offset `since` matching the regex, or None."""
        deadline = time.time() + timeout
        regex = re.compile(pattern)
        while True:
            for line in self.stderr_text()[since:].splitlines():
                if regex.search(line):
                    return line
            if time.time() > deadline:
                return None
            time.sleep(0.05)

    def log_mark(self):
        return len(self.stderr_text())


def wait_for(predicate, timeout=5.0, interval=0.05):
    """Polls until predicate() is truthy; returns its last value."""
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value or time.time() > deadline:
            return value
        time.sleep(interval)
