//! `playbooks/patch.yaml` for real: three disposable Debian roots
//! (tests/common/debian_root.rs) are the backends of a real HAProxy
//! (tests/bed's configuration), each running the bed's app; live traffic
//! goes through HAProxy while the playbook drains, patches from the local
//! apt repository (tests/bed/debian-repo), reboots only where a package
//! asked for it, and puts each host back once healthy. The negative
//! controls: a host whose upgrade fails stops the rollout and stays out;
//! without the lifecycle, the same traffic check sees the reboots.
//!
//! Loopback 127.0.0.195-199, ports 25460-25469 belong to these tests.

mod common;

use common::debian_root::DebianRoot;
use common::lb::{Traffic, haproxy_transitions_in, no_failed_requests, one_at_a_time};
use serde_json::Value as Json;
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where a bed's roots and HAProxy listen, and which hosts have
/// rollout-kernel 1.0 installed (whose upgrade asks for a reboot). Root
/// `n` of a bed is 127.0.0.(first_slot+n), sshd on SSH_PORT + the slot's
/// offset from FIRST_SLOT, app on APP_PORT+n; HAProxy on
/// 127.0.0.1:haproxy_port.
struct Layout {
    first_slot: u8,
    kernel: &'static [bool],
    haproxy_port: u16,
}

/// The rollout under test: host1 and host3 need a reboot, host2 does not.
const PATCH: Layout = Layout {
    first_slot: 195,
    kernel: &[true, false, true],
    haproxy_port: 25469,
};
const HOSTS: usize = 3;
const KERNEL: &[bool] = PATCH.kernel;

/// The negative control's two roots.
const NO_DRAIN: Layout = Layout {
    first_slot: 198,
    kernel: &[true, true],
    haproxy_port: 25468,
};

const FIRST_SLOT: u8 = 195;
const SSH_PORT: u16 = 25460;
const APP_PORT: u16 = 25465;
const HAPROXY: &str = "/usr/sbin/haproxy";

const UPGRADE_TASK: &str = "Upgrade every package (apt-get update, dist-upgrade)";
const REBOOT_TASK: &str = "Reboot, only where a patch asked for it, and wait until it is back";

fn bed(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/bed")
        .join(file)
}

/// Renders a piece of the bed's configuration with tests/bed/fleet.py:
/// `expr` (Python, over the module `fleet` and `a`, the JSON `arg`).
fn from_bed(expr: &str, arg: Json) -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            "import json, sys; sys.path.insert(0, sys.argv[1]); import fleet; \
             a = json.loads(sys.argv[3]); sys.stdout.write(eval(sys.argv[2]))",
        ])
        .arg(bed(""))
        .args([expr, &arg.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The reboot a disposable root can do (set as the playbook's
/// patch_reboot_command): the app stops, /run (a tmpfs) is emptied as a
/// real boot empties it, the boot id changes, the "boot" starts the app
/// again a second later, and the SSH session's own sshd is killed, which
/// drops the connection as a reboot does. Each reboot is logged.
const FAKE_REBOOT: &str = r#"#!/bin/sh
/usr/local/sbin/appctl stop
find /run -mindepth 1 -maxdepth 1 ! -name sshd -exec rm -rf {} +
mkdir -p /run/lock
cat /proc/sys/kernel/random/uuid > /etc/rollout-boot-id
date +%s >> /var/log/rollout-reboots
setsid sh -c 'sleep 1; /usr/local/sbin/appctl start' </dev/null >/dev/null 2>&1 &
p=$$
while [ "$p" -gt 1 ]; do
  case "$(cat /proc/$p/comm)" in sshd*) kill -9 "$p"; exit 0;; esac
  p=$(cut -d' ' -f4 /proc/$p/stat)
done
"#;

struct Bed {
    roots: Vec<DebianRoot>,
    haproxy_port: u16,
    haproxy: Child,
    dir: tempfile::TempDir,
}

impl Drop for Bed {
    fn drop(&mut self) {
        let _ = self.haproxy.kill();
        let _ = self.haproxy.wait();
    }
}

fn host(i: usize) -> String {
    format!("host{}", i + 1)
}

/// Writes `text` to `path` in the root (over SSH, as root).
fn put(root: &DebianRoot, path: &str, text: &[u8], mode: &str) {
    let mut child = root
        .ssh(&format!("cat > {path} && chmod {mode} {path}"))
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(text).unwrap();
    assert!(child.wait().unwrap().success(), "writing {path}");
}

impl Bed {
    fn up(layout: &Layout) -> Option<Bed> {
        if !Path::new(HAPROXY).exists() {
            println!("SKIPPED: no HAProxy at {HAPROXY} (scripts/setup installs it)");
            return None;
        }
        let mut roots = Vec::new();
        for i in 0..layout.kernel.len() {
            let slot = layout.first_slot + i as u8;
            roots.push(DebianRoot::up(
                slot,
                SSH_PORT + u16::from(slot - FIRST_SLOT),
            )?);
        }
        let dir = tempfile::tempdir().unwrap();
        for (i, root) in roots.iter().enumerate() {
            let app = std::fs::read(bed("app.py")).unwrap();
            put(root, "/usr/local/lib/rollout-app.py", &app, "644");
            // The bed's appctl, as the app's service: a reboot stops it,
            // the boot starts it.
            let appctl = from_bed(
                "fleet.APPCTL % a",
                serde_json::json!({
                    "name": host(i), "root": "/srv/app", "python": "python3",
                    "app": "/usr/local/lib/rollout-app.py",
                    "address": root.address, "port": APP_PORT + i as u16,
                }),
            );
            put(root, "/usr/local/sbin/appctl", appctl.as_bytes(), "755");
            put(
                root,
                "/usr/local/sbin/rollout-fake-reboot",
                FAKE_REBOOT.as_bytes(),
                "755",
            );
            let kernel = if layout.kernel[i] {
                " rollout-kernel=1.0"
            } else {
                ""
            };
            root.sh(&format!(
                "cat /proc/sys/kernel/random/uuid > /etc/rollout-boot-id && \
                 apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
                 rollout-hello=1.0 rollout-lib=1.0{kernel} >/dev/null && \
                 mkdir -p /srv/app && /usr/local/sbin/appctl start"
            ));
        }
        let haproxy = start_haproxy(dir.path(), &roots, layout.haproxy_port);
        let bed = Bed {
            roots,
            haproxy_port: layout.haproxy_port,
            haproxy,
            dir,
        };
        bed.wait_all_up();
        bed.write_inventory();
        Some(bed)
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// One inventory for every root (each has its own key) and one
    /// known_hosts (they share the cached root's host key).
    fn write_inventory(&self) {
        let mut inventory = String::from("[web]\n");
        let mut known = String::new();
        for (i, root) in self.roots.iter().enumerate() {
            inventory += &format!(
                "{} ansible_host={} ansible_port={} ansible_user=root \
                 ansible_ssh_private_key_file={} app_port={}\n",
                host(i),
                root.address,
                root.port,
                root.path("id_ed25519"),
                APP_PORT + i as u16
            );
            known += &std::fs::read_to_string(root.path("known_hosts")).unwrap();
        }
        inventory += &format!(
            "\n[web:vars]\nhaproxy_socket={}\nhaproxy_backend=app\n\
             patch_reboot_command=/usr/local/sbin/rollout-fake-reboot\n\
             patch_boot_time_command='cat /etc/rollout-boot-id'\n",
            self.path("haproxy.sock")
        );
        std::fs::write(self.path("inventory"), inventory).unwrap();
        std::fs::write(self.path("known_hosts"), known).unwrap();
        std::fs::write(
            self.path("ssh_config"),
            format!(
                "Host *\n  UserKnownHostsFile {}\n  GlobalKnownHostsFile /dev/null\n  \
                 StrictHostKeyChecking yes\n",
                self.path("known_hosts")
            ),
        )
        .unwrap();
    }

    /// `rollout play playbooks/patch.yaml` with short lifecycle bounds;
    /// every event also goes to `events`.
    fn patch(&self, events: &str) -> common::Outcome {
        let playbook = Path::new(env!("CARGO_MANIFEST_DIR")).join("playbooks/patch.yaml");
        self.play(playbook.to_str().unwrap(), events)
    }

    fn play(&self, playbook: &str, events: &str) -> common::Outcome {
        common::rollout(&[
            "play",
            playbook,
            "-i",
            &self.path("inventory"),
            "--ssh-config",
            &self.path("ssh_config"),
            "--events-json",
            &self.path(events),
            "-e",
            "drain_timeout=10s healthy_timeout=30s reboot_timeout=60",
        ])
    }

    /// HAProxy's `show stat` status of each server (UP, DOWN, MAINT…).
    fn server_states(&self) -> Vec<(String, String)> {
        let mut s = std::os::unix::net::UnixStream::connect(self.path("haproxy.sock")).unwrap();
        s.write_all(b"show stat\n").unwrap();
        let mut stat = String::new();
        s.read_to_string(&mut stat).unwrap();
        stat.lines()
            .map(|l| l.split(',').collect::<Vec<_>>())
            .filter(|f| f.len() > 17 && f[0] == "app" && f[1].starts_with("host"))
            .map(|f| (f[1].to_string(), f[17].to_string()))
            .collect()
    }

    fn wait_all_up(&self) {
        let started = Instant::now();
        loop {
            let states = self.server_states();
            if states.len() == self.roots.len() && states.iter().all(|(_, s)| s == "UP") {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "HAProxy does not see every app UP: {states:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Live traffic through HAProxy, its tally to DIR/`out`.
    fn traffic(&self, out: &str) -> Traffic {
        let url = format!("http://127.0.0.1:{}/", self.haproxy_port);
        Traffic::start_at(&url, &self.dir.path().join(out))
    }

    fn transitions(&self) -> Vec<String> {
        haproxy_transitions_in(&self.dir.path().join("haproxy.out"))
    }
}

/// A real HAProxy with the bed's configuration, in front of each root's
/// app; its state changes go to DIR/haproxy.out.
fn start_haproxy(dir: &Path, roots: &[DebianRoot], port: u16) -> Child {
    let servers: Vec<Json> = roots
        .iter()
        .enumerate()
        .map(|(i, r)| {
            serde_json::json!({"name": host(i), "address": r.address, "app_port": APP_PORT + i as u16})
        })
        .collect();
    let hp = serde_json::json!({
        "socket": dir.join("haproxy.sock"),
        "pidfile": dir.join("haproxy.pid"),
        "port": port,
    });
    let cfg = from_bed("fleet.haproxy_config(*a)", serde_json::json!([hp, servers]));
    std::fs::write(dir.join("haproxy.cfg"), cfg).unwrap();
    let log = std::fs::File::create(dir.join("haproxy.out")).unwrap();
    let child = Command::new(HAPROXY)
        .arg("-db")
        .arg("-f")
        .arg(dir.join("haproxy.cfg"))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("haproxy runs");
    let started = Instant::now();
    while !dir.join("haproxy.sock").exists() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "HAProxy did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

/// Each host's result of the task named `task`, from the events file.
fn results(events: &str, task: &str) -> Vec<(String, Json)> {
    let file = std::fs::File::open(events).unwrap();
    let mut current = String::new();
    let mut out = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        let event: Json = serde_json::from_str(&line.unwrap()).unwrap();
        match event["event"].as_str() {
            Some("task_start") => current = event["name"].as_str().unwrap_or("").to_string(),
            Some("host_result") if current == task => {
                out.push((event["host"].as_str().unwrap().to_string(), event.clone()))
            }
            _ => {}
        }
    }
    out
}

fn version_change(before: &str, after: &str) -> Json {
    serde_json::json!({"before": before, "after": after})
}

#[test]
fn patching_reboots_only_where_required_and_drops_no_request() {
    let Some(bed) = Bed::up(&PATCH) else { return };
    let boot_ids: Vec<String> = bed
        .roots
        .iter()
        .map(|r| r.sh("cat /etc/rollout-boot-id"))
        .collect();
    let traffic = bed.traffic("traffic.json");
    let out = bed.patch("events.json");
    let tally = traffic.finish();
    assert_eq!(out.code, 0, "{}", out.all());

    // Not one request failed, and every host served before and after.
    no_failed_requests(&tally);
    assert!(tally["requests"].as_u64().unwrap() > 100, "{tally}");
    for i in 0..HOSTS {
        let body = format!("{} 1.0", host(i));
        assert!(
            tally["by_body"][&body].as_u64().unwrap_or(0) > 0,
            "{body}: {tally}"
        );
    }

    // Every host was upgraded, and the result says from which version to which.
    let upgrades = results(&bed.path("events.json"), UPGRADE_TASK);
    assert_eq!(upgrades.len(), HOSTS, "{upgrades:?}");
    for (i, (name, event)) in upgrades.iter().enumerate() {
        assert_eq!(name, &host(i));
        assert_eq!(event["status"], "changed", "{event}");
        let mut want = serde_json::json!({
            "rollout-hello": version_change("1.0", "1.1"),
            "rollout-lib": version_change("1.0", "1.1"),
        });
        if KERNEL[i] {
            want["rollout-kernel"] = version_change("1.0", "1.1");
        }
        assert_eq!(event["result"]["packages"], want, "{event}");
        assert_eq!(
            bed.roots[i].version("rollout-hello").as_deref(),
            Some("1.1")
        );
    }
    // The record of what was patched, once per host, in the output.
    out.assert_says(r#"\"rollout-kernel\": {\"before\": \"1.0\", \"after\": \"1.1\"}"#);

    // Only the hosts whose patches asked for it rebooted; they came back
    // (new boot id, app serving) and /var/run/reboot-required went with /run.
    let reboots = results(&bed.path("events.json"), REBOOT_TASK);
    for (i, root) in bed.roots.iter().enumerate() {
        let (name, event) = &reboots[i];
        assert_eq!(name, &host(i));
        let count = root.sh("cat /var/log/rollout-reboots 2>/dev/null | wc -l");
        let boot_id = root.sh("cat /etc/rollout-boot-id");
        if KERNEL[i] {
            assert_eq!(event["status"], "changed", "{event}");
            assert_eq!(event["result"]["rebooted"], true, "{event}");
            assert_eq!(count.trim(), "1", "{name} rebooted {count} times");
            assert_ne!(boot_id, boot_ids[i], "{name}'s boot id");
        } else {
            assert_eq!(event["status"], "skipped", "{event}");
            assert_eq!(count.trim(), "0", "{name} rebooted");
            assert_eq!(boot_id, boot_ids[i], "{name}'s boot id");
        }
        assert_eq!(
            root.sh("test -e /var/run/reboot-required || echo gone"),
            "gone\n"
        );
    }
    for (i, (name, state)) in bed.server_states().into_iter().enumerate() {
        assert_eq!((name, state.as_str()), (host(i), "UP"));
    }

    // One host at a time: drained and in maintenance while patched (its
    // tasks ran between leaving rotation and coming back), nothing else.
    assert_eq!(bed.transitions(), one_at_a_time(HOSTS));
    let steps = [
        "load_balancer: take out of rotation",
        UPGRADE_TASK,
        REBOOT_TASK,
        "load_balancer: back in rotation",
    ];
    let mut from = 0;
    for _ in 0..HOSTS {
        for step in steps {
            let at = out.stdout[from..]
                .find(step)
                .unwrap_or_else(|| panic!("'{step}' missing after byte {from}:\n{}", out.stdout));
            from += at + step.len();
        }
    }
    out.assert_never_says("OUT OF ROTATION");

    // The negative control: host2's upgrade fails (a dpkg hook refuses to
    // run). The rollout stops there, names host2, keeps it out of rotation
    // and never touches host3; host1 has nothing left to patch.
    bed.roots[1].sh(
        "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --allow-downgrades \
         rollout-hello=1.0 rollout-lib=1.0 >/dev/null && \
         echo 'DPkg::Pre-Invoke { \"echo dpkg refused: /boot is full >&2; false\"; };' \
         > /etc/apt/apt.conf.d/99broken",
    );
    let before = bed.transitions().len();
    let traffic = bed.traffic("traffic2.json");
    let out = bed.patch("events2.json");
    let tally = traffic.finish();
    assert_eq!(out.code, 2, "{}", out.all());
    no_failed_requests(&tally);
    let upgrades = results(&bed.path("events2.json"), UPGRADE_TASK);
    let hosts: Vec<&str> = upgrades.iter().map(|(h, _)| h.as_str()).collect();
    assert_eq!(hosts, ["host1", "host2"], "host3 must not be patched");
    assert_eq!(
        upgrades[0].1["status"], "ok",
        "nothing left: {}",
        upgrades[0].1
    );
    assert_eq!(upgrades[1].1["status"], "failed", "{}", upgrades[1].1);
    out.assert_says("dpkg refused: /boot is full");
    out.assert_says("HOSTS OUT OF ROTATION");
    out.assert_says("set server app/host2 state ready");
    assert!(
        out.recap("host2").contains("failed=1"),
        "{}",
        out.recap("host2")
    );
    assert_eq!(
        bed.transitions()[before..],
        [
            "host1 enters drain state",
            "host1 is going DOWN for maintenance",
            "host1 is UP/READY (leaving forced maintenance)",
            "host2 enters drain state",
            "host2 is going DOWN for maintenance",
        ]
    );
    let states = bed.server_states();
    assert_eq!(states[1].1, "MAINT", "{states:?}");
    assert_eq!(
        bed.roots[1].version("rollout-hello").as_deref(),
        Some("1.0")
    );
    assert_eq!(
        bed.roots[1]
            .sh("cat /var/log/rollout-reboots 2>/dev/null | wc -l")
            .trim(),
        "0"
    );
}

/// The negative control of the traffic check: the same patching without
/// the `load_balancer:` section reboots hosts while they take traffic,
/// and the check sees the requests that fail.
#[test]
fn negative_control_without_the_lifecycle_the_reboots_drop_requests() {
    let Some(bed) = Bed::up(&NO_DRAIN) else {
        return;
    };
    let patch =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("playbooks/patch.yaml"))
            .unwrap();
    let (head, rest) = patch.split_once("  load_balancer:\n").unwrap();
    let (_, tail) = rest.split_once("\n  tasks:").unwrap();
    let plain = bed.path("plain.yaml");
    std::fs::write(&plain, format!("{head}  tasks:{tail}")).unwrap();
    let traffic = bed.traffic("traffic.json");
    let out = bed.play(&plain, "events.json");
    let tally = traffic.finish();
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(results(&bed.path("events.json"), REBOOT_TASK).len(), 2);
    let lost = tally["failed"].as_u64().unwrap() + tally["errors"].as_u64().unwrap();
    assert!(lost > 0, "the reboots in rotation went unseen: {tally}");
    assert!(bed.transitions().iter().all(|t| !t.contains("drain")));
}
