#!/usr/bin/env python3
"""The local test fleet for rollout (python3 stdlib only).

    fleet.py up   --hosts N --dir DIR [--base-port P] [--imds-base-port Q]
    fleet.py down --dir DIR
    fleet.py status --dir DIR

Host i (1..N) is a real OpenSSH sshd listening on 127.0.0.(10+i):(P+i) with
its own host keys, config, log and "disk" (DIR/hostI/root), plus an IMDSv2
endpoint on 127.0.0.(10+i):(Q+i).  Everything is described in DIR/fleet.json.

Adding a per-host service: subclass HostService (prepare/argv/ready), append
an instance to HOST_SERVICES.  Fleet-wide services (HAProxy, moto) can use
start_process() and save(); every process recorded in fleet.json's
"processes" list is stopped by down(), by PID.
"""
import argparse
import contextlib
import errno
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SSHD = "/usr/sbin/sshd"
PYTHON = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable

DEPLOY_USER = "rollout-deploy"          # passwordless sudo
PW_USER = "rollout-pw"                  # sudo asks for a password
PW_PASSWORD = "rollout-pw-secret"
KEY_PASSPHRASE = "rollout-test-pass"   # for keys/id_ed25519_enc
USER_SHELL = "/bin/sh"

DEFAULT_BASE_PORT = 2200
IMDS_PORT_OFFSET = 6000                 # imds base port = base port + 6000
APP_PORT_OFFSET = 20000                 # app base port A = base port + 20000 unless given:
                                        # host i's app on 127.0.0.(10+i):(A+i), HAProxy on 127.0.0.1:A
                                        # (keep every port below the ephemeral range, 32768+)
HAPROXY = "/usr/sbin/haproxy"
ELB_PORT_OFFSET = 500                   # the ELBv2 API (elb.py) on 127.0.0.1:(A+500), moto on A+501
# elb.py needs moto and boto3: the project's virtualenv (scripts/setup makes it).
BED_PYTHON = os.environ.get("ROLLOUT_BED_PYTHON") or os.path.join(
    os.path.dirname(os.path.dirname(HERE)), ".venv", "bin", "python")
ADDRESS_OFFSET = 10                     # host i -> 127.0.0.(10+i)
MAX_HOSTS = 254 - ADDRESS_OFFSET
REGION = "us-east-1"

HOST_KEY_TYPES = ("ed25519", "ecdsa", "rsa")
CLIENT_KEYS = {                          # file name -> (type, passphrase)
    "id_ed25519": ("ed25519", ""),
    "id_ecdsa": ("ecdsa", ""),
    "id_rsa": ("rsa", ""),
    "id_ed25519_enc": ("ed25519", KEY_PASSPHRASE),
}


class BedError(Exception):
    pass


def log(msg):
    print("bed: " + msg, file=sys.stderr, flush=True)


def run(argv, **kw):
    kw.setdefault("check", True)
    kw.setdefault("stdin", subprocess.DEVNULL)
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    kw.setdefault("text", True)
    try:
        return subprocess.run(argv, **kw)
    except subprocess.CalledProcessError as e:
        raise BedError("%s failed (%d): %s" % (" ".join(argv), e.returncode,
                                               (e.stderr or e.stdout or "").strip()))


def write_file(path, text, mode=0o644):
    """Write atomically; return True when the content changed."""
    try:
        with open(path) as fh:
            if fh.read() == text:
                os.chmod(path, mode)
                return False
    except OSError:
        pass
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    return True


# ---------------------------------------------------------------- processes

def _proc_stat(pid):
    """(state, ppid, starttime) of a live pid, or None."""
    try:
        with open("/proc/%d/stat" % pid) as fh:
            s = fh.read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    return rest[0], int(rest[1]), int(rest[19])


def proc_cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def reap(pid):
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def alive(pid, match=None):
    """True when pid runs (not a zombie) and, if given, its cmdline contains match."""
    if not pid:
        return False
    reap(pid)
    st = _proc_stat(pid)
    if st is None or st[0] in ("Z", "X"):
        return False
    return match is None or match in proc_cmdline(pid)


def descendants(pid):
    """[(pid, starttime)] of every live descendant of pid (via /proc ppid links)."""
    children = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = _proc_stat(int(name))
            if st:
                children.setdefault(st[1], []).append((int(name), st[2]))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c[0])
    return out


def stop_pids(records, timeout=5.0):
    """Stop processes given as dicts {pid, match}, by PID only.

    Each process's descendants (e.g. sshd's per-connection children and the
    commands they run) are collected first and stopped after it, matched by
    PID plus start time so a reused PID is never signalled."""
    victims = []  # (pid, starttime)
    for r in records:
        pid = r.get("pid")
        if not alive(pid, r.get("match")):
            continue
        st = _proc_stat(pid)
        victims.append((pid, st[2]))
        victims.extend(descendants(pid))

    def live(v):
        reap(v[0])
        st = _proc_stat(v[0])
        return st is not None and st[0] not in ("Z", "X") and st[2] == v[1]

    def signal_all(sig):
        for v in victims:
            if live(v):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(v[0], sig)

    signal_all(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(live(v) for v in victims):
        time.sleep(0.02)
    if any(live(v) for v in victims):
        signal_all(signal.SIGKILL)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and any(live(v) for v in victims):
            time.sleep(0.02)
    left = [v[0] for v in victims if live(v)]
    if left:
        raise BedError("processes still running after SIGKILL: %s" % left)
    return [v[0] for v in victims]


def port_free(address, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((address, port))
        return True
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            return False
        raise
    finally:
        s.close()


def accepts(address, port, banner=None, timeout=0.5):
    try:
        with socket.create_connection((address, port), timeout=timeout) as s:
            if banner is None:
                return True
            s.settimeout(timeout)
            return s.recv(64).startswith(banner)
    except OSError:
        return False


def read_pidfile(path):
    try:
        with open(path) as fh:
            return int(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def start_process(fleet, name, argv, match, host=None, log_path=None, pidfile=None,
                  daemonizes=False, env=None, extra=None):
    """Start a process detached from us and record it in fleet["processes"].

    match: a string its /proc cmdline must contain (down() checks it before
    signalling, so a recycled PID is never hit).  For a self-daemonizing
    program (sshd) pass daemonizes=True and pidfile; the PID is read from it
    once the launcher has exited.  Returns the process record."""
    out = open(log_path or os.devnull, "ab")
    try:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                             start_new_session=True, close_fds=True, env=env)
    finally:
        out.close()
    rec = {"name": name, "host": host, "pid": None if daemonizes else p.pid,
           "match": match, "pidfile": pidfile, "log": log_path, "argv": argv}
    if extra:
        rec.update(extra)
    rec["_popen"] = p
    fleet.setdefault("processes", []).append(rec)
    return rec


def finish_start(rec, ready, timeout=10.0):
    """Wait until the process behind rec has a PID and ready() is true."""
    p = rec.pop("_popen", None)
    deadline = time.monotonic() + timeout
    while True:
        if rec["pid"] is None and p is not None and p.poll() is not None:
            if p.returncode != 0:
                raise BedError("%s exited with %d; see %s" % (rec["name"], p.returncode, rec["log"]))
            pid = read_pidfile(rec["pidfile"])
            if alive(pid, rec["match"]):
                rec["pid"] = pid
        if rec["pid"] is not None and not alive(rec["pid"]):
            raise BedError("%s (pid %s) died at start; see %s" % (rec["name"], rec["pid"], rec["log"]))
        if rec["pid"] is not None and ready():
            return rec
        if time.monotonic() > deadline:
            raise BedError("%s not ready after %.0fs; see %s" % (rec["name"], timeout, rec["log"]))
        time.sleep(0.01)


# ---------------------------------------------------------------- users

def ensure_user(name, password=None):
    import pwd
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        run(["useradd", "--create-home", "--home-dir", "/home/" + name,
             "--shell", USER_SHELL, "--user-group", name])
        pw = pwd.getpwnam(name)
        log("created user %s" % name)
    if pw.pw_shell != USER_SHELL:
        run(["usermod", "--shell", USER_SHELL, name])
    os.makedirs(pw.pw_dir, exist_ok=True)
    os.chown(pw.pw_dir, pw.pw_uid, pw.pw_gid)
    shadow = shadow_hash(name)
    if password is None:
        # With UsePAM no, sshd refuses accounts whose hash starts with "!"
        # (locked); "*" means "no password" and lets public keys in.
        if shadow is None or shadow.startswith("!"):
            run(["usermod", "--password", "*", name])
    elif not password_matches(shadow, password):
        run(["chpasswd"], input="%s:%s\n" % (name, password), stdin=None)
    return pwd.getpwnam(name)


def shadow_hash(name):
    try:
        with open("/etc/shadow") as fh:
            for line in fh:
                f = line.split(":")
                if f[0] == name:
                    return f[1]
    except OSError:
        pass
    return None


def password_matches(hashed, password):
    if not hashed or hashed[0] in "!*":
        return False
    try:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import crypt
        return crypt.crypt(password, hashed) == hashed
    except Exception:
        return False


def ensure_sudoers():
    rules = {
        DEPLOY_USER: "Defaults:%s !requiretty, !lecture\n%s ALL=(ALL:ALL) NOPASSWD: ALL\n"
                     % (DEPLOY_USER, DEPLOY_USER),
        # timestamp_timeout=0: every become must give the password.
        PW_USER: "Defaults:%s !requiretty, lecture=never, timestamp_timeout=0\n"
                 "%s ALL=(ALL:ALL) ALL\n" % (PW_USER, PW_USER),
    }
    for user, text in rules.items():
        path = "/etc/sudoers.d/" + user
        try:
            with open(path) as fh:
                if fh.read() == text:
                    continue
        except OSError:
            pass
        with tempfile.NamedTemporaryFile("w", dir="/etc/sudoers.d", prefix=".", delete=False) as fh:
            fh.write(text)
        os.chmod(fh.name, 0o440)
        try:
            run(["visudo", "-cqf", fh.name])
        except BedError:
            os.unlink(fh.name)
            raise
        os.replace(fh.name, path)


def ensure_users():
    if os.geteuid() != 0:
        raise BedError("must run as root (creates users, starts sshd)")
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    import fcntl
    # Several fleets may come up at once (parallel tests): one at a time here.
    with open("/run/rollout-bed.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        deploy = ensure_user(DEPLOY_USER)
        ensure_user(PW_USER, PW_PASSWORD)
        ensure_sudoers()
    return deploy


# ---------------------------------------------------------------- keys

def keygen_jobs(jobs, parallel=None):
    """jobs: [(path, type, passphrase, comment)]; generate the missing ones."""
    todo = [j for j in jobs if not (os.path.exists(j[0]) and os.path.exists(j[0] + ".pub"))]
    parallel = parallel or max(2, 2 * (os.cpu_count() or 1))
    running = []

    def start(j):
        path, ktype, pw, comment = j
        for f in (path, path + ".pub"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f)
        argv = ["ssh-keygen", "-q", "-t", ktype, "-N", pw, "-C", comment, "-f", path]
        if ktype == "rsa":
            argv[4:4] = ["-b", "2048"]  # fast to generate; fine for tests
        return j, subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)

    def finish(j, p):
        err = p.communicate()[1]
        if p.returncode != 0:
            raise BedError("ssh-keygen %s failed: %s" % (j[0], err.decode().strip()))

    for j in todo:
        if len(running) >= parallel:
            finish(*running.pop(0))
        running.append(start(j))
    for r in running:
        finish(*r)
    return len(todo)


def read_pub(path):
    with open(path) as fh:
        f = fh.read().split()
    return f[0], f[1]


# ---------------------------------------------------------------- services

class HostService:
    """A per-host process.  Subclasses fill in the four hooks."""
    name = "service"

    def prepare(self, fleet, host):
        """Write config files, add fields to host (before start)."""

    def argv(self, fleet, host):
        raise NotImplementedError

    def match(self, fleet, host):
        """A string unique to this process's cmdline (checked before signals)."""
        raise NotImplementedError

    def pidfile(self, fleet, host):
        return os.path.join(host["dir"], self.name + ".pid")

    def daemonizes(self):
        return False

    def spec(self, fleet, host):
        """What a running instance must match to be kept by a re-run of up."""
        return self.argv(fleet, host)

    def ready(self, fleet, host):
        return True

    def endpoint(self, fleet, host):
        """(address, port) it listens on, checked to be free before start."""
        return None, None

    def record(self, fleet, host, rec):
        """Copy what tests need from the process record into host."""
        host[self.name + "_pid"] = rec["pid"]


class Sshd(HostService):
    name = "sshd"

    def prepare(self, fleet, host):
        d = host["dir"]
        host["sshd_config"] = cfg = os.path.join(d, "sshd_config")
        host["sshd_log"] = os.path.join(d, "sshd.log")
        env = {
            "ROLLOUT_BED_HOST": host["name"],
            "ROLLOUT_BED_ROOT": host["root"],
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": host["imds_url"],
        }
        lines = [
            "# Generated by tests/bed/fleet.py for %s; full config, no includes." % host["name"],
            "ListenAddress %s:%d" % (host["address"], host["port"]),
            "AddressFamily inet",
        ] + ["HostKey %s" % host["host_keys"][t] for t in HOST_KEY_TYPES] + [
            "PidFile %s" % self.pidfile(fleet, host),
            "AuthorizedKeysFile %s" % fleet["authorized_keys"],
            "AllowUsers %s %s" % (DEPLOY_USER, PW_USER),
            "StrictModes no",
            "UsePAM no",
            "PubkeyAuthentication yes",
            # --password-auth HOST: also accepts passwords (rollout -k).
            "PasswordAuthentication %s" % ("yes" if host.get("password_auth") else "no"),
            "KbdInteractiveAuthentication no",
            "PermitRootLogin no",
            "PermitEmptyPasswords no",
            # --no-forwarding HOST: an sshd that refuses direct-tcpip, as
            # locked-down fleets do (rollout then falls back to curl).
            "AllowTcpForwarding %s" % ("yes" if host.get("forwarding", True) else "no"),
            "AllowStreamLocalForwarding %s" % ("yes" if host.get("forwarding", True) else "no"),
            "AllowAgentForwarding yes",
            "X11Forwarding no",
            "MaxSessions 50",
            "MaxStartups 100:30:200",
            "MaxAuthTries 10",
            "LoginGraceTime 30",
            "UseDNS no",
            "PrintMotd no",
            "PrintLastLog no",
            "PermitUserEnvironment no",
            "AcceptEnv LANG LC_*",
            "SetEnv " + " ".join("%s=%s" % kv for kv in env.items()),
            "Subsystem sftp internal-sftp",
            "SyslogFacility AUTH",
            "LogLevel VERBOSE",
            "",
        ]
        write_file(cfg, "\n".join(lines), 0o644)

    def argv(self, fleet, host):
        return [SSHD, "-f", host["sshd_config"], "-E", host["sshd_log"]]

    def spec(self, fleet, host):
        with open(host["sshd_config"]) as fh:
            return self.argv(fleet, host) + [hashlib.sha256(fh.read().encode()).hexdigest()]

    def match(self, fleet, host):
        return host["sshd_config"]

    def daemonizes(self):
        return True

    def endpoint(self, fleet, host):
        return host["address"], host["port"]

    def ready(self, fleet, host):
        return accepts(host["address"], host["port"], banner=b"SSH-")

    def record(self, fleet, host, rec):
        host["pid"] = rec["pid"]


class Imds(HostService):
    name = "imds"

    def prepare(self, fleet, host):
        host["imds_log"] = os.path.join(host["dir"], "imds.log")

    def argv(self, fleet, host):
        return [PYTHON, os.path.join(HERE, "imds.py"),
                "--address", host["imds_address"], "--port", str(host["imds_port"]),
                "--instance-id", host["default_instance_id"],
                "--instance-id-file", host["instance_id_file"],
                "--refuse-tokens-file", os.path.join(host["dir"], "imds-refuse-tokens"),
                "--local-ipv4", host["address"], "--region", REGION,
                "--log", host["imds_log"], "--pidfile", self.pidfile(fleet, host)]

    def match(self, fleet, host):
        return self.pidfile(fleet, host)

    def endpoint(self, fleet, host):
        return host["imds_address"], host["imds_port"]

    def ready(self, fleet, host):
        return accepts(host["imds_address"], host["imds_port"])


HOST_SERVICES = [Sshd(), Imds()]


# ---------------------------------------------------------------- fleet

def fleet_json(d):
    return os.path.join(d, "fleet.json")


def load(d):
    try:
        with open(fleet_json(d)) as fh:
            return json.load(fh)
    except FileNotFoundError:
        return None


def save(fleet):
    data = dict(fleet)
    data["processes"] = [{k: v for k, v in r.items() if not k.startswith("_")}
                         for r in fleet.get("processes", [])]
    write_file(fleet_json(fleet["dir"]), json.dumps(data, indent=2) + "\n", 0o644)


def instance_id_for(name):
    return "i-" + hashlib.sha256(name.encode()).hexdigest()[:17]


def plan_host(d, i, base_port, imds_base_port, app_base_port):
    name = "host%d" % i
    hd = os.path.join(d, name)
    addr = "127.0.0.%d" % (ADDRESS_OFFSET + i)
    return {
        "app_port": app_base_port + i,
        "app_ctl": os.path.join(hd, "appctl"),
        "name": name,
        "index": i,
        "address": addr,
        "port": base_port + i,
        "pid": None,
        "dir": hd,
        "root": os.path.join(hd, "root"),
        "host_keys": {t: os.path.join(hd, "ssh_host_%s_key" % t) for t in HOST_KEY_TYPES},
        "imds_address": addr,
        "imds_port": imds_base_port + i,
        "imds_url": "http://%s:%d" % (addr, imds_base_port + i),
        "imds_pid": None,
        "instance_id_file": os.path.join(hd, "instance-id"),
        "default_instance_id": instance_id_for(name),
        "region": REGION,
    }


def write_client_files(fleet):
    d, keys = fleet["dir"], fleet["keys"]
    # known_hosts from the host public keys (no network scan).
    kh = []
    for h in fleet["hosts"]:
        for t in HOST_KEY_TYPES:
            kt, blob = read_pub(h["host_keys"][t] + ".pub")
            kh.append("[%s]:%d %s %s" % (h["address"], h["port"], kt, blob))
    write_file(fleet["known_hosts"], "\n".join(kh) + "\n", 0o644)

    ak = []
    for k in CLIENT_KEYS:
        kt, blob = read_pub(keys[k] + ".pub")
        ak.append("%s %s rollout-bed-%s" % (kt, blob, k))
    write_file(fleet["authorized_keys"], "\n".join(ak) + "\n", 0o644)

    cfg = ["# OpenSSH client config for the bed: ssh -F %s host1" % fleet["ssh_config"]]
    for h in fleet["hosts"]:
        cfg += ["Host %s" % h["name"], "  HostName %s" % h["address"], "  Port %d" % h["port"], ""]
    cfg += [
        "Host *",
        "  User %s" % DEPLOY_USER,
        "  IdentityFile %s" % keys["id_ed25519"],
        "  IdentitiesOnly yes",
        "  UserKnownHostsFile %s" % fleet["known_hosts"],
        "  GlobalKnownHostsFile /dev/null",
        "  StrictHostKeyChecking yes",
        "  UpdateHostKeys no",
        "  ConnectTimeout 5",
        "  ServerAliveInterval 15",
        "  LogLevel ERROR",
        "",
    ]
    write_file(fleet["ssh_config"], "\n".join(cfg), 0o644)


def host_vars(fleet, h, user):
    app = [("app_port", h["app_port"]), ("app_ctl", h["app_ctl"]),
           ("app_root", os.path.join(h["root"], "app"))] if fleet.get("app") else []
    return app + [
        ("ansible_host", h["address"]),
        ("ansible_port", h["port"]),
        ("ansible_user", user),
        ("ansible_ssh_private_key_file", fleet["keys"]["id_ed25519"]),
        ("imds_endpoint", h["imds_url"]),
        ("bed_root", h["root"]),
    ]


def fleet_vars(fleet):
    """Group vars for every host: where the fleet's load balancer is."""
    hp = fleet.get("haproxy")
    if not hp:
        return []
    out = [("haproxy_socket", hp["socket"]), ("haproxy_backend", "app"), ("lb_url", hp["url"])]
    if fleet.get("elb"):
        out.append(("tg_arn", fleet["elb"]["target_group_arn"]))
    return out


def start_elb(fleet, dereg_delay, port=None):
    """moto behind elb.py, which makes it behave like an ALB (see elb.py)."""
    d = fleet["dir"]
    if not os.access(BED_PYTHON, os.X_OK):
        raise BedError("%s missing: run scripts/setup (it makes the virtualenv with moto)" % BED_PYTHON)
    port = port or fleet["app_base_port"] + ELB_PORT_OFFSET
    for p in (port, port + 1):
        if not port_free("127.0.0.1", p):
            raise BedError("127.0.0.1:%d (ELBv2/moto) is already in use; try another --elb-port" % p)
    pidfile = os.path.join(d, "elb.pid")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(d, "elb.json"))
    argv = [BED_PYTHON, os.path.join(HERE, "elb.py"), "--dir", d, "--port", str(port),
            "--moto-port", str(port + 1), "--haproxy-socket", fleet["haproxy"]["socket"],
            "--dereg-delay", str(dereg_delay), "--pidfile", pidfile]
    rec = start_process(fleet, "elb", argv, pidfile, log_path=os.path.join(d, "elb.out"), pidfile=pidfile)
    try:
        finish_start(rec, lambda: os.path.exists(os.path.join(d, "elb.json")), timeout=60)
    finally:
        save(fleet)
    with open(os.path.join(d, "elb.json")) as fh:
        fleet["elb"] = json.load(fh)
    for h in fleet["hosts"]:
        h["instance_id"] = fleet["elb"]["instances"][h["name"]]


APPCTL = """#!/bin/sh
# %(name)s's app (tests/bed/app.py): appctl start|stop|restart|status
ROOT=%(root)s
PIDFILE="$ROOT/app.pid"
LOG="$ROOT/app.log"
# A stopped app stays a zombie until init reaps it, which can take a second
# or two on some machines: it counts as gone.
running() {
  kill -0 "$1" 2>/dev/null && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}
start() {
  if [ -f "$PIDFILE" ] && running "$(cat "$PIDFILE")"; then return 0; fi
  rm -f "$PIDFILE"
  setsid %(python)s %(app)s --address %(address)s --port %(port)d --root "$ROOT" \
    --name %(name)s --pidfile "$PIDFILE" >>"$LOG" 2>&1 </dev/null &
  i=0
  while [ ! -f "$PIDFILE" ]; do
    i=$((i + 1))
    if [ $i -gt 200 ]; then echo "the app did not start; see $LOG" >&2; exit 1; fi
    sleep 0.05
  done
}
stop() {
  [ -f "$PIDFILE" ] || return 0
  pid=$(cat "$PIDFILE")
  kill "$pid" 2>/dev/null || { rm -f "$PIDFILE"; return 0; }
  i=0
  while running "$pid"; do
    i=$((i + 1))
    if [ $i -gt 200 ]; then kill -9 "$pid"; break; fi
    sleep 0.05
  done
  rm -f "$PIDFILE"
}
case "$1" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) [ -f "$PIDFILE" ] && running "$(cat "$PIDFILE")" ;;
  *) echo "usage: appctl start|stop|restart|status" >&2; exit 2 ;;
esac
"""


def start_apps(fleet, deploy):
    """Version 1.0 of the app on every host, run by the deploy user (who
    restarts it during a rollout)."""
    for h in fleet["hosts"]:
        write_file(h["app_ctl"], APPCTL % {
            "name": h["name"], "root": h["root"], "python": PYTHON,
            "app": os.path.join(HERE, "app.py"), "address": h["address"], "port": h["app_port"],
        }, 0o755)
        app_dir = os.path.join(h["root"], "app")
        os.makedirs(app_dir, exist_ok=True)
        version = os.path.join(app_dir, "VERSION")
        if not os.path.exists(version):
            write_file(version, "1.0\n")
        for path in (app_dir, version):
            os.chown(path, deploy.pw_uid, deploy.pw_gid)
    for h in fleet["hosts"]:
        if not port_free(h["address"], h["app_port"]) and not os.path.exists(os.path.join(h["root"], "app.pid")):
            raise BedError("%s:%d (%s's app) is already in use; try another --base-port"
                           % (h["address"], h["app_port"], h["name"]))
        run(["runuser", "-u", DEPLOY_USER, "--", h["app_ctl"], "start"])


HAPROXY_CFG = """# Generated by tests/bed/fleet.py: the fleet's load balancer.
global
    stats socket %(socket)s mode 600 level admin
    stats timeout 10s
    pidfile %(pidfile)s

defaults
    mode http
    timeout connect 1s
    timeout client 10s
    timeout server 10s
    # As an ALB: a request sent to a dead server fails, it is not retried
    # elsewhere. That is what makes an unmanaged restart visible.
    retries 0
    option http-server-close

frontend fe
    bind 127.0.0.1:%(port)d
    default_backend app

backend app
    balance roundrobin
    option httpchk GET /health
    default-server inter 250ms fall 2 rise 2
%(servers)s
"""


def haproxy_config(hp, hosts):
    """HAProxy's configuration for `hp` (socket, pidfile, port) in front of
    `hosts` (name, address, app_port); the Debian-root tests use it too."""
    # `X-Pin: hostN` sends a request to that host: the tests' way to hold
    # a connection open on one target (a long poll, a websocket).
    servers = "\n".join("    use-server %s if { req.hdr(x-pin) -m str %s }" % (h["name"], h["name"])
                        for h in hosts)
    servers += "\n" + "\n".join("    server %s %s:%d check" % (h["name"], h["address"], h["app_port"])
                                for h in hosts)
    return HAPROXY_CFG % dict(hp, servers=servers)


def start_haproxy(fleet):
    d = fleet["dir"]
    hp = {
        "cfg": os.path.join(d, "haproxy.cfg"),
        "socket": os.path.join(d, "haproxy.sock"),
        "pidfile": os.path.join(d, "haproxy.pid"),
        "log": os.path.join(d, "haproxy.out"),
        "port": fleet["app_base_port"],
    }
    hp["url"] = "http://127.0.0.1:%d/" % hp["port"]
    write_file(hp["cfg"], haproxy_config(hp, fleet["hosts"]))
    if not port_free("127.0.0.1", hp["port"]):
        raise BedError("127.0.0.1:%d (HAProxy) is already in use; try another --base-port" % hp["port"])
    rec = start_process(fleet, "haproxy", [HAPROXY, "-db", "-f", hp["cfg"]], hp["cfg"],
                        log_path=hp["log"], pidfile=hp["pidfile"])
    try:
        finish_start(rec, lambda: accepts("127.0.0.1", hp["port"]) and os.path.exists(hp["socket"]))
    finally:
        save(fleet)
    fleet["haproxy"] = hp
    # Wait until HAProxy's checks see every app UP.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(hp["socket"])
            s.sendall(b"show stat\n")
            stat = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                stat += chunk
        rows = [l.split(",") for l in stat.decode().splitlines() if l.startswith("app,host")]
        if rows and all(r[17] == "UP" for r in rows):
            return
        time.sleep(0.1)
    raise BedError("HAProxy does not see every app UP; see %s" % hp["log"])


def write_inventories(fleet):
    def ini(user):
        out = ["# Generated by tests/bed/fleet.py", "[web]"]
        for h in fleet["hosts"]:
            out.append(h["name"] + " " + " ".join("%s=%s" % kv for kv in host_vars(fleet, h, user)))
        out += ["", "[all:vars]", "bed_dir=%s" % fleet["dir"]]
        out += ["%s=%s" % kv for kv in fleet_vars(fleet)] + [""]
        return "\n".join(out)

    write_file(fleet["inventory"], ini(DEPLOY_USER))
    write_file(fleet["inventory_pw"], ini(PW_USER))

    y = ["# Generated by tests/bed/fleet.py", "all:", "  vars:",
         "    bed_dir: %s" % json.dumps(fleet["dir"])]
    y += ["    %s: %s" % (k, json.dumps(v)) for k, v in fleet_vars(fleet)]
    y += ["  children:", "    web:", "      hosts:"]
    for h in fleet["hosts"]:
        y.append("        %s:" % h["name"])
        for k, v in host_vars(fleet, h, DEPLOY_USER):
            y.append("          %s: %s" % (k, json.dumps(v)))
    write_file(fleet["inventory_yaml"], "\n".join(y) + "\n")


def up(d, hosts, base_port=DEFAULT_BASE_PORT, imds_base_port=None, no_forwarding=(),
       app=False, haproxy=False, app_base_port=None, elbv2=False, dereg_delay=5, elb_port=None,
       password_auth=()):
    """Bring up (or bring back to this shape) a fleet in d; return fleet dict."""
    t0 = time.monotonic()
    if not 1 <= hosts <= MAX_HOSTS:
        raise BedError("--hosts must be 1..%d" % MAX_HOSTS)
    imds_base_port = imds_base_port or base_port + IMDS_PORT_OFFSET
    app_base_port = app_base_port or base_port + APP_PORT_OFFSET
    for p in (base_port + 1, base_port + hosts, imds_base_port + 1, imds_base_port + hosts):
        if not 1024 <= p <= 65535:
            raise BedError("port %d out of range" % p)
    d = os.path.abspath(d)
    if any(c.isspace() for c in d):
        raise BedError("DIR must not contain whitespace: %r" % d)
    if not os.access(SSHD, os.X_OK):
        raise BedError("%s missing (run tests/bed/up, which installs openssh-server)" % SSHD)

    deploy = ensure_users()
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)  # the deploy user reads authorized_keys and writes hostI/root
    p = d
    while p != "/":
        p = os.path.dirname(p)
        if not os.stat(p).st_mode & 0o001:
            raise BedError("%s is not searchable by other users; pick another DIR" % p)

    old = load(d) or {}
    keys_dir = os.path.join(d, "keys")
    os.makedirs(keys_dir, mode=0o700, exist_ok=True)
    fleet = {
        "version": 1,
        "dir": d,
        "base_port": base_port,
        "imds_base_port": imds_base_port,
        "deploy_user": DEPLOY_USER,
        "password_user": PW_USER,
        "password_user_password": PW_PASSWORD,
        "key_passphrase": KEY_PASSPHRASE,
        "keys": {k: os.path.join(keys_dir, k) for k in CLIENT_KEYS},
        "authorized_keys": os.path.join(d, "authorized_keys"),
        "known_hosts": os.path.join(d, "known_hosts"),
        "ssh_config": os.path.join(d, "ssh_config"),
        "inventory": os.path.join(d, "inventory"),
        "inventory_yaml": os.path.join(d, "inventory.yaml"),
        "inventory_pw": os.path.join(d, "inventory-pw"),
        "app_base_port": app_base_port,
        "hosts": [plan_host(d, i, base_port, imds_base_port, app_base_port)
                  for i in range(1, hosts + 1)],
        "app": app or haproxy or elbv2,
        "processes": [],
    }

    for h in fleet["hosts"]:
        h["forwarding"] = h["name"] not in no_forwarding
        h["password_auth"] = h["name"] in password_auth
    jobs = [(fleet["keys"][k], t, pw, "rollout-bed-" + k) for k, (t, pw) in CLIENT_KEYS.items()]
    for h in fleet["hosts"]:
        os.makedirs(h["dir"], mode=0o755, exist_ok=True)
        os.makedirs(h["root"], exist_ok=True)
        os.chown(h["root"], deploy.pw_uid, deploy.pw_gid)
        os.chmod(h["root"], 0o755)
        jobs += [(h["host_keys"][t], t, "", "%s-host-%s" % (h["name"], t)) for t in HOST_KEY_TYPES]
    made = keygen_jobs(jobs)
    write_client_files(fleet)
    write_inventories(fleet)

    # Keep what still runs as wanted; stop what is stale (other shape/config).
    for h in fleet["hosts"]:
        for svc in HOST_SERVICES:
            svc.prepare(fleet, h)
    wanted = {(h["name"], s.name): (h, s) for h in fleet["hosts"] for s in HOST_SERVICES}
    stale = []
    for r in old.get("processes", []):
        key = (r.get("host"), r.get("name"))
        if key in wanted and alive(r.get("pid"), r.get("match")):
            h, s = wanted[key]
            if r.get("spec") == s.spec(fleet, h) and r.get("match") == s.match(fleet, h):
                fleet["processes"].append(r)
                s.record(fleet, h, r)
                continue
        stale.append(r)
    if stale:
        stop_pids(stale)

    kept = {(r["host"], r["name"]) for r in fleet["processes"]}
    todo = [(h, s) for key, (h, s) in wanted.items() if key not in kept]
    for h, s in todo:  # check every port before starting anything
        addr, port = s.endpoint(fleet, h)
        if addr and not port_free(addr, port):
            raise BedError("%s:%d (for %s %s) is already in use; try another --base-port"
                           % (addr, port, h["name"], s.name))
    started = []
    try:
        for h, s in todo:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(s.pidfile(fleet, h))
            rec = start_process(fleet, s.name, s.argv(fleet, h), s.match(fleet, h),
                                host=h["name"], log_path=os.path.join(h["dir"], s.name + ".out"),
                                pidfile=s.pidfile(fleet, h), daemonizes=s.daemonizes(),
                                extra={"spec": s.spec(fleet, h)})
            started.append((rec, h, s))
        for rec, h, s in started:
            finish_start(rec, lambda h=h, s=s: s.ready(fleet, h))
            s.record(fleet, h, rec)
    finally:
        # Record whatever got a PID, so down() can stop it even after a failure.
        for rec, h, s in started:
            if rec["pid"] is None:
                p = rec.pop("_popen", None)
                if p is not None:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        p.wait(timeout=5)
                rec["pid"] = read_pidfile(rec["pidfile"])
            rec.pop("_popen", None)
        save(fleet)
    if fleet["app"]:
        start_apps(fleet, deploy)
    if haproxy or elbv2:
        start_haproxy(fleet)
    if elbv2:
        start_elb(fleet, dereg_delay, elb_port)
    write_inventories(fleet)
    save(fleet)
    log("fleet of %d up in %s (%.2fs; %d keys generated, %d processes started, %d kept)"
        % (hosts, d, time.monotonic() - t0, made, len(started), len(kept)))
    return fleet


def down(d):
    """Stop every process of the fleet in d by PID, then remove d."""
    d = os.path.abspath(d)
    if not os.path.isdir(d):
        log("%s: nothing to tear down" % d)
        return []
    fleet = load(d) or {}
    records = list(reversed(fleet.get("processes", [])))
    # Also any pidfile under d (a bring-up that died before writing fleet.json),
    # accepted only when the process's cmdline names something inside d.
    for root, _dirs, files in os.walk(d):
        for f in files:
            if f.endswith(".pid"):
                pid = read_pidfile(os.path.join(root, f))
                if pid and not any(r.get("pid") == pid for r in records):
                    records.append({"pid": pid, "match": d + "/"})
    stopped = stop_pids(records)
    shutil.rmtree(d, ignore_errors=True)
    if os.path.exists(d):
        raise BedError("could not remove %s" % d)
    log("fleet in %s down (%d processes stopped)" % (d, len(stopped)))
    return stopped


def status(d):
    fleet = load(os.path.abspath(d))
    if not fleet:
        raise BedError("no fleet.json in %s" % d)
    ok = True
    for r in fleet["processes"]:
        a = alive(r["pid"], r["match"])
        ok &= a
        print("%-8s %-6s pid %-8s %s" % (r["host"], r["name"], r["pid"], "up" if a else "DOWN"))
    return ok


def print_summary(fleet):
    print("fleet: %s" % fleet_json(fleet["dir"]))
    for h in fleet["hosts"]:
        print("%-7s ssh %s@%s -p %d  (pid %d)  imds %s (pid %d)"
              % (h["name"], DEPLOY_USER, h["address"], h["port"], h["pid"],
                 h["imds_url"], h["imds_pid"]))
    print("inventory: %s  %s" % (fleet["inventory"], fleet["inventory_yaml"]))
    print("ssh: ssh -F %s host1" % fleet["ssh_config"])


def main(argv=None):
    ap = argparse.ArgumentParser(prog="fleet.py")
    sub = ap.add_subparsers(dest="cmd", required=True)
    u = sub.add_parser("up", help="bring up N hosts")
    u.add_argument("--hosts", type=int, required=True)
    u.add_argument("--dir", required=True)
    u.add_argument("--base-port", type=int, default=DEFAULT_BASE_PORT,
                   help="host i's sshd listens on port P+i (default %d)" % DEFAULT_BASE_PORT)
    u.add_argument("--imds-base-port", type=int,
                   help="host i's IMDS listens on Q+i (default P+%d)" % IMDS_PORT_OFFSET)
    u.add_argument("--no-forwarding", action="append", default=[], metavar="HOST",
                   help="this host's sshd refuses TCP and unix-socket forwarding")
    u.add_argument("--password-auth", action="append", default=[], metavar="HOST",
                   help="this host's sshd also accepts passwords (rollout-pw's)")
    u.add_argument("--app-base-port", type=int,
                   help="host i's app listens on A+i, HAProxy on 127.0.0.1:A (default P+%d)"
                   % APP_PORT_OFFSET)
    u.add_argument("--app", action="store_true", help="run the versioned app on every host")
    u.add_argument("--elbv2", action="store_true",
                   help="HAProxy driven by an ALB-like ELBv2 API (moto, via elb.py)")
    u.add_argument("--dereg-delay", type=float, default=5,
                   help="the target group's deregistration delay in seconds (default 5)")
    u.add_argument("--elb-port", type=int, help="the ELBv2 API's port (default A+%d)" % ELB_PORT_OFFSET)
    u.add_argument("--haproxy", action="store_true",
                   help="run the app and a real HAProxy in front of it")
    for name in ("down", "status"):
        sub.add_parser(name).add_argument("--dir", required=True)
    a = ap.parse_args(argv)
    try:
        if a.cmd == "up":
            print_summary(up(a.dir, a.hosts, a.base_port, a.imds_base_port, a.no_forwarding,
                             a.app, a.haproxy, a.app_base_port, a.elbv2, a.dereg_delay,
                             a.elb_port, a.password_auth))
        elif a.cmd == "down":
            down(a.dir)
        else:
            return 0 if status(a.dir) else 1
    except BedError as e:
        log("error: %s" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
