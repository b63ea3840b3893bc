#!/usr/bin/env python3
"""How long podgate's directory phase takes, by where the route comes from:
the embedded file, podgate's cache of podgate-directory answers, and a
request to podgate-directory (after a kick emptied the cache). Real Dovecot
pods, real IMAPS logins; the phase times are podgate's own, from its access
log. Run by hand (as root, after a build):

  python3 bench/directory_lookup.py [--logins 50]
"""

import argparse
import os
import statistics
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import directorylib  # noqa: E402
import podlib  # noqa: E402

USER = "alice@example.com"


def login(pg, world):
    im = podlib.PodIMAP4_SSL(pg.port("imap", "implicit"))
    im.login(USER, world.passwords[USER])
    im.logout()


def phases(pg, seen, count):
    deadline = time.time() + 10
    while len(pg.access_log_lines()) < seen + count and time.time() < deadline:
        time.sleep(0.02)
    return [l for l in pg.access_log_lines()[seen:] if l.get("result") == "ok"]


def summary(label, lines):
    values = sorted(l["phases_ms"]["directory"] for l in lines)
    sources = sorted({l["directory"] for l in lines})
    p50 = statistics.median(values)
    p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
    print("%-34s n=%-4d p50 %7.3f ms   p99 %7.3f ms   (source: %s)"
          % (label, len(values), p50, p99, ", ".join(sources)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--logins", type=int, default=50)
    args = parser.parse_args()
    podlib.require_root()
    world = podlib.ImapWorld(start_podgate=False)
    service = None
    try:
        service = directorylib.DirectoryService(os.path.join(world.root, "directory"),
                                                world.directory(), ttl=3600)
        service.start()
        admin_port = podlib.free_port()
        embedded = world.new_podgate("podgate-file")
        world.podgate = embedded  # so that world.stop() stops it
        remote = world.new_podgate("podgate-url", {
            "directory": {"url": [service.url]},
            "admin": {"listen": "127.0.0.1:%d" % admin_port}})
        kick = urllib.request.Request(
            "http://127.0.0.1:%d/v1/kick?user=%s" % (admin_port, USER), method="POST")

        seen = len(embedded.access_log_lines())
        for _ in range(args.logins):
            login(embedded, world)
        file_lines = phases(embedded, seen, args.logins)

        misses, hits = [], []
        for _ in range(args.logins):
            urllib.request.urlopen(kick).read()  # forget the cached route
            seen = len(remote.access_log_lines())
            login(remote, world)
            misses += phases(remote, seen, 1)
            seen = len(remote.access_log_lines())
            login(remote, world)
            hits += phases(remote, seen, 1)
        print("directory phase of an IMAPS login (podgate's access log), one run:")
        summary("embedded file", file_lines)
        summary("podgate-directory, cache hit", hits)
        summary("podgate-directory, request", misses)
    finally:
        if service is not None:
            service.stop(check=False)
        world.stop()
        world._rm_root()


if __name__ == "__main__":
    main()
