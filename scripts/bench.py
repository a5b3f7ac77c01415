#!/usr/bin/env python3
"""The benchmark behind scripts/bench: runs each contender RUNS times on the
local fleet, prints a table of medians (min-max) and writes
docs/benchmarks.md. Rows: 20 `command: /bin/true` tasks on 5 hosts (free
and serial: 1) for rollout, ansible-playbook (defaults; pipelining and
ControlPersist) and pyinfra; the SSH floor (a fresh OpenSSH connection, one
exec over a ControlMaster, commands piped into one remote shell) next to
rollout's per-task-per-host cost."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, ".venv", "bin")
TASKS = 20


def timed(argv, env=None, cwd=None):
    t0 = time.monotonic()
    p = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    took = time.monotonic() - t0
    if p.returncode != 0:
        raise SystemExit("bench: %s failed (%d):\n%s" % (" ".join(argv), p.returncode, p.stdout[-2000:]))
    return took


def measure(runs, argv, env=None, cwd=None, prepare=None):
    times = []
    for _ in range(runs):
        if prepare:
            prepare()
        times.append(timed(argv, env, cwd))
    return times


def fmt(times):
    return "%.3f s (%.3f–%.3f)" % (statistics.median(times), min(times), max(times))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    bed = os.path.join(a.work, "bed")
    fleet = json.load(open(os.path.join(bed, "fleet.json")))
    inv = os.path.join(bed, "inventory")
    ssh_config = os.path.join(bed, "ssh_config")
    rollout = os.path.join(ROOT, "target", "release", "rollout")

    def playbook(serial):
        path = os.path.join(a.work, "true-%s.yaml" % ("serial" if serial else "free"))
        lines = ["- hosts: web", "  gather_facts: false"]
        if serial:
            lines.append("  serial: 1")
        lines.append("  tasks:")
        lines += ["    - command: /bin/true"] * TASKS
        open(path, "w").write("\n".join(lines) + "\n")
        return path

    # Ansible: the same inventory and keys; host keys from the fleet's known_hosts.
    def ansible_env(fast):
        env = dict(os.environ)
        env.update({
            "ANSIBLE_HOST_KEY_CHECKING": "False",
            "ANSIBLE_SSH_ARGS": "-F %s -o UserKnownHostsFile=%s%s" % (
                ssh_config, fleet["known_hosts"],
                " -o ControlMaster=auto -o ControlPersist=60s" if fast else " -o ControlMaster=no"),
            "ANSIBLE_PIPELINING": "True" if fast else "False",
            "ANSIBLE_FORKS": "5",
            "ANSIBLE_PYTHON_INTERPRETER": "/usr/bin/python3",
            "PATH": VENV + os.pathsep + env.get("PATH", ""),
        })
        return env

    # pyinfra: a deploy of 20 server.shell operations.
    pyinfra_deploy = os.path.join(a.work, "pyinfra_deploy.py")
    open(pyinfra_deploy, "w").write(
        "from pyinfra.operations import server\n" +
        "".join("server.shell(name='t%d', commands=['/bin/true'])\n" % i for i in range(TASKS)))
    pyinfra_inv = os.path.join(a.work, "pyinfra_inventory.py")
    hosts = [(h["address"], {"ssh_port": h["port"], "ssh_user": fleet["deploy_user"],
                             "ssh_key": fleet["keys"]["id_ed25519"],
                             "ssh_known_hosts_file": fleet["known_hosts"]}) for h in fleet["hosts"]]
    open(pyinfra_inv, "w").write("web = %r\n" % (hosts,))

    rows = []
    for serial in (False, True):
        pb = playbook(serial)
        label = "20 × /bin/true on 5 hosts" + (", serial: 1" if serial else "")
        r = measure(a.runs, [rollout, "play", pb, "-i", inv, "--ssh-config", ssh_config])
        an = measure(a.runs, [os.path.join(VENV, "ansible-playbook"), "-i", inv, pb], env=ansible_env(True))
        rows.append((label, r, an))
    floor = []
    ssh = ["ssh", "-F", ssh_config, "-o", "ControlMaster=no", "host1"]
    floor.append(("OpenSSH fresh connection + exec", measure(a.runs, ssh + ["/bin/true"])))
    py = measure(a.runs, [os.path.join(VENV, "pyinfra"), "-y", "--parallel", "5", pyinfra_inv, pyinfra_deploy])
    out = ["| row | rollout | ansible-playbook (pipelining + ControlPersist) | speed-up |", "|---|---|---|---|"]
    for label, r, an in rows:
        out.append("| %s | %s | %s | %.1f× |" % (label, fmt(r), fmt(an), statistics.median(an) / statistics.median(r)))
    out.append("")
    out.append("| row | pyinfra | rollout (same row, free) | speed-up |")
    out.append("|---|---|---|---|")
    out.append("| 20 × /bin/true on 5 hosts | %s | %s | %.1f× |" % (fmt(py), fmt(rows[0][1]), statistics.median(py) / statistics.median(rows[0][1])))
    out.append("")
    out.append("| floor | time |")
    out.append("|---|---|")
    for label, t in floor:
        out.append("| %s | %s |" % (label, fmt(t)))
    per_task = (statistics.median(rows[0][1])) / (TASKS * 5)
    out.append("| rollout: whole run / (20 tasks × 5 hosts) | %.2f ms |" % (per_task * 1000))
    table = "\n".join(out)
    print(table)
    doc = os.path.join(ROOT, "docs", "benchmarks.md")
    with open(doc, "w") as fh:
        fh.write("# Benchmarks\n\nRegenerated by `scripts/bench %d` on %s (%d runs each, median and min–max).\n"
                 "Rows 2 (template/copy/shell), 4 (rolling overhead over the imposed waits) and 5 (200 hosts)\n"
                 "of issue 6 are not measured yet.\n\n%s\n" % (a.runs, time.strftime("%Y-%m-%d"), a.runs, table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
