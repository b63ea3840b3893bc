"""podgate-bench runs against the targets, with the proxies' CPU time and
memory read from /proc around each run."""

import json
import os
import select
import signal
import subprocess
import time

from . import procstat

# case key -> (label, podgate-bench --protocol, --tls)
CASES = [
    ("imaps", "IMAPS", "imap", "implicit"),
    ("imap_starttls", "IMAP+STARTTLS", "imap", "starttls"),
    ("pop3s", "POP3S", "pop3", "implicit"),
    ("smtp_starttls", "SMTP+STARTTLS", "smtp", "starttls"),
]


def find_bench(explicit, repo):
    """--bench-bin if given, else build/bench/podgate-bench, else the
    build-bench tree's."""
    candidates = [explicit] if explicit else [
        os.path.join(repo, "build", "bench", "podgate-bench"),
        os.path.join(repo, "build-bench", "bench", "podgate-bench")]
    for path in candidates:
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return os.path.abspath(path)
    raise RuntimeError("podgate-bench not found (looked at %s); build it or pass --bench-bin"
                       % ", ".join(candidates))


class BenchError(RuntimeError):
    pass


class Bench:
    """One podgate-bench binary and the options every run shares."""

    def __init__(self, binary, timeout_ms=30000):
        self.binary = binary
        self.timeout_ms = timeout_ms

    def _common(self, port, protocol, tls, users_file):
        cmd = [self.binary, "--host", "127.0.0.1", "--port", str(port),
               "--protocol", protocol, "--tls", tls, "--users-file", users_file,
               "--timeout-ms", str(self.timeout_ms), "--quiet"]
        # no --ca: every target presents the same self-signed certificate,
        # and checking it would only add the client's own CPU time
        return cmd

    def run(self, port, protocol, tls, users_file, logins, concurrency, command="default"):
        """One load run; podgate-bench's JSON summary. Failed logins are in
        its "errors"; a run that produced no summary at all raises."""
        cmd = self._common(port, protocol, tls, users_file) + [
            "--logins", str(logins), "--concurrency", str(concurrency),
            "--command", command, "--json"]
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=max(120, logins))
        summary = _last_json(proc.stdout.decode(errors="replace"))
        if summary is None:
            raise BenchError("podgate-bench exited %d without a JSON summary\n$ %s\n%s"
                             % (proc.returncode, " ".join(cmd),
                                proc.stderr.decode(errors="replace")[-3000:]))
        summary["_exit_code"] = proc.returncode
        return summary

    def hold_command(self, port, users_file, sessions, concurrency, seconds):
        return self._common(port, "imap", "implicit", users_file) + [
            "--hold", str(sessions), "--hold-seconds", str(seconds),
            "--concurrency", str(concurrency)]


def _last_json(text):
    """The JSON object podgate-bench prints (the last line that parses)."""
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                continue
    try:
        return json.loads(text)
    except ValueError:
        return None


def measured_run(bench, target, case, users_file, logins, concurrency, auth_pid=None,
                 command="default"):
    """A run with the target's CPU time (and the auth_http service's, when
    the target is nginx) read before and after."""
    _, _, protocol, tls = case
    meter = procstat.CpuMeter(target.root_pids()).start()
    auth = procstat.CpuMeter([auth_pid] if auth_pid else []).start()
    started = time.time()
    summary = bench.run(target.ports[case[0]], protocol, tls, users_file, logins,
                        concurrency, command)
    return {"target": target.name, "case": case[0], "concurrency": concurrency,
            "wall_seconds": time.time() - started,
            "cpu_seconds": meter.stop() if target.root_pids() else None,
            "auth_cpu_seconds": auth.stop() if auth_pid else None,
            "bench": summary}


def fd_count(pids):
    total = 0
    for pid in pids:
        try:
            total += len(os.listdir("/proc/%d/fd" % pid))
        except OSError:
            pass
    return total


def wait_sessions_gone(pids, baseline_fds, timeout=60.0):
    """After the held sessions were dropped: until the proxy's descriptors
    are back near where they were, so the next run starts from an idle
    proxy and an idle pod."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if fd_count(pids) <= baseline_fds + 16:
            return True
        time.sleep(0.25)
    return False


def _read_until_holding(proc, timeout):
    """Lines of podgate-bench's stdout until `holding N sessions`; N."""
    deadline = time.time() + timeout
    seen = []
    buf = b""
    while time.time() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if not ready:
            if proc.poll() is not None:
                break
            continue
        chunk = os.read(proc.stdout.fileno(), 4096)
        if not chunk:
            break
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            text = line.decode(errors="replace").strip()
            seen.append(text)
            if text.startswith("holding "):
                return int(text.split()[1]), seen
    raise BenchError("podgate-bench --hold did not report `holding N sessions` within %.0f s "
                     "(exit code %s); its output:\n%s"
                     % (timeout, proc.poll(), "\n".join(seen[-20:])))


def hold_rss(bench, target, users_file, sessions, concurrency, workdir, settle_seconds=3.0):
    """RSS of the proxy's processes before, and while podgate-bench keeps
    `sessions` logged-in IMAPS sessions in IDLE through it."""
    pids = procstat.tree(target.root_pids()[0])
    baseline_fds = fd_count(pids)
    before = procstat.rss_total_kb(pids)
    cmd = bench.hold_command(target.ports["imaps"], users_file, sessions, concurrency,
                             seconds=3600)
    stderr_path = os.path.join(workdir, "hold-%s.stderr" % target.name)
    with open(stderr_path, "wb") as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=err)
    try:
        held, _ = _read_until_holding(proc, timeout=120 + sessions / 50.0)
        time.sleep(settle_seconds)  # let late frees and buffer shrinking happen
        pids = procstat.tree(target.root_pids()[0])
        during = procstat.rss_total_kb(pids)
        fds = fd_count(pids)
    except BenchError as e:
        raise BenchError("%s\n--- stderr:\n%s" % (e, _tail_file(stderr_path)))
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    drained = wait_sessions_gone(procstat.tree(target.root_pids()[0]), baseline_fds)
    return {"target": target.name, "sessions": held, "requested": sessions,
            "rss_before_kb": before, "rss_held_kb": during,
            "per_session_kb": (during - before) / float(held) if held else None,
            "proxy_fds_while_held": fds, "drained": drained}


def _tail_file(path, limit=3000):
    try:
        with open(path, "rb") as f:
            return f.read()[-limit:].decode(errors="replace")
    except OSError:
        return ""
