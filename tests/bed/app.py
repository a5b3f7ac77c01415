#!/usr/bin/env python3
"""A host's versioned HTTP app for the local fleet (python3 stdlib only).

    app.py --address A --port P --root R --name host1 --pidfile F [--delay S]

GET /        -> 200 "host1 2.0\\n" (the version read from R/app/VERSION at
                start-up: a deploy must restart the app to serve it)
GET /health  -> 200 "ok", or 503 while R/app/unhealthy exists
Every answer takes --delay seconds, so that requests are really in flight
when a host is drained or restarted. SIGTERM stops accepting at once and
finishes the requests in flight, as a well-behaved app does.
"""
import argparse
import http.server
import os
import signal
import socketserver
import sys
import threading
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--address", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--pidfile", required=True)
    ap.add_argument("--delay", type=float, default=0.02)
    a = ap.parse_args()
    try:
        with open(os.path.join(a.root, "app", "VERSION")) as fh:
            version = fh.read().strip() or "unknown"
    except OSError:
        version = "1.0"

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            pass

        def do_GET(self):
            time.sleep(a.delay)
            if self.path.startswith("/slow/"):
                # A long request (at most 8 s, inside HAProxy's timeouts).
                time.sleep(min(float(self.path[6:] or 0), 8.0))
            if self.path.startswith("/health"):
                sick = os.path.exists(os.path.join(a.root, "app", "unhealthy"))
                code, body = (503, "unhealthy\n") if sick else (200, "ok\n")
            else:
                code, body = 200, "%s %s\n" % (a.name, version)
            data = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-App-Version", version)
            self.end_headers()
            self.wfile.write(data)

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = False
        block_on_close = True
        allow_reuse_address = True

    server = Server((a.address, a.port), Handler)
    with open(a.pidfile + ".tmp", "w") as fh:
        fh.write("%d\n" % os.getpid())
    os.replace(a.pidfile + ".tmp", a.pidfile)

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("%s: %s %s listening on %s:%d" % (time.strftime("%H:%M:%S"), a.name, version, a.address, a.port), flush=True)
    server.serve_forever(poll_interval=0.05)
    server.server_close()  # joins the threads of requests in flight
    with open(a.pidfile) as fh:
        if fh.read().strip() == str(os.getpid()):
            os.unlink(a.pidfile)
    print("%s: %s %s stopped" % (time.strftime("%H:%M:%S"), a.name, version), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
