#!/usr/bin/env python3
"""A per-host IMDSv2 endpoint for the local fleet (python3 stdlib only).

Enforces the IMDSv2 token flow as EC2 does:
  PUT /latest/api/token with X-aws-ec2-metadata-token-ttl-seconds: 1..21600
      -> 200 and a random token (400 without or with a bad TTL header,
         403 when X-Forwarded-For is present)
  GET /latest/meta-data/... with X-aws-ec2-metadata-token: <live token>
      -> 200, 401 without a token or with an unknown/expired one
Serves instance-id, local-ipv4, placement/region (and a few neighbours).
The instance id is read from --instance-id-file on every request when that
file exists (later work writes moto's IDs there), else --instance-id.

Usage: imds.py --address 127.0.0.11 --port 8201 --instance-id i-... \
               [--instance-id-file F] [--refuse-tokens-file F] [--local-ipv4 A] [--region R] \
               [--az Z] [--log F] [--pidfile F]
"""
import argparse
import http.server
import json
import os
import secrets
import signal
import sys
import threading
import time

MAX_TTL = 21600


class State:
    def __init__(self, args):
        self.args = args
        self.tokens = {}  # token -> expiry (monotonic)
        self.lock = threading.Lock()
        self.log = open(args.log, "a", buffering=1) if args.log else sys.stderr

    def instance_id(self):
        f = self.args.instance_id_file
        if f:
            try:
                with open(f) as fh:
                    v = fh.read().strip()
                if v:
                    return v
            except OSError:
                pass
        return self.args.instance_id

    def new_token(self, ttl):
        tok = secrets.token_urlsafe(40)
        now = time.monotonic()
        with self.lock:
            # Drop expired tokens so the table never grows without bound.
            for t in [t for t, exp in self.tokens.items() if exp <= now]:
                del self.tokens[t]
            self.tokens[tok] = now + ttl
        return tok

    def token_ok(self, tok):
        if not tok:
            return False
        with self.lock:
            exp = self.tokens.get(tok)
        return exp is not None and exp > time.monotonic()

    def token_ttl_left(self, tok):
        with self.lock:
            exp = self.tokens.get(tok, 0)
        return max(0, int(exp - time.monotonic()))

    def metadata(self):
        a = self.args
        iid = self.instance_id()
        doc = {
            "accountId": "123456789012",
            "architecture": "x86_64",
            "availabilityZone": a.az,
            "imageId": "ami-12c6146b",
            "instanceId": iid,
            "instanceType": "t3.micro",
            "privateIp": a.local_ipv4,
            "region": a.region,
            "version": "2017-09-30",
        }
        return {
            "/latest/meta-data/instance-id": iid,
            "/latest/meta-data/local-ipv4": a.local_ipv4,
            "/latest/meta-data/local-hostname": a.hostname,
            "/latest/meta-data/hostname": a.hostname,
            "/latest/meta-data/instance-type": "t3.micro",
            "/latest/meta-data/ami-id": "ami-12c6146b",
            "/latest/meta-data/placement/region": a.region,
            "/latest/meta-data/placement/availability-zone": a.az,
            "/latest/dynamic/instance-identity/document": json.dumps(doc, indent=2),
        }


def make_handler(state):
    class Handler(http.server.BaseHTTPRequestHandler):
        server_version = "EC2ws"
        sys_version = ""
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            # The user agent tells tests which path a request took
            # (rollout's own client sends none; its curl fallback does).
            agent = self.headers.get("User-Agent", "-") if hasattr(self, "headers") else "-"
            state.log.write("%s %s - %s agent=%s\n" % (
                time.strftime("%Y-%m-%dT%H:%M:%S"), self.client_address[0], fmt % args, agent))

        def reply(self, code, body="", ctype="text/plain", headers=None):
            data = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def drain(self):
            n = int(self.headers.get("Content-Length") or 0)
            if n > 0:
                self.rfile.read(n)

        def do_PUT(self):
            self.drain()
            path = self.path.split("?", 1)[0]
            if path != "/latest/api/token":
                return self.reply(404, "Not Found")
            if self.headers.get("X-Forwarded-For"):
                return self.reply(403, "Forbidden")
            refuse = state.args.refuse_tokens_file
            if refuse and os.path.exists(refuse):
                # A fault the tests inject: tokens refused (IMDS disabled).
                return self.reply(403, "Forbidden")
            ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
            try:
                ttl_n = int(ttl)
            except (TypeError, ValueError):
                return self.reply(400, "Bad Request")
            if not 1 <= ttl_n <= MAX_TTL:
                return self.reply(400, "Bad Request")
            tok = state.new_token(ttl_n)
            self.reply(200, tok, headers={"X-aws-ec2-metadata-token-ttl-seconds": str(ttl_n)})

        def do_GET(self):
            self.drain()
            path = self.path.split("?", 1)[0]
            tok = self.headers.get("X-aws-ec2-metadata-token")
            if not state.token_ok(tok):
                # IMDSv2 only: no token (or a dead one) is 401.
                return self.reply(401, "Unauthorized")
            hdrs = {"X-aws-ec2-metadata-token-ttl-seconds": str(state.token_ttl_left(tok))}
            md = state.metadata()
            if path in md:
                ctype = "application/json" if path.endswith("/document") else "text/plain"
                return self.reply(200, md[path], ctype, hdrs)
            # Directory listings, e.g. /latest/meta-data/ and .../placement/
            prefix = path if path.endswith("/") else path + "/"
            children = sorted({
                k[len(prefix):].split("/", 1)[0] + ("/" if "/" in k[len(prefix):] else "")
                for k in md if k.startswith(prefix)
            })
            if children:
                return self.reply(200, "\n".join(children), headers=hdrs)
            self.reply(404, "Not Found", headers=hdrs)

        do_HEAD = do_GET

        def do_POST(self):
            self.drain()
            self.reply(405, "Method Not Allowed")

        do_DELETE = do_POST

    return Handler


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--address", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--instance-id", required=True)
    p.add_argument("--instance-id-file")
    p.add_argument("--refuse-tokens-file", help="while this file exists, PUT /latest/api/token is 403")
    p.add_argument("--local-ipv4")
    p.add_argument("--hostname")
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--az")
    p.add_argument("--log")
    p.add_argument("--pidfile")
    args = p.parse_args()
    args.local_ipv4 = args.local_ipv4 or args.address
    args.az = args.az or args.region + "a"
    args.hostname = args.hostname or "ip-%s.ec2.internal" % args.local_ipv4.replace(".", "-")

    state = State(args)
    http.server.ThreadingHTTPServer.allow_reuse_address = True
    srv = http.server.ThreadingHTTPServer((args.address, args.port), make_handler(state))
    srv.daemon_threads = True

    def stop(signum, frame):
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.pidfile:
        with open(args.pidfile, "w") as fh:
            fh.write("%d\n" % os.getpid())
    state.log.write("imds listening on http://%s:%d\n" % (args.address, args.port))
    try:
        srv.serve_forever(poll_interval=0.2)
    finally:
        srv.server_close()
        if args.pidfile:
            try:
                os.unlink(args.pidfile)
            except OSError:
                pass


if __name__ == "__main__":
    main()
