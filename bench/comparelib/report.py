"""From the runs to one table: per-target figures, podgate's figures over
the better nginx setting, and the targets with PASS/FAIL."""

import statistics

from . import measure

PASS, FAIL, NA = "PASS", "FAIL", "n/a"


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _phase(run, phase, pct):
    return (run["bench"].get("phases", {}).get(phase) or {}).get(pct)


def _errors(runs):
    total = {}
    for run in runs:
        for kind, n in (run["bench"].get("errors") or {}).items():
            total[kind] = total.get(kind, 0) + n
    return total


class Figures:
    """Summaries of the raw runs, by (case, target)."""

    def __init__(self, results, target_names):
        self.r = results
        self.targets = target_names

    def _runs(self, kind, case, target):
        return [x for x in self.r[kind] if x["case"] == case and x["target"] == target]

    def loaded(self, case, target):
        runs = self._runs("loaded", case, target)
        if not runs:
            return None
        ok = sum(x["bench"].get("ok", 0) for x in runs)
        cpu = [x["cpu_seconds"] for x in runs if x["cpu_seconds"] is not None]
        auth = [x["auth_cpu_seconds"] for x in runs if x["auth_cpu_seconds"] is not None]
        return {
            "logins_per_second": _median([x["bench"].get("logins_per_second") for x in runs]),
            "p50": _median([_phase(x, "total", "p50") for x in runs]),
            "p99": _median([_phase(x, "total", "p99") for x in runs]),
            "ok": ok,
            "errors": _errors(runs),
            # CPU seconds per 1,000 logins == CPU milliseconds per login
            "cpu_per_1000": sum(cpu) * 1000.0 / ok if cpu and ok else None,
            "auth_cpu_per_1000": sum(auth) * 1000.0 / ok if auth and ok else None,
        }

    def unloaded(self, case, target):
        runs = self._runs("unloaded", case, target)
        if not runs:
            return None
        return {"p50": _median([_phase(x, "total", "p50") for x in runs]),
                "errors": _errors(runs)}

    def fetch(self, target):
        runs = [x for x in self.r["fetch"] if x["target"] == target]
        if not runs:
            return None
        run = runs[0]
        b = run["bench"]
        received = b.get("bytes_received") or 0
        return {"mb_per_second": b.get("command_mb_per_second"),
                "bytes": received,
                "cpu_per_gb": (run["cpu_seconds"] * 1e9 / received
                               if run["cpu_seconds"] is not None and received else None),
                "errors": _errors(runs)}

    def hold(self, target):
        for x in self.r["hold"]:
            if x["target"] == target:
                return x
        return None


class Row:
    def __init__(self, label, cells, ratio=None, target="", verdict=""):
        self.label, self.cells, self.ratio = label, cells, ratio
        self.target, self.verdict = target, verdict

    def as_dict(self):
        return {"measurement": self.label, "values": self.cells, "ratio": self.ratio,
                "target": self.target, "result": self.verdict}


def _fmt(value, spec, prefix=""):
    if value is None:
        return "—"
    return prefix + (spec % value)


def _err_mark(errors):
    n = sum(errors.values()) if errors else 0
    return " (%d err)" % n if n else ""


def _verdict(ok):
    if ok is None:
        return NA
    return PASS if ok else FAIL


class Table:
    """rows: list of Row; the columns are "direct", "podgate", then each nginx
    setting; `ratio` is podgate over the better nginx setting of that row."""

    def __init__(self, results, targets):
        self.targets = targets  # [(name, label)]
        self.names = [n for n, _ in targets]
        self.nginx = [n for n in self.names if n.startswith("nginx")]
        self.f = Figures(results, self.names)
        self.rows = []
        self.verdicts = []

    def _best_nginx(self, values, higher_is_better=False):
        vals = [values.get(n) for n in self.nginx if values.get(n) is not None]
        if not vals:
            return None
        return max(vals) if higher_is_better else min(vals)

    def _add(self, label, cells, ratio=None, target="", ok=None, check=False):
        verdict = _verdict(ok) if check else ""
        self.rows.append(Row(label, cells, ratio, target, verdict))
        if check:
            self.verdicts.append({"target": "%s: %s" % (label, target), "result": verdict,
                                  "ratio": ratio})

    def build(self):
        for key, label, _, _ in measure.CASES:
            self._login_rows(key, label)
        self._hold_row()
        self._fetch_rows()
        return self

    # -- rows --------------------------------------------------------------

    def _login_rows(self, case, label):
        fig = {n: self.f.loaded(case, n) for n in self.names}
        unl = {n: self.f.unloaded(case, n) for n in self.names}
        direct, direct_unl = fig.get("direct"), unl.get("direct")

        cells = {n: (_fmt(v["logins_per_second"], "%.0f") + _err_mark(v["errors"])) if v else "—"
                 for n, v in fig.items()}
        self._add("%s logins/s, c=%s" % (label, self._conc()), cells)

        for pct in ("p50", "p99"):
            added = {n: (v[pct] - direct[pct]) if v and direct and v[pct] is not None
                     and direct[pct] is not None else None
                     for n, v in fig.items() if n != "direct"}
            cells = {"direct": _fmt(direct and direct[pct], "%.2f") + " total"}
            cells.update({n: _fmt(a, "%+.2f") for n, a in added.items()})
            best = self._best_nginx(added)
            pg = added.get("podgate")
            ok = None if pg is None or best is None else pg < best
            if fig.get("podgate") and fig["podgate"]["errors"]:
                ok = False  # percentiles of the logins that worked hide the ones that did not
            self._add("%s %s added, c=%s (ms)" % (label, pct, self._conc()), cells,
                      _ratio(pg, best), "podgate < nginx", ok, check=True)

        added = {n: (v["p50"] - direct_unl["p50"]) if v and direct_unl and v["p50"] is not None
                 and direct_unl["p50"] is not None else None
                 for n, v in unl.items() if n != "direct"}
        cells = {"direct": _fmt(direct_unl and direct_unl["p50"], "%.2f") + " total"}
        cells.update({n: _fmt(a, "%+.2f") + _err_mark(unl[n]["errors"] if unl[n] else {})
                      for n, a in added.items()})
        pg = added.get("podgate")
        ok = None if pg is None else pg < 1.0
        if unl.get("podgate") and unl["podgate"]["errors"]:
            ok = False
        self._add("%s p50 added, unloaded c=1 (ms)" % label, cells,
                  _ratio(pg, self._best_nginx(added)), "< 1 ms", ok, check=True)

        cpu = {n: v["cpu_per_1000"] for n, v in fig.items() if v and n != "direct"}
        cells = {"direct": ""}
        for n, v in fig.items():
            if n == "direct" or not v:
                continue
            cells[n] = _fmt(v["cpu_per_1000"], "%.3f")
            if v["auth_cpu_per_1000"] is not None:
                cells[n] += " (+%.3f auth_http)" % v["auth_cpu_per_1000"]
        best = self._best_nginx(cpu)
        ratio = _ratio(cpu.get("podgate"), best)
        if case == "imaps":
            self._add("%s proxy CPU s per 1,000 logins" % label, cells, ratio,
                      "≤ 0.5 × nginx", None if ratio is None else ratio <= 0.5, check=True)
        else:
            self._add("%s proxy CPU s per 1,000 logins" % label, cells, ratio)

    def _hold_row(self):
        held = {n: self.f.hold(n) for n in self.names if n != "direct"}
        if not any(held.values()):
            return
        per = {n: h["per_session_kb"] if h else None for n, h in held.items()}
        cells = {"direct": ""}
        for n, h in held.items():
            cells[n] = "—" if not h else "%.1f (%d held)" % (h["per_session_kb"], h["sessions"])
        best = self._best_nginx(per)
        ratio = _ratio(per.get("podgate"), best)
        self._add("RSS per idle IMAPS session (KB)", cells, ratio, "≤ 0.5 × nginx",
                  None if ratio is None else ratio <= 0.5, check=True)

    def _fetch_rows(self):
        fig = {n: self.f.fetch(n) for n in self.names}
        if not any(fig.values()):
            return
        cells = {n: (_fmt(v["mb_per_second"], "%.0f") + _err_mark(v["errors"])) if v else "—"
                 for n, v in fig.items()}
        self._add("large FETCH over IMAPS, MB/s (client side)", cells)
        per_gb = {n: v["cpu_per_gb"] for n, v in fig.items() if v and n != "direct"}
        cells = {"direct": ""}
        cells.update({n: _fmt(v, "%.2f") for n, v in per_gb.items()})
        best = self._best_nginx(per_gb)
        ratio = _ratio(per_gb.get("podgate"), best)
        self._add("relay CPU s per GB", cells, ratio, "≤ nginx",
                  None if ratio is None else ratio <= 1.0, check=True)

    def _conc(self):
        concs = {x["concurrency"] for x in self.f.r["loaded"]}
        return "/".join(str(c) for c in sorted(concs)) or "?"

    # -- output --------------------------------------------------------------

    def markdown(self):
        labels = [label for _, label in self.targets]
        head = ["measurement"] + labels + ["podgate ÷ nginx", "target", "result"]
        lines = ["| " + " | ".join(head) + " |",
                 "|" + "|".join(["---"] + ["---:"] * len(labels) + ["---:", "---", "---"]) + "|"]
        for row in self.rows:
            cells = [row.label] + [row.cells.get(n, "") for n in self.names]
            cells += [_fmt(row.ratio, "%.2f×") if row.ratio is not None else "",
                      row.target, row.verdict]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def summary(self):
        passed = sum(1 for v in self.verdicts if v["result"] == PASS)
        failed = [v["target"] for v in self.verdicts if v["result"] == FAIL]
        missing = [v["target"] for v in self.verdicts if v["result"] == NA]
        text = "targets: %d PASS, %d FAIL, %d n/a" % (passed, len(failed), len(missing))
        if failed:
            text += "\nFAIL: " + "; ".join(failed)
        return text


def _ratio(value, reference):
    """value / reference; none when either is missing or not positive (an
    added latency below zero is noise around "nothing added")."""
    if value is None or reference is None or reference <= 0 or value < 0:
        return None
    return value / reference
