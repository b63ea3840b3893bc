"""CPU time and resident memory of a process and its descendants, from /proc.

A proxy is a tree of processes (nginx: master + workers; podgate: one
process, perhaps more later), so every figure is summed over the tree as it
is at the moment of sampling.
"""

import os

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def children(pid):
    """Direct children of pid, over all of its threads (a child forked by a
    worker thread is listed under that thread, not the main one)."""
    found = []
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return found
    for task in tasks:
        try:
            with open("/proc/%d/task/%s/children" % (pid, task)) as f:
                found.extend(int(p) for p in f.read().split())
        except OSError:
            pass
    return found


def tree(pid):
    """pid and all its live descendants."""
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        if p in pids or not os.path.exists("/proc/%d" % p):
            continue
        pids.append(p)
        todo.extend(children(p))
    return pids


def cpu_ticks(pid):
    """utime + stime of the whole process (every thread), in clock ticks;
    0 if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            # the command name may hold spaces and ')': fields start after the last ')'
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15
    return int(fields[11]) + int(fields[12])


def cpu_seconds(pids):
    return sum(cpu_ticks(p) for p in pids) / float(CLOCK_TICKS)


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_total_kb(pids):
    return sum(rss_kb(p) for p in pids)


class CpuMeter:
    """CPU seconds a set of process trees used between start() and stop().
    The trees are read at both ends, so a worker that appears in between is
    counted from its start, and one that exits early loses only its own time
    since start() (nginx and podgate keep their workers for their lifetime)."""

    def __init__(self, root_pids):
        self.root_pids = [p for p in root_pids if p]
        self.before = {}
        self.seconds = None

    def _sample(self):
        sample = {}
        for root in self.root_pids:
            for pid in tree(root):
                sample[pid] = cpu_ticks(pid)
        return sample

    def start(self):
        self.before = self._sample()
        return self

    def stop(self):
        after = self._sample()
        ticks = sum(t - self.before.get(pid, 0) for pid, t in after.items())
        self.seconds = ticks / float(CLOCK_TICKS)
        return self.seconds
