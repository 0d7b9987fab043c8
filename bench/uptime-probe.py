#!/usr/bin/python3
"""bench/uptime-probe.py URL STOPFILE: how long URL stops answering while
something is redeployed (bench/deploy.sh). Debian's python3, standard library
only.

GETs URL every 20 ms (each with a 1 s timeout, no proxy) until STOPFILE exists
(or its parent process is gone: then it exits quietly), then prints one JSON
object:
  {"probes": N, "failures": F, "longest_outage_s": S, "down_at_end": false}
A probe fails on any error or a status outside 2xx. An outage runs from the start
of the first failed probe to the start of the next successful one; one still
running when STOPFILE appears ends there (and down_at_end is true).
"""
import json
import os
import sys
import time
import urllib.request

INTERVAL = 0.02


def up(opener, url):
    try:
        with opener.open(url, timeout=1) as r:
            r.read()
            return 200 <= r.status < 300
    except Exception:  # refused, reset, timeout, 5xx: all are down
        return False


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: uptime-probe.py URL STOPFILE")
    url, stop = sys.argv[1], sys.argv[2]
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    probes = failures = 0
    longest = 0.0
    down_since = None
    parent = os.getppid()
    while not os.path.exists(stop):
        if os.getppid() != parent:
            sys.exit(0)
        t = time.monotonic()
        probes += 1
        if up(opener, url):
            if down_since is not None:
                longest = max(longest, t - down_since)
                down_since = None
        else:
            failures += 1
            if down_since is None:
                down_since = t
        time.sleep(max(0.0, INTERVAL - (time.monotonic() - t)))
    if down_since is not None:
        longest = max(longest, time.monotonic() - down_since)
    print(json.dumps({"probes": probes, "failures": failures,
                      "longest_outage_s": round(longest, 3),
                      "down_at_end": down_since is not None}))


if __name__ == "__main__":
    main()
