"""The order of the runs. Targets take turns within each case (and the turn
order rotates from round to round), so a slow minute of the shared machine
lands on all of them alike rather than on one."""

import sys
import time

from . import measure


def say(text):
    sys.stderr.write("[compare %s] %s\n" % (time.strftime("%H:%M:%S"), text))
    sys.stderr.flush()


def rotated(items, shift):
    shift %= len(items)
    return items[shift:] + items[:shift]


class Plan:
    """bench: measure.Bench; targets: Direct first, then the proxies;
    auth_pid: the auth_http service (its CPU is reported with nginx's)."""

    def __init__(self, bench, targets, auth_pid, users_file, fetch_users_file, options, workdir):
        self.bench = bench
        self.targets = targets
        self.proxies = [t for t in targets if t.root_pids()]
        self.auth_pid = auth_pid
        self.users_file = users_file
        self.fetch_users_file = fetch_users_file
        self.o = options
        self.workdir = workdir
        self.results = {"loaded": [], "unloaded": [], "fetch": [], "hold": []}

    def _auth_for(self, target):
        return self.auth_pid if target.name.startswith("nginx") else None

    def _run(self, target, case, logins, concurrency, users_file=None, command="default"):
        return measure.measured_run(self.bench, target, case, users_file or self.users_file,
                                    logins, concurrency, self._auth_for(target), command)

    def warm_up(self):
        """A few logins per target and case first, at the loaded runs'
        concurrency: TLS contexts, Dovecot's login and mail processes,
        Postfix's smtpd processes, nginx's and podgate's connection pools
        all exist and have been used before anything is timed."""
        for case in measure.CASES:
            for target in self.targets:
                self._run(target, case, self.o.warmup_logins, self.o.concurrency)
        say("warm-up done")

    def loaded(self):
        for index, case in enumerate(measure.CASES):
            for rnd in range(self.o.rounds):
                for target in rotated(self.targets, index + rnd):
                    run = self._run(target, case, self.o.logins, self.o.concurrency)
                    run["round"] = rnd
                    self.results["loaded"].append(run)
                    _report_run(run)

    def unloaded(self):
        for case in measure.CASES:
            for target in self.targets:
                run = self._run(target, case, self.o.unloaded_logins, 1)
                self.results["unloaded"].append(run)
                _report_run(run)

    def fetch(self):
        case = measure.CASES[0]  # IMAPS
        for target in self.targets:
            run = self._run(target, case, self.o.fetch_logins, self.o.fetch_concurrency,
                            users_file=self.fetch_users_file, command="fetch")
            self.results["fetch"].append(run)
            _report_run(run)

    def hold(self, sessions):
        for target in self.proxies:
            say("%s: holding %d IMAPS sessions" % (target.label, sessions))
            result = measure.hold_rss(self.bench, target, self.users_file, sessions,
                                      self.o.hold_concurrency, self.workdir)
            self.results["hold"].append(result)
            say("%s: %d sessions held, RSS %d -> %d KB, %.1f KB per session"
                % (target.label, result["sessions"], result["rss_before_kb"],
                   result["rss_held_kb"], result["per_session_kb"] or 0))

    def run_all(self, hold_sessions):
        self.warm_up()
        self.loaded()
        self.unloaded()
        self.fetch()
        if hold_sessions > 0:
            self.hold(hold_sessions)
        return self.results


def _report_run(run):
    b = run["bench"]
    total = b.get("phases", {}).get("total", {})
    errors = sum((b.get("errors") or {}).values())
    cpu = run["cpu_seconds"]
    say("%-14s %-14s c=%-3d %6d ok %4d err %8.1f logins/s  p50 %7.2f  p99 %7.2f ms%s"
        % (run["target"], run["case"], run["concurrency"], b.get("ok", 0), errors,
           b.get("logins_per_second", 0), total.get("p50", 0), total.get("p99", 0),
           "" if cpu is None else "  cpu %.2fs" % cpu))
