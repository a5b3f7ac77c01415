#!/usr/bin/env python3
"""Live traffic for the rolling tests and the demo (python3 stdlib only).

    traffic.py --url http://127.0.0.1:P/ --out FILE [--workers 4] [--duration 600]

Each worker sends GET requests one after another, each on a new connection,
until SIGTERM or --duration (the loop is bounded). Every answer other than
2xx and every socket error is counted. On exit the tally is written to FILE
as JSON: requests, ok, failed (non-2xx), errors (socket), by_body (which
host and version answered), first_failures (a few examples).
"""
import argparse
import http.client
import json
import signal
import sys
import threading
import time
import urllib.parse


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--duration", type=float, default=600)
    ap.add_argument("--pause", type=float, default=0.005)
    a = ap.parse_args()
    u = urllib.parse.urlsplit(a.url)
    stop = threading.Event()
    lock = threading.Lock()
    tally = {"requests": 0, "ok": 0, "failed": 0, "errors": 0, "by_body": {}, "first_failures": []}

    def note(kind, detail):
        with lock:
            tally["requests"] += 1
            tally[kind] += 1
            if kind == "ok":
                tally["by_body"][detail] = tally["by_body"].get(detail, 0) + 1
            elif len(tally["first_failures"]) < 10:
                tally["first_failures"].append("%s %s" % (time.strftime("%H:%M:%S"), detail))

    def worker():
        while not stop.is_set():
            try:
                c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
                c.request("GET", u.path or "/", headers={"Connection": "close"})
                r = c.getresponse()
                body = r.read().decode(errors="replace").strip()
                c.close()
                if 200 <= r.status < 300:
                    note("ok", body)
                else:
                    note("failed", "HTTP %d %s" % (r.status, body[:60]))
            except Exception as e:  # every socket error counts
                note("errors", repr(e)[:120])
            stop.wait(a.pause)

    signal.signal(signal.SIGTERM, lambda s, f: stop.set())
    signal.signal(signal.SIGINT, lambda s, f: stop.set())
    threads = [threading.Thread(target=worker) for _ in range(a.workers)]
    for t in threads:
        t.start()
    stop.wait(a.duration)
    stop.set()
    for t in threads:
        t.join()
    with open(a.out + ".tmp", "w") as fh:
        json.dump(tally, fh, indent=1)
    import os
    os.replace(a.out + ".tmp", a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
