#!/usr/bin/env python3
"""ELBv2 for the local fleet: moto's server, made to behave like an ALB.

    elb.py --dir DIR --port P --moto-port M --haproxy-socket S \\
           --dereg-delay SECONDS [--pidfile F]

Runs with the project's virtualenv (moto[server], boto3). At start it
creates, in moto, one EC2 instance per fleet host (their IDs go to each
host's instance-id file, which the host's IMDS serves) and a target group
`web` with every instance registered on its app port, healthy. Then it
serves the AWS API on 127.0.0.1:P (rollout's AWS_ENDPOINT_URL): everything
goes to moto, except what moto cannot do like an ALB, done here for the
fleet's target group:

  RegisterTargets     -> `initial` until the app answers GET /health twice
                         (checked every 250 ms), then `healthy` and HAProxy
                         `state ready`; `unhealthy` while it keeps failing
  DeregisterTargets   -> `draining` and HAProxy `state drain`, until HAProxy
                         shows no session for it or the deregistration
                         delay passes; then HAProxy `state maint`, and the
                         target is gone
  DescribeTargetHealth -> answered from that state

so live traffic through HAProxy takes the path an ALB would give it.
Every ELBv2 call is appended to DIR/elb-calls.log ("Action target..."),
and DIR/elb-faults.json ({"throttle": N, "fail": N}) makes the next N
calls answer Throttling (400) or InternalFailure (500), as the real API can.
"""
import argparse
import http.client
import http.server
import json
import os
import signal
import socket
import socketserver
import sys
import threading
import time
import urllib.parse
import uuid

import boto3
from moto.server import ThreadedMotoServer

NS = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"
REGION = "us-east-1"
CHECK_EVERY = 0.25
RISE = 2


def haproxy(socket_path, command):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(socket_path)
        s.sendall((command + "\n").encode())
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out.decode()
            out += chunk


class Group:
    """The ALB-like state of the fleet's target group."""

    def __init__(self, args, hosts):
        self.args = args
        self.lock = threading.Lock()
        self.hosts = hosts              # instance id -> fleet host
        self.targets = {}               # instance id -> dict(state, since, port, ok)
        self.arn = None

    def log_call(self, action, detail):
        with open(os.path.join(self.args.dir, "elb-calls.log"), "a") as fh:
            fh.write("%.3f %s %s\n" % (time.time(), action, detail))

    def app_healthy(self, iid):
        h = self.hosts[iid]
        try:
            c = http.client.HTTPConnection(h["address"], h["app_port"], timeout=1)
            c.request("GET", "/health")
            ok = c.getresponse().status == 200
            c.close()
            return ok
        except OSError:
            return False

    def sessions(self, iid):
        name = self.hosts[iid]["name"]
        stat = haproxy(self.args.haproxy_socket, "show stat")
        cols = stat.splitlines()[0].lstrip("# ").split(",")
        for line in stat.splitlines()[1:]:
            f = line.split(",")
            if len(f) == len(cols) and f[0] == "app" and f[1] == name:
                return int(f[cols.index("scur")] or 0)
        return 0

    def register(self, iid, port):
        with self.lock:
            t = self.targets.get(iid)
            if t and t["state"] in ("healthy", "initial", "unhealthy"):
                return
            # Registering a draining target cancels the drain (as ELBv2 does);
            # it goes through the health checks again.
            self.targets[iid] = {"state": "initial", "since": time.monotonic(), "port": port, "ok": 0}

    def deregister(self, iid):
        with self.lock:
            t = self.targets.get(iid)
            if not t or t["state"] == "draining":
                return
            t.update(state="draining", since=time.monotonic())
        haproxy(self.args.haproxy_socket, "set server app/%s state drain" % self.hosts[iid]["name"])

    def tick(self):
        """One round of health checks and drain checks."""
        with self.lock:
            items = list(self.targets.items())
        for iid, t in items:
            name = self.hosts[iid]["name"]
            if t["state"] in ("initial", "unhealthy"):
                ok = self.app_healthy(iid)
                with self.lock:
                    t["ok"] = t["ok"] + 1 if ok else 0
                    if t["ok"] >= RISE:
                        t["state"] = "healthy"
                        became_healthy = True
                    else:
                        became_healthy = False
                        if not ok and time.monotonic() - t["since"] > 2 * CHECK_EVERY * RISE:
                            t["state"] = "unhealthy"
                if became_healthy:
                    haproxy(self.args.haproxy_socket, "set server app/%s state ready" % name)
            elif t["state"] == "draining":
                done = self.sessions(iid) == 0 or time.monotonic() - t["since"] >= self.args.dereg_delay
                if done:
                    haproxy(self.args.haproxy_socket, "set server app/%s state maint" % name)
                    with self.lock:
                        if t["state"] == "draining":
                            del self.targets[iid]

    def describe_xml(self):
        members = []
        with self.lock:
            for iid, t in sorted(self.targets.items()):
                reason = {
                    "initial": ("Elb.RegistrationInProgress", "Target registration is in progress"),
                    "unhealthy": ("Target.ResponseCodeMismatch", "Health checks failed with these codes: [503]"),
                    "draining": ("Target.DeregistrationInProgress", "Target deregistration is in progress"),
                }.get(t["state"])
                extra = ""
                if reason:
                    extra = "<Reason>%s</Reason><Description>%s</Description>" % reason
                members.append(
                    "<member><Target><Id>%s</Id><Port>%d</Port></Target>"
                    "<HealthCheckPort>%d</HealthCheckPort>"
                    "<TargetHealth><State>%s</State>%s</TargetHealth></member>"
                    % (iid, t["port"], t["port"], t["state"], extra))
        return ("<DescribeTargetHealthResponse xmlns=\"%s\"><DescribeTargetHealthResult>"
                "<TargetHealthDescriptions>%s</TargetHealthDescriptions>"
                "</DescribeTargetHealthResult><ResponseMetadata><RequestId>%s</RequestId>"
                "</ResponseMetadata></DescribeTargetHealthResponse>"
                % (NS, "".join(members), uuid.uuid4()))


def error_xml(code, message, kind="Sender"):
    return ("<ErrorResponse xmlns=\"%s\"><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message>"
            "</Error><RequestId>%s</RequestId></ErrorResponse>" % (NS, kind, code, message, uuid.uuid4()))


def take_fault(d):
    """The next injected fault, if DIR/elb-faults.json asks for one."""
    path = os.path.join(d, "elb-faults.json")
    try:
        with open(path) as fh:
            faults = json.load(fh)
    except (OSError, ValueError):
        return None
    for kind in ("throttle", "fail"):
        if faults.get(kind, 0) > 0:
            faults[kind] -= 1
            with open(path + ".tmp", "w") as fh:
                json.dump(faults, fh)
            os.replace(path + ".tmp", path)
            return kind
    return None


def targets_of(form):
    out = []
    i = 1
    while "Targets.member.%d.Id" % i in form:
        port = form.get("Targets.member.%d.Port" % i)
        out.append((form["Targets.member.%d.Id" % i], int(port) if port else None))
        i += 1
    return out


def make_handler(group, moto_port):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            pass

        def reply(self, code, body, ctype="text/xml"):
            data = body.encode() if isinstance(body, str) else body
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def forward(self, body):
            c = http.client.HTTPConnection("127.0.0.1", moto_port, timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
            headers["Host"] = "127.0.0.1:%d" % moto_port
            c.request(self.command, self.path, body=body, headers=headers)
            r = c.getresponse()
            data = r.read()
            self.send_response(r.status)
            for k, v in r.getheaders():
                if k.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            c.close()

        def handle_any(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else b""
            form = dict(urllib.parse.parse_qsl(body.decode(errors="replace")))
            action = form.get("Action", "")
            is_elb = form.get("Version") == "2015-12-01"
            if not is_elb:
                return self.forward(body)
            targets = targets_of(form)
            group.log_call(action, " ".join("%s:%s" % t for t in targets))
            fault = take_fault(group.args.dir)
            if fault == "throttle":
                return self.reply(400, error_xml("Throttling", "Rate exceeded"))
            if fault == "fail":
                return self.reply(500, error_xml("InternalFailure", "An internal error occurred", "Receiver"))
            ours = form.get("TargetGroupArn") == group.arn
            if ours and action == "DescribeTargetHealth":
                return self.reply(200, group.describe_xml())
            if ours and action in ("RegisterTargets", "DeregisterTargets"):
                unknown = [iid for iid, _ in targets if iid not in group.hosts]
                if unknown:
                    return self.reply(400, error_xml(
                        "InvalidTarget", "The following targets are not in a running state and cannot be registered: '%s'" % unknown[0]))
                for iid, port in targets:
                    port = port or group.hosts[iid]["app_port"]
                    if action == "RegisterTargets":
                        group.register(iid, port)
                    else:
                        group.deregister(iid)
            return self.forward(body)

        do_POST = handle_any
        do_GET = handle_any

    return Handler


def setup(args, fleet, moto_url):
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=moto_url)
    elb = boto3.client("elbv2", region_name=REGION, endpoint_url=moto_url)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")
    hosts = {}
    for h in fleet["hosts"]:
        inst = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="t3.micro",
                                 TagSpecifications=[{"ResourceType": "instance",
                                                     "Tags": [{"Key": "Name", "Value": h["name"]}]}])
        iid = inst["Instances"][0]["InstanceId"]
        with open(h["instance_id_file"], "w") as fh:
            fh.write(iid + "\n")
        hosts[iid] = h
    tg = elb.create_target_group(Name="web", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="instance",
                                 HealthCheckPath="/health")["TargetGroups"][0]["TargetGroupArn"]
    elb.modify_target_group_attributes(TargetGroupArn=tg, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": str(int(args.dereg_delay))}])
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": i, "Port": h["app_port"]} for i, h in hosts.items()])
    return hosts, tg


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--moto-port", type=int, required=True)
    ap.add_argument("--haproxy-socket", required=True)
    ap.add_argument("--dereg-delay", type=float, default=5)
    ap.add_argument("--pidfile")
    args = ap.parse_args()
    for k, v in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        os.environ.setdefault(k, v)
    with open(os.path.join(args.dir, "fleet.json")) as fh:
        fleet = json.load(fh)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=args.moto_port, verbose=False)
    moto.start()
    moto_url = "http://127.0.0.1:%d" % args.moto_port
    hosts, tg = setup(args, fleet, moto_url)
    group = Group(args, hosts)
    group.arn = tg
    for iid, h in hosts.items():
        group.targets[iid] = {"state": "healthy", "since": time.monotonic(), "port": h["app_port"], "ok": RISE}

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True

    server = Server(("127.0.0.1", args.port), make_handler(group, args.moto_port))
    stop = threading.Event()

    def checker():
        while not stop.is_set():
            try:
                group.tick()
            except Exception as e:  # keep checking; say why
                print("elb.py: check round failed: %r" % e, file=sys.stderr, flush=True)
            stop.wait(CHECK_EVERY)

    threading.Thread(target=checker, daemon=True).start()
    info = {"endpoint": "http://127.0.0.1:%d" % args.port, "target_group_arn": tg, "region": REGION,
            "instances": {h["name"]: iid for iid, h in hosts.items()}}
    with open(os.path.join(args.dir, "elb.json.tmp"), "w") as fh:
        json.dump(info, fh, indent=1)
    os.replace(os.path.join(args.dir, "elb.json.tmp"), os.path.join(args.dir, "elb.json"))
    if args.pidfile:
        with open(args.pidfile, "w") as fh:
            fh.write("%d\n" % os.getpid())

    def shutdown(signum, frame):
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    server.serve_forever(poll_interval=0.1)
    moto.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
