#!/usr/bin/env python3
"""The benchmark behind scripts/bench (issue 6): runs each contender RUNS
times side by side on the local fleet, prints tables of medians (min-max)
with the targets met or missed, and writes docs/benchmarks.md.

Rows: (1) 20 `command: /bin/true` tasks on 5 hosts, free and serial: 1, and
(2) a template, a copy and a shell task on 5 hosts, for rollout,
ansible-playbook (its defaults; pipelining + ControlPersist) and pyinfra;
(3) the SSH floor next to rollout's connection and per-task costs;
(4) a rolling play on 4 hosts behind the bed's ELBv2 against the waits the
load balancer imposes and against the same play written for Ansible;
(5) one task on 200 hosts (aliases of the 5 sshd servers): wall time and
the controller's peak memory (PSS of the whole process tree); (6) the
controller's peak memory (max RSS) for a `get_url` of BENCH_GET_URL_BYTES
(default 1 GiB, generated on the fly) to the 5 hosts; (7) fact gathering;
(8) `apt: upgrade=dist` with nothing to upgrade on 5 disposable Debian roots
(tests/bed/debian-root*), rollout against ansible-playbook."""
import argparse
import collections
import ctypes
import http.server
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, ".venv", "bin")
# BENCH_ROLLOUT: another build (a debug one, to check a row quickly).
ROLLOUT = os.environ.get("BENCH_ROLLOUT", os.path.join(ROOT, "target", "release", "rollout"))
ANSIBLE_ROLLING = os.path.join(ROOT, "scripts", "bench.d", "rolling-elbv2.yaml")
TASKS = 20
FANOUT = 200
FANOUT_FORKS = 50
# Row 6: bytes each host downloads (BENCH_GET_URL_BYTES; smaller for a quick run).
GET_URL_BYTES = int(os.environ.get("BENCH_GET_URL_BYTES", 1 << 30))
# ansible-playbook's slowest rows (row 1 with serial: 1, row 5) get at most
# this many runs, to keep `scripts/bench 3` within about 12 minutes.
SLOW_RUNS = 2

# What the bed imposes on a rolling host (tests/bed/elb.py): with no request
# in flight a drain ends at the next check round (every CHECK_EVERY s), and a
# registered target turns healthy after RISE passing checks CHECK_EVERY apart.
CHECK_EVERY = 0.25
RISE = 2
DRAIN_WAIT = CHECK_EVERY / 2                  # mean wait for the next round
HEALTH_WAIT = (RISE - 1) * CHECK_EVERY + CHECK_EVERY / 2
ROLL_HOSTS = 4

# ------------------------------------------------------------ measuring

Cmd = collections.namedtuple("Cmd", "argv env prepare after")


def cmd(argv, env=None, prepare=None, after=None):
    return Cmd(argv, env, prepare, after)


def busy_jiffies():
    with open("/proc/stat") as fh:
        f = fh.readline().split()
    return sum(int(x) for x in f[1:4] + f[6:9])   # user nice system irq softirq steal


def children_of(pid):
    """Every live descendant of pid (through /proc ppid links)."""
    kids = collections.defaultdict(list)
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name) as fh:
                    s = fh.read()
            except OSError:
                continue
            rest = s[s.rindex(")") + 2:].split()
            if rest[0] != "Z":
                kids[int(rest[1])].append(int(name))
    out, todo = [], [pid]
    while todo:
        for c in kids.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def pss_kb(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def become_subreaper():
    """Orphans of the contenders (ssh ControlPersist masters) stay our
    descendants, so the memory sampler still counts them."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(36, 1, 0, 0, 0)                  # PR_SET_CHILD_SUBREAPER


def reap_orphans():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def run_once(c, sample_memory=False):
    """One run: (wall seconds, machine CPU core-seconds, peak PSS MB or None)."""
    if c.prepare:
        c.prepare()
    cpu0, t0 = busy_jiffies(), time.monotonic()
    p = subprocess.Popen(c.argv, env=c.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    peak = 0
    if sample_memory:
        while p.poll() is None:
            peak = max(peak, sum(pss_kb(pid) for pid in children_of(os.getpid())))
            time.sleep(0.02)
    out = p.communicate()[0].decode(errors="replace")
    took = time.monotonic() - t0
    cpu = (busy_jiffies() - cpu0) / os.sysconf("SC_CLK_TCK")
    if c.after:
        c.after()
    reap_orphans()
    if p.returncode != 0:
        raise SystemExit("bench: %s failed (%d):\n%s" % (" ".join(c.argv), p.returncode, out[-3000:]))
    return took, cpu, (peak / 1024 if sample_memory else None)


def measure(runs, c):
    """RUNS runs of c: {"wall": [...], "cpu": [...]}."""
    samples = [run_once(c) for _ in range(runs)]
    return {"wall": [s[0] for s in samples], "cpu": [s[1] for s in samples]}


def peak_memory(runs, c):
    return [run_once(c, sample_memory=True)[2] for _ in range(runs)]


def med(xs):
    return statistics.median(xs)


def fmt(xs, unit="s", scale=1.0, digits=3):
    xs = [x * scale for x in xs]
    f = "%%.%df" % digits
    return ("%s %s (%s–%s)" % (f, unit, f, f)) % (med(xs), min(xs), max(xs))


def ms(xs):
    return fmt(xs, "ms", 1000, 2)


def verdict(ok):
    return "met" if ok else "**missed**"


# ------------------------------------------------------------ contenders

class Bench:
    def __init__(self, work, runs, ansible_runs):
        self.work, self.runs, self.ansible_runs = work, runs, ansible_runs
        self.slow_runs = min(ansible_runs, SLOW_RUNS)
        self.bed = os.path.join(work, "bed")
        self.fleet = json.load(open(os.path.join(self.bed, "fleet.json")))
        self.inv = os.path.join(self.bed, "inventory")
        self.ssh_config = os.path.join(self.bed, "ssh_config")
        self.commands = collections.OrderedDict()   # label -> command line, for the doc

    def path(self, name):
        return os.path.join(self.work, name)

    def write(self, name, text):
        with open(self.path(name), "w") as fh:
            fh.write(text)
        return self.path(name)

    def note(self, label, c):
        """Records c's exact command line (with the environment it sets) for the doc."""
        env = ["%s=%s" % (k, self.shell_word(v)) for k, v in sorted((c.env or {}).items())
               if k != "PATH" and os.environ.get(k) != v]
        self.commands.setdefault(label, " ".join(env + [self.shell_word(x) for x in c.argv]))
        return c

    def shell_word(self, word):
        """word for a shell, with $WORK for the temporary directory."""
        word = word.replace(self.work, "$WORK").replace(ROOT + "/", "")
        word = re.sub(r"\$WORK/cp\.\w+", "$WORK/cp.RUN", word)   # a fresh directory per run
        return word if shlex.quote(word) == word or word.startswith("$WORK") and " " not in word \
            else '"%s"' % word

    def rollout(self, playbook, inv=None, extra=(), env=None, prepare=None):
        argv = [ROLLOUT, "play", playbook, "-i", inv or self.inv, "--ssh-config", self.ssh_config] + list(extra)
        return cmd(argv, env, prepare)

    def ansible_env(self, config, known_hosts, control_dir):
        """config "defaults": ansible-core as installed, only told where the
        bed's host keys are. "fast": pipelining, ControlPersist without
        compression (loopback) and a fixed interpreter (no discovery)."""
        env = dict(os.environ, PATH=VENV + os.pathsep + os.environ.get("PATH", ""),
                   ANSIBLE_SSH_COMMON_ARGS="-o UserKnownHostsFile=%s" % known_hosts,
                   ANSIBLE_SSH_CONTROL_PATH_DIR=control_dir,
                   ANSIBLE_NOCOLOR="1")
        if config == "fast":
            env.update(ANSIBLE_PIPELINING="True",
                       ANSIBLE_SSH_ARGS="-o ControlMaster=auto -o ControlPersist=60s",
                       ANSIBLE_PYTHON_INTERPRETER="/usr/bin/python3")
        return env

    def ansible(self, playbook, config, inv=None, forks=5, extra=(), env=None, known_hosts=None, prepare=None):
        """Each run gets its own ControlPath directory; the masters it
        leaves behind are closed after the run (ssh -O exit), so that no run
        reuses another's connections."""
        control_dir = tempfile.mkdtemp(prefix="cp.", dir=self.work)
        e = self.ansible_env(config, known_hosts or self.fleet["known_hosts"], control_dir)
        e.update(env or {}, ANSIBLE_FORKS=str(forks))
        argv = [os.path.join(VENV, "ansible-playbook"), "-i", inv or self.inv, playbook] + list(extra)

        def after():
            close_masters(control_dir)
        return cmd(argv, e, prepare, after)

    def pyinfra(self, deploy, serial=False, prepare=None):
        argv = [os.path.join(VENV, "pyinfra"), "-y", "--parallel", "5"] + (["--serial"] if serial else [])
        return cmd(argv + [self.pyinfra_inventory(), deploy], None, prepare)

    def pyinfra_inventory(self):
        hosts = [(h["address"], {"ssh_port": h["port"], "ssh_user": self.fleet["deploy_user"],
                                 "ssh_key": self.fleet["keys"]["id_ed25519"],
                                 "ssh_known_hosts_file": self.fleet["known_hosts"],
                                 "bed_root": h["root"]}) for h in self.fleet["hosts"]]
        return self.write("pyinfra_inventory.py", "web = %r\n" % (hosts,))


def close_masters(control_dir):
    if not os.path.isdir(control_dir):   # a run that never connected (removed after an earlier run)
        return
    for name in os.listdir(control_dir):
        sock = os.path.join(control_dir, name)
        subprocess.run(["ssh", "-O", "exit", "-o", "ControlPath=" + sock, "bench"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shutil.rmtree(control_dir, ignore_errors=True)


def play(hosts, tasks, serial=False, vars=None):
    lines = ["- hosts: %s" % hosts, "  gather_facts: false"] + (["  serial: 1"] if serial else [])
    lines += ["  vars: %s" % json.dumps(vars)] if vars else []
    return "\n".join(lines + ["  tasks:"] + ["    " + t for t in tasks]) + "\n"


def pyinfra_deploy(ops):
    return "from pyinfra import host\nfrom pyinfra.operations import files, server\n" + "\n".join(ops) + "\n"


# ------------------------------------------------------------ rows 1 and 2

def compare_row(b, label, playbook, deploy, serial=False, prepare=None, ansible_runs=None):
    """rollout vs ansible (defaults, fast) vs pyinfra on one playbook."""
    ansible_runs = ansible_runs or b.ansible_runs

    def note(who, c):
        return b.note("%s: %s" % (label, who), c)
    r = measure(b.runs, note("rollout", b.rollout(playbook, prepare=prepare)))
    an_default = measure(ansible_runs, note("ansible-playbook, defaults", b.ansible(playbook, "defaults", prepare=prepare)))
    an_fast = measure(ansible_runs, note("ansible-playbook, pipelining + ControlPersist", b.ansible(playbook, "fast", prepare=prepare)))
    py = measure(b.runs, note("pyinfra", b.pyinfra(deploy, serial, prepare)))
    return {"label": label, "rollout": r, "ansible_defaults": an_default, "ansible_fast": an_fast, "pyinfra": py}


def row_true(b, serial):
    pb = b.write("true-%s.yaml" % ("serial" if serial else "free"),
                 play("web", ["- command: /bin/true"] * TASKS, serial))
    deploy = b.write("true.py", pyinfra_deploy(
        "server.shell(name='t%d', commands=['/bin/true'])" % i for i in range(TASKS)))
    label = "%d × `command: /bin/true` on 5 hosts%s" % (TASKS, ", serial: 1" if serial else "")
    return compare_row(b, label, pb, deploy, serial, ansible_runs=b.slow_runs if serial else None)


def row_files(b):
    tpl = b.write("bench.conf.j2", "# rendered for the benchmark\nversion={{ version }}\nroot={{ bed_root }}\n")
    src = b.write("bench.motd", "".join("line %d of a file copied by the benchmark\n" % i for i in range(40)))
    shell = "echo $(hostname) $(id -un) | tr a-z A-Z | wc -c"
    pb = b.write("files.yaml", play("web", [
        "- template: { src: %s, dest: '{{ bed_root }}/bench.conf', mode: '0644' }" % tpl,
        "- copy: { src: %s, dest: '{{ bed_root }}/bench.motd', mode: '0644' }" % src,
        "- shell: %s" % json.dumps(shell),
    ], vars={"version": "2.0"}))
    deploy = b.write("files.py", pyinfra_deploy([
        "files.template(name='template', src=%r, dest=host.data.bed_root + '/bench.conf', mode='644',"
        " version='2.0', bed_root=host.data.bed_root)" % tpl,
        "files.put(name='copy', src=%r, dest=host.data.bed_root + '/bench.motd', mode='644')" % src,
        "server.shell(name='shell', commands=[%r])" % shell,
    ]))

    def fresh():   # every run finds the files absent, so every tool changes them
        for h in b.fleet["hosts"]:
            for f in ("bench.conf", "bench.motd"):
                with_suppress(os.unlink, os.path.join(h["root"], f))
    return compare_row(b, "template + copy + shell on 5 hosts", pb, deploy, prepare=fresh)


def with_suppress(f, *a):
    try:
        f(*a)
    except OSError:
        pass


def compare_table(rows):
    out = ["| row | rollout | ansible-playbook, defaults | ansible-playbook, pipelining + ControlPersist | pyinfra"
           " | vs ansible (pipelining) ≥ 25× | vs pyinfra ≥ 4× |",
           "|---|---|---|---|---|---|---|"]
    targets = []
    for row in rows:
        r = med(row["rollout"]["wall"])
        x_an = med(row["ansible_fast"]["wall"]) / r
        x_py = med(row["pyinfra"]["wall"]) / r
        out.append("| %s | %s | %s | %s | %s | %.0f× %s | %.1f× %s |" % (
            row["label"], fmt(row["rollout"]["wall"]), fmt(row["ansible_defaults"]["wall"]),
            fmt(row["ansible_fast"]["wall"]), fmt(row["pyinfra"]["wall"]),
            x_an, verdict(x_an >= 25), x_py, verdict(x_py >= 4)))
        targets.append(x_an >= 25 and x_py >= 4)
    out += ["", "Machine CPU during each run (all processes, both cores; the hosts' sshd and"
            " remote commands run on this machine too), median core-seconds:", "",
            "| row | rollout | ansible, defaults | ansible, pipelining | pyinfra |", "|---|---|---|---|---|"]
    for row in rows:
        out.append("| %s | %s |" % (row["label"], " | ".join(
            "%.2f" % med(row[k]["cpu"]) for k in ("rollout", "ansible_defaults", "ansible_fast", "pyinfra"))))
    return "\n".join(out), targets


# ------------------------------------------------------------ row 3: the floor

def repeat(n, c):
    """n runs of c, each timed on its own: the list of seconds."""
    return [run_once(c)[0] for _ in range(n)]


def row_floor(b):
    n = 10 * b.runs
    ssh = ["ssh", "-F", b.ssh_config, "-o", "ControlMaster=no"]
    fresh_kex = repeat(n, b.note("OpenSSH, curve25519", cmd(ssh + ["-o", "KexAlgorithms=curve25519-sha256", "host1", "/bin/true"])))
    fresh_default = repeat(n, b.note("OpenSSH, default kex", cmd(ssh + ["host1", "/bin/true"])))

    control = b.path("floor.sock")
    mux = ["ssh", "-F", b.ssh_config, "-o", "ControlPath=" + control]
    master = cmd(mux + ["-o", "ControlMaster=yes", "-o", "ControlPersist=yes", "-fN", "host1"])
    subprocess.run(b.note("OpenSSH ControlMaster (started once)", master).argv, check=True)
    try:
        cm_exec = repeat(5 * n, b.note("OpenSSH ControlMaster exec", cmd(mux + ["host1", "/bin/true"])))
        piped = []
        for _ in range(b.runs):
            piped.append((shell_feed(mux, 100) - shell_feed(mux, 0)) / 100)
    finally:
        subprocess.run(mux + ["-O", "exit", "host1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    b.commands.setdefault("OpenSSH piped shell", "printf '/bin/true\\n%.0s' $(seq 100) | ssh -F $WORK/bed/ssh_config -o ControlPath=$WORK/floor.sock host1 /bin/sh")

    one = b.write("one.yaml", play("host1", ["- command: /bin/true"]))
    no_ssh = b.write("no-ssh.yaml", play("host1", ["- debug: { msg: no connection needed }"]))
    t20 = b.write("true-20.yaml", play("web", ["- command: /bin/true"] * TASKS))
    t40 = b.write("true-40.yaml", play("web", ["- command: /bin/true"] * (2 * TASKS)))
    r_one = repeat(n, b.note("rollout, one task on one host", b.rollout(one)))
    r_none = repeat(n, b.note("rollout, no connection", b.rollout(no_ssh)))
    # 20- and 40-task runs alternate, so drift (other load, caches) hits
    # both alike; each pair gives one marginal figure.
    c20, c40 = b.note("rollout, 20 tasks", b.rollout(t20)), b.note("rollout, 40 tasks", b.rollout(t40))
    pairs = [(run_once(c20)[0], run_once(c40)[0]) for _ in range(n)]
    r20, r40 = [p[0] for p in pairs], [p[1] for p in pairs]
    marginal = [(b40 - b20) / (TASKS * 5) for b20, b40 in pairs]
    return {"fresh_kex": fresh_kex, "fresh_default": fresh_default, "cm_exec": cm_exec, "piped": piped,
            "r_one": r_one, "r_none": r_none, "r_connect": [x - med(r_none) for x in r_one],
            "r40": r40, "r20": r20, "marginal": marginal, "whole": [x / (TASKS * 5) for x in r20]}


def shell_feed(mux, n):
    """Seconds to pipe n `/bin/true` lines into one remote /bin/sh."""
    t0 = time.monotonic()
    subprocess.run(mux + ["host1", "/bin/sh"], input=b"/bin/true\n" * n, check=True)
    return time.monotonic() - t0


def floor_table(f):
    conn_ok = med(f["r_one"]) <= med(f["fresh_kex"])
    # A marginal at or below zero means noise swamped the measurement.
    task_ok = 0 < med(f["marginal"]) <= 0.003
    rows = [
        ("OpenSSH: fresh connection + exec, curve25519-sha256 (rollout's key exchange)", fmt(f["fresh_kex"]), ""),
        ("OpenSSH: fresh connection + exec, default key exchange (sntrup761x25519)", fmt(f["fresh_default"]), ""),
        ("OpenSSH: one exec over an open ControlMaster", ms(f["cm_exec"]), ""),
        ("OpenSSH: per command, 100 commands piped into one remote /bin/sh", ms(f["piped"]), ""),
        ("rollout: one `command` task on one host, whole run (process start, parse, connect, auth, shell, exec)",
         fmt(f["r_one"]), "≤ OpenSSH curve25519: %s" % verdict(conn_ok)),
        ("rollout: the same play with a `debug` task instead (no connection is opened)", fmt(f["r_none"]), ""),
        ("rollout: connection cost = the difference (connect + auth + remote shell + first exec)", ms(f["r_connect"]), ""),
        ("rollout: per task per host, marginal: (40 tasks − 20 tasks) / (20 × 5)", ms(f["marginal"]),
         "≤ 3 ms: %s" % verdict(task_ok)),
        ("rollout: per task per host, whole 20-task run / (20 × 5)", ms(f["whole"]), ""),
    ]
    out = ["| floor | time | target |", "|---|---|---|"] + ["| %s | %s | %s |" % r for r in rows]
    return "\n".join(out), [conn_ok, task_ok]


# ------------------------------------------------------------ row 4: rolling

def row_rolling(b):
    roll = os.path.join(b.work, "roll")
    fleet = json.load(open(os.path.join(roll, "fleet.json")))
    env = dict(os.environ, AWS_ENDPOINT_URL=fleet["elb"]["endpoint"], AWS_ACCESS_KEY_ID="testing",
               AWS_SECRET_ACCESS_KEY="testing", AWS_REGION="us-east-1", AWS_DEFAULT_REGION="us-east-1",
               AWS_EC2_METADATA_DISABLED="true", AWS_CONFIG_FILE="/dev/null",
               AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    inv = os.path.join(roll, "inventory")
    versions = iter(range(1, 1000))

    def version():   # each run deploys a new version
        return ["-e", "version=bench-%d" % next(versions)]

    r = b.note("rollout, rolling", cmd(
        [ROLLOUT, "play", os.path.join(ROOT, "playbooks", "site.yaml"), "-i", inv,
         "--ssh-config", os.path.join(roll, "ssh_config")], env))
    a = b.ansible(ANSIBLE_ROLLING, "fast", inv=inv, env=env, known_hosts=fleet["known_hosts"])
    b.note("ansible-playbook, rolling", a)
    rollout_t = [run_once(r._replace(argv=r.argv + version()))[0] for _ in range(b.runs)]
    ansible_t = [run_once(a._replace(argv=a.argv + version()))[0] for _ in range(b.ansible_runs)]
    return {"rollout": rollout_t, "ansible": ansible_t}


def rolling_table(r):
    floor = ROLL_HOSTS * (DRAIN_WAIT + HEALTH_WAIT)
    over = [(t - floor) / ROLL_HOSTS for t in r["rollout"]]
    over_an = [(t - floor) / ROLL_HOSTS for t in r["ansible"]]
    ok = med(over) <= 1.0
    out = ["| 4 hosts, serial: 1, behind the bed's ELBv2 | total | over the floor, per host | target |",
           "|---|---|---|---|",
           "| floor: the waits the load balancer imposes (%.3f s drain + %.3f s health checks per host, see below)"
           " | %.2f s | | |" % (DRAIN_WAIT, HEALTH_WAIT, floor),
           "| rollout (`playbooks/site.yaml`) | %s | %s | ≤ 1 s/host: %s |" % (fmt(r["rollout"]), fmt(over), verdict(ok)),
           "| ansible-playbook (`scripts/bench.d/rolling-elbv2.yaml`, pipelining + ControlPersist)"
           " | %s | %s | rollout %.1f× faster |" % (fmt(r["ansible"]), fmt(over_an),
                                                 med(r["ansible"]) / med(r["rollout"]))]
    return "\n".join(out), [ok]


# ------------------------------------------------------------ row 5: fan-out

def row_fanout(b):
    hosts = b.fleet["hosts"]
    lines = ["[web]"]
    for i in range(FANOUT):
        h = hosts[i % len(hosts)]
        # ansible_control_path: one master per alias (Ansible's default path
        # hashes address, port and user, which the aliases share).
        lines.append("n%03d ansible_host=%s ansible_port=%d ansible_user=%s ansible_ssh_private_key_file=%s"
                     " ansible_control_path=%%(directory)s/n%03d"
                     % (i + 1, h["address"], h["port"], b.fleet["deploy_user"], b.fleet["keys"]["id_ed25519"], i + 1))
    inv = b.write("inventory-200", "\n".join(lines) + "\n")
    pb = b.write("fanout.yaml", play("web", ["- command: /bin/true"]))
    r = b.note("rollout, 200 hosts", b.rollout(pb, inv, ["-f", str(FANOUT_FORKS)]))
    a = b.note("ansible-playbook, 200 hosts", b.ansible(pb, "fast", inv=inv, forks=FANOUT_FORKS))
    return {"rollout": measure(b.runs, r)["wall"], "ansible": measure(b.slow_runs, a)["wall"],
            "rollout_mb": peak_memory(1, r), "ansible_mb": peak_memory(1, a)}


def fanout_table(f):
    x = med(f["ansible"]) / med(f["rollout"])
    ok_x, ok_mb = x >= 10, med(f["rollout_mb"]) < 150
    out = ["| one task on %d hosts, %d forks | wall time | controller peak memory (PSS of the process tree) | target |"
           % (FANOUT, FANOUT_FORKS), "|---|---|---|---|",
           "| rollout | %s | %s | < 150 MB: %s |" % (fmt(f["rollout"]), fmt(f["rollout_mb"], "MB", 1, 1), verdict(ok_mb)),
           "| ansible-playbook, pipelining + ControlPersist | %s | %s | rollout %.1f× faster (≥ 10×): %s |"
           % (fmt(f["ansible"]), fmt(f["ansible_mb"], "MB", 1, 1), x, verdict(ok_x))]
    return "\n".join(out), [ok_x, ok_mb]


# ------------------------------------------------------------ row 6

class Generator(http.server.BaseHTTPRequestHandler):
    """GET /N: N bytes made on the fly (a 1 MiB block repeated)."""
    block = bytes(i % 251 for i in range(1 << 20))

    def do_GET(self):
        left = int(self.path.strip("/"))
        self.send_response(200)
        self.send_header("Content-Length", str(left))
        self.end_headers()
        while left > 0:
            chunk = self.block[:min(left, len(self.block))]
            self.wfile.write(chunk)
            left -= len(chunk)

    def log_message(self, *a):
        pass


def run_max_rss(c):
    """One run: (wall seconds, the process' own max RSS in MB, from wait4)."""
    if c.prepare:
        c.prepare()
    t0 = time.monotonic()
    with tempfile.TemporaryFile() as log:
        p = subprocess.Popen(c.argv, env=c.env, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        took = time.monotonic() - t0
        if p.returncode != 0:
            log.seek(0)
            raise SystemExit("bench: %s failed (%d):\n%s"
                             % (" ".join(c.argv), p.returncode, log.read()[-3000:].decode(errors="replace")))
    return took, usage.ru_maxrss / 1024


def row_get_url(b):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Generator)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    files = [os.path.join(h["root"], "bench.bin") for h in b.fleet["hosts"]]

    def remove():
        for f in files:
            with_suppress(os.remove, f)
    pb = b.write("get-url.yaml", play("web", [
        "- get_url: { url: 'http://127.0.0.1:%d/%d', dest: '{{ bed_root }}/bench.bin', timeout: 30 }"
        % (server.server_address[1], GET_URL_BYTES)]))
    r = b.note("rollout, get_url to 5 hosts", b.rollout(pb, prepare=remove))
    samples = [run_max_rss(r) for _ in range(b.runs)]
    sizes = {os.path.getsize(f) for f in files}
    remove()
    server.shutdown()
    if sizes != {GET_URL_BYTES}:
        raise SystemExit("bench: get_url wrote %s bytes, not %d" % (sizes, GET_URL_BYTES))
    return {"wall": [s[0] for s in samples], "mb": [s[1] for s in samples]}


def get_url_table(g):
    size = GET_URL_BYTES / (1 << 20)
    ok = med(g["mb"]) < 100
    out = ["| `get_url` of %s to 5 hosts (generated on the fly) | wall time | controller peak memory (max RSS) "
           "| target |" % ("%g GiB" % (size / 1024) if size >= 1024 else "%g MiB" % size), "|---|---|---|---|",
           "| rollout | %s | %s | < 100 MB: %s |" % (fmt(g["wall"]), fmt(g["mb"], "MB", 1, 1), verdict(ok))]
    return "\n".join(out), [ok]


# ------------------------------------------------------------ row 7: facts

def row_facts(b):
    """Fact gathering: the same one-command play with gathering on and
    off (both connect, so the difference is gathering alone), on 5 hosts
    at once and with serial: 1 (where the difference over 5 is what
    gathering adds per host)."""
    def pb(gather, serial):
        return b.write("facts-%s-%s.yaml" % ("on" if gather else "off", "serial" if serial else "free"),
                       "- hosts: web\n  gather_facts: %s\n%s  tasks:\n"
                       "    - command: /bin/true\n"
                       % ("true" if gather else "false", "  serial: 1\n" if serial else ""))
    out = {}
    for serial in (False, True):
        for gather in (True, False):
            key = ("serial" if serial else "free", gather)
            label = "%s, gather_facts: %s%s" % ("%s", str(gather).lower(), ", serial: 1" if serial else "")
            out[("rollout",) + key] = measure(b.runs, b.note(label % "rollout", b.rollout(pb(gather, serial))))
            out[("ansible",) + key] = measure(b.slow_runs, b.note(
                label % "ansible-playbook (pipelining)", b.ansible(pb(gather, serial), "fast")))
    return out


def facts_table(f):
    def added(who, mode):
        on, off = med(f[(who, mode, True)]["wall"]), med(f[(who, mode, False)]["wall"])
        return on - off
    per_host = added("rollout", "serial") / 5
    ok = per_host < 0.030
    out = ["| gather facts on 5 hosts (`setup`, all subsets), then `command: /bin/true` | gathering on | gathering off | added "
           "| added per host (serial: 1, ÷ 5) | target |", "|---|---|---|---|---|---|"]
    for who, name in (("rollout", "rollout"), ("ansible", "ansible-playbook, pipelining + ControlPersist")):
        for mode in ("free", "serial"):
            row = [name + (", serial: 1" if mode == "serial" else ", 5 hosts at once"),
                   fmt(f[(who, mode, True)]["wall"]), fmt(f[(who, mode, False)]["wall"]),
                   "%.1f ms" % (added(who, mode) * 1000), "", ""]
            if mode == "serial":
                row[4] = "%.1f ms" % (added(who, mode) / 5 * 1000)
                row[5] = ("< 30 ms: %s" % verdict(ok)) if who == "rollout" else \
                    "rollout %.0f× less" % (added(who, mode) / max(added("rollout", mode), 1e-6))
            out.append("| %s |" % " | ".join(row))
    out.append("\nGathering is one exec of one POSIX shell script per host (no Python on the host); "
               "`setup`'s unit test `gathering_is_one_exec` counts it.")
    return "\n".join(out), [ok]


DEBIAN_ROOTS = 5


def debian_roots(b):
    """Starts DEBIAN_ROOTS disposable Debian roots (overlays of the cached
    debootstrap, tests/bed/debian-root*) on 127.0.0.171+, ports 2541+;
    returns (inventory, ssh_config, known_hosts, processes)."""
    bed = os.path.join(ROOT, "tests", "bed")
    cache = os.path.join(ROOT, "target", "debian-root-cache")
    subprocess.run([os.path.join(bed, "debian-root"), cache], check=True, stdout=subprocess.DEVNULL)
    d = b.path("debian")
    os.makedirs(d, exist_ok=True)
    key = os.path.join(d, "id_ed25519")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
    with open(os.path.join(cache, "etc", "ssh", "ssh_host_ed25519_key.pub")) as fh:
        host_key = " ".join(fh.read().split()[:2])
    procs, inv, known = [], ["[debian]"], []
    for i in range(1, DEBIAN_ROOTS + 1):
        addr, port, root = "127.0.0.%d" % (170 + i), 2540 + i, os.path.join(d, "root%d" % i)
        subprocess.run([os.path.join(bed, "debian-root-prepare"), root, key + ".pub"], check=True)
        procs.append(subprocess.Popen([os.path.join(bed, "debian-root-sshd"), cache, root, addr, str(port)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        inv.append("debian%d ansible_host=%s ansible_port=%d ansible_user=root "
                   "ansible_ssh_private_key_file=%s" % (i, addr, port, key))
        known.append("[%s]:%d %s" % (addr, port, host_key))
    known_hosts = b.write("debian/known_hosts", "\n".join(known) + "\n")
    ssh_config = b.write("debian/ssh_config", "Host *\n  UserKnownHostsFile %s\n  GlobalKnownHostsFile /dev/null\n"
                         "  StrictHostKeyChecking yes\n  IdentitiesOnly yes\n" % known_hosts)
    return b.write("debian/inventory", "\n".join(inv) + "\n"), ssh_config, known_hosts, procs


def row_apt(b):
    """`apt: upgrade=dist` with nothing to upgrade on 5 Debian roots, after
    one `update_cache` run: what a patch window costs when a host is
    already patched."""
    inv, ssh_config, known_hosts, procs = debian_roots(b)
    try:
        for i in range(1, DEBIAN_ROOTS + 1):
            wait_port("127.0.0.%d" % (170 + i), 2540 + i)
        prime = b.write("apt-update.yaml", play("debian", ["- apt: {update_cache: true}"]))
        subprocess.run([ROLLOUT, "play", prime, "-i", inv, "--ssh-config", ssh_config],
                       check=True, stdout=subprocess.DEVNULL)
        pb = b.write("apt-upgrade.yaml", play("debian", ["- apt: {upgrade: dist}"]))
        label = "apt: upgrade=dist on 5 Debian roots, %s"
        rollout = cmd([ROLLOUT, "play", pb, "-i", inv, "--ssh-config", ssh_config])
        ansible = b.ansible(pb, "fast", inv=inv, known_hosts=known_hosts)
        # A row measures only runs that worked: every host ok, none changed.
        for c in (rollout, ansible):
            out = subprocess.run(c.argv, env=c.env, capture_output=True, text=True)
            c.after and c.after()
            recaps = [l for l in out.stdout.splitlines() if re.match(r"^debian\d+\s+: ok=1\s+changed=0 ", l)]
            if out.returncode != 0 or len(recaps) != DEBIAN_ROOTS:
                raise SystemExit("bench: row 8 run failed:\n%s\n%s" % (out.stdout, out.stderr))
        return {
            "rollout": measure(b.runs, b.note(label % "rollout", rollout)),
            "ansible": measure(b.ansible_runs, b.note(label % "ansible-playbook (pipelining)", ansible)),
        }
    finally:
        for p in procs:
            p.kill()
            p.wait()


def wait_port(addr, port, bound=15.0):
    import socket
    started = time.monotonic()
    while True:
        try:
            socket.create_connection((addr, port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() - started > bound:
                raise
            time.sleep(0.05)


def apt_table(r):
    ratio = med(r["ansible"]["wall"]) / max(med(r["rollout"]["wall"]), 1e-6)
    out = ["| 5 Debian roots, `apt: upgrade=dist`, nothing to upgrade | rollout | ansible-playbook, "
           "pipelining + ControlPersist | rollout faster |", "|---|---|---|---|",
           "| wall time | %s | %s | %.1f× |" % (fmt(r["rollout"]["wall"]), fmt(r["ansible"]["wall"]), ratio),
           "\nEach root is an overlay of one cached debootstrap with sshd in its own mount and PID "
           "namespaces (`tests/bed/debian-root-sshd`); the cache was updated once before. rollout's `apt` "
           "reads dpkg's database before and after `apt-get dist-upgrade`; Ansible's loads python-apt's cache."]
    return "\n".join(out), []


# ------------------------------------------------------------ the doc

def commands_section(b):
    out = ["```sh"]
    for label, line in b.commands.items():
        out.append("# %s\n%s" % (label, line))
    out.append("```")
    return "\n".join(out)


INPUTS = (("true-free.yaml", None), ("true.py", None), ("files.yaml", None), ("files.py", None),
          ("bench.conf.j2", None), ("inventory-200", 3))


def inputs_section(b):
    """The generated playbooks and deploys, as the runs used them."""
    out = []
    for name, lines in INPUTS:
        with open(b.path(name)) as fh:
            text = fh.read().replace(b.work, "$WORK").replace(ROOT + "/", "")
        if lines:
            text = "".join(text.splitlines(True)[:lines]) + "…\n"
        out.append("`$WORK/%s`%s:\n\n```\n%s```" % (name, " (first lines)" if lines else "", text))
    return "\n\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--ansible-runs", type=int, help="runs of ansible-playbook (default: RUNS)")
    ap.add_argument("--rows", default="1,2,3,4,5,6,7,8", help="which rows to run (for development)")
    a = ap.parse_args()
    become_subreaper()
    load_at_start = load_average()
    b = Bench(a.work, a.runs, a.ansible_runs or a.runs)
    rows = set(a.rows.split(","))
    sections, targets = [], []
    row1 = [row_true(b, False), row_true(b, True)] if "1" in rows else []
    if "1" in rows or "2" in rows:
        table, t = compare_table(row1 + ([row_files(b)] if "2" in rows else []))
        sections.append(("Rows 1 and 2: the same playbook, rollout against ansible-playbook and pyinfra", table))
        targets += t
    for key, name, measure_row, table_of in (
            ("3", "Row 3: the floor — what SSH itself allows, and rollout next to it",
             lambda: row_floor(b), floor_table),
            ("4", "Row 4: a rolling play behind the load balancer", lambda: row_rolling(b), rolling_table),
            ("5", "Row 5: fan-out", lambda: row_fanout(b), fanout_table),
            ("6", "Row 6: a large download", lambda: row_get_url(b), get_url_table),
            ("7", "Row 7: gathering facts", lambda: row_facts(b), facts_table),
            ("8", "Row 8: patching, nothing to patch", lambda: row_apt(b), apt_table)):
        if key in rows:
            table, t = table_of(measure_row())
            sections.append((name, table))
            targets += t
    text = "\n\n".join("### %s\n\n%s" % s for s in sections)
    print(text)
    print("\nbench: %d of %d targets met" % (sum(targets), len(targets)))
    if rows == {"1", "2", "3", "4", "5", "6", "7", "8"}:
        write_doc(b, text, targets, a, load_at_start)
    return 0


def bench_command(a):
    return "%d" % a.runs if a.ansible_runs in (None, a.runs) else "%d %d" % (a.runs, a.ansible_runs)


def load_average():
    with open("/proc/loadavg") as fh:
        return fh.read().split()[0]


def load_note(at_start):
    # The end's figure is the benchmark's own last row (ansible-playbook's
    # 50 forks); the start's tells whether anything else was running.
    return "load average %s when the benchmark started (%s when it ended)" % (at_start, load_average())


def write_doc(b, text, targets, a, load_at_start):
    with open(os.path.join(ROOT, "scripts", "bench.d", "method.md")) as fh:
        method = fh.read()
    doc = os.path.join(ROOT, "docs", "benchmarks.md")
    with open(doc, "w") as fh:
        fh.write("# Benchmarks\n\nRegenerated by `scripts/bench %s` on %s: each figure is the median "
                 "(min–max) of %d runs; of ansible-playbook %d runs, %d in its slowest rows (row 1 with "
                 "`serial: 1`, row 5) and 1 sampled run for peak memory; %d of %d targets met. "
                 "The machine: %d cores, %s.\n\n%s\n\n"
                 "## Exact commands\n\n`$WORK` is the benchmark's temporary directory "
                 "(`$WORK/bed`: the 5-host fleet, `$WORK/roll`: the 4-host ELBv2 fleet); every command "
                 "runs from the repository with `.venv/bin` first on `PATH`.\n\n%s\n\n"
                 "## Generated inputs\n\n%s\n%s"
                 % (bench_command(a), time.strftime("%Y-%m-%d"), b.runs, b.ansible_runs, b.slow_runs,
                    sum(targets), len(targets), os.cpu_count(), load_note(load_at_start),
                    text, commands_section(b), inputs_section(b), method))


if __name__ == "__main__":
    sys.exit(main())
