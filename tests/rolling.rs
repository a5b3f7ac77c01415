//! The rolling lifecycle end to end: real sshd hosts running a real app
//! behind a real HAProxy (tests/bed --haproxy), live HTTP traffic through
//! it during `rollout play playbooks/site.yaml`, and the negative control:
//! the same check catches failed requests when the lifecycle is off.

mod common;

use common::fleet::Fleet;
use serde_json::Value as Json;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// `tests/bed/traffic.py` through the load balancer, stopped by PID.
struct Traffic {
    child: Child,
    out: PathBuf,
}

impl Traffic {
    fn start(fleet: &Fleet) -> Traffic {
        let out = fleet.dir.join("traffic.json");
        let url = fleet.info["haproxy"]["url"].as_str().unwrap().to_string();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bed/traffic.py");
        let child = Command::new("python3")
            .arg(script)
            .args(["--url", &url, "--out", out.to_str().unwrap()])
            .args(["--workers", "4", "--duration", "300"])
            .stdout(Stdio::null())
            .spawn()
            .expect("python3 runs traffic.py");
        // Let it reach a steady state before the rollout starts.
        std::thread::sleep(Duration::from_millis(500));
        Traffic { child, out }
    }

    /// Stops the traffic (SIGTERM) and returns its tally.
    fn finish(mut self) -> Json {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let _ = self.child.wait();
        serde_json::from_str(&fs::read_to_string(&self.out).expect("traffic.py wrote its tally"))
            .unwrap()
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A playbook of the project's `playbooks/`.
fn playbook(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("playbooks")
        .join(name)
        .display()
        .to_string()
}

/// The HAProxy rollout; the ELBv2 one is `site.yaml`.
fn site() -> String {
    playbook("site-haproxy.yaml")
}

/// Writes a variant of site.yaml where it finds the project's templates/.
fn variant(fleet: &Fleet, name: &str, text: &str) -> String {
    let dir = fleet.dir.join("playbooks");
    fs::create_dir_all(&dir).unwrap();
    let project = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (link, target) in [
        (fleet.dir.join("templates"), project.join("templates")),
        (dir.join("release"), project.join("playbooks/release")),
    ] {
        if !link.exists() {
            std::os::unix::fs::symlink(target, link).unwrap();
        }
    }
    let path = dir.join(name);
    fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// HAProxy's own account of server state changes, in order.
fn haproxy_transitions(fleet: &Fleet) -> Vec<String> {
    let log = fs::read_to_string(fleet.dir.join("haproxy.out")).unwrap_or_default();
    log.lines()
        .filter_map(|l| l.split_once("Server app/").map(|(_, rest)| rest))
        .map(|rest| {
            let (server, what) = rest.split_once(' ').unwrap_or((rest, ""));
            let what = what.split('.').next().unwrap_or(what);
            format!("{server} {what}")
        })
        .collect()
}

fn served_version(fleet: &Fleet, i: usize) -> String {
    let h = fleet.host(i);
    let url = format!(
        "http://{}:{}/",
        h["address"].as_str().unwrap(),
        h["app_port"]
    );
    let out = Command::new("curl")
        .args(["-s", "--max-time", "5", &url])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn haproxy_rollout_under_live_traffic_drops_nothing() {
    let fleet = Fleet::up_with(4, 40, &["--haproxy"]);
    let traffic = Traffic::start(&fleet);
    let out = fleet.play(&site(), &["-e", "version=2.0"]);
    let tally = traffic.finish();
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(
        (tally["failed"].as_u64(), tally["errors"].as_u64()),
        (Some(0), Some(0)),
        "requests failed during the rollout: {tally:#}"
    );
    assert!(
        tally["requests"].as_u64().unwrap() > 100,
        "too little traffic to prove anything: {tally}"
    );
    for i in 0..4 {
        let name = format!("host{}", i + 1);
        assert_eq!(served_version(&fleet, i), format!("{name} 2.0"));
        // Both versions of every host answered live traffic.
        for version in ["1.0", "2.0"] {
            let body = format!("{name} {version}");
            assert!(
                tally["by_body"][&body].as_u64().unwrap_or(0) > 0,
                "{body} never answered: {tally}"
            );
        }
    }
    // One host at a time: drained, in maintenance, back — and nothing else
    // (no server ever went DOWN by failing a health check).
    assert_eq!(haproxy_transitions(&fleet), one_at_a_time(4));
    assert!(
        out.stdout
            .contains("load_balancer: take out of rotation (haproxy backend app)")
    );
    assert!(!out.stdout.contains("OUT OF ROTATION"), "{}", out.stdout);
}

/// rollout's environment for the fleet's ELBv2 API (moto behind elb.py).
fn aws_env(fleet: &Fleet) -> Vec<(&'static str, String)> {
    vec![
        (
            "AWS_ENDPOINT_URL",
            fleet.info["elb"]["endpoint"].as_str().unwrap().to_string(),
        ),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("AWS_CONFIG_FILE", "/dev/null".into()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".into()),
    ]
}

/// The ELBv2 calls elb.py saw: `(action, target)`.
fn elb_calls(fleet: &Fleet) -> Vec<(String, String)> {
    fs::read_to_string(fleet.dir.join("elb-calls.log"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace().skip(1);
            Some((f.next()?.to_string(), f.next().unwrap_or("").to_string()))
        })
        .collect()
}

/// drain, maint, ready for host1, then host2… : one host at a time.
fn one_at_a_time(hosts: usize) -> Vec<String> {
    (1..=hosts)
        .flat_map(|i| {
            [
                format!("host{i} enters drain state"),
                format!("host{i} is going DOWN for maintenance"),
                format!("host{i} is UP/READY (leaving forced maintenance)"),
            ]
        })
        .collect()
}

#[test]
fn elbv2_rollout_under_live_traffic_drops_nothing() {
    let fleet = Fleet::up_with(
        4,
        44,
        &["--elbv2", "--elb-port", "25088", "--dereg-delay", "5"],
    );
    let traffic = Traffic::start(&fleet);
    let env = aws_env(&fleet);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = fleet.play_env(&playbook("site.yaml"), &["-e", "version=2.0"], &env);
    let tally = traffic.finish();
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(
        (tally["failed"].as_u64(), tally["errors"].as_u64()),
        (Some(0), Some(0)),
        "requests failed during the rollout: {tally:#}"
    );
    for i in 0..4 {
        assert_eq!(served_version(&fleet, i), format!("host{} 2.0", i + 1));
    }
    // The mutations moto saw are exactly the lifecycle, host by host, each
    // with the port it was registered with; the instance IDs came from
    // each host's IMDSv2.
    let mutations: Vec<(String, String)> = elb_calls(&fleet)
        .into_iter()
        .filter(|(action, _)| action.ends_with("Targets"))
        .collect();
    let expected: Vec<(String, String)> = (0..4)
        .flat_map(|i| {
            let h = fleet.host(i);
            let target = format!("{}:{}", h["instance_id"].as_str().unwrap(), h["app_port"]);
            [
                ("DeregisterTargets".to_string(), target.clone()),
                ("RegisterTargets".to_string(), target),
            ]
        })
        .collect();
    assert_eq!(mutations, expected);
    // HAProxy followed the target group's state, one host at a time.
    assert_eq!(haproxy_transitions(&fleet), one_at_a_time(4));
    // Shared polling: never more than 10 Describe calls in any second.
    let log = fs::read_to_string(fleet.dir.join("elb-calls.log")).unwrap();
    let times: Vec<f64> = log
        .lines()
        .filter(|l| l.contains(" Describe"))
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect();
    for w in times.windows(11) {
        assert!(
            w[10] - w[0] >= 0.99,
            "11 Describe calls within {:.3}s",
            w[10] - w[0]
        );
    }
}

#[test]
fn negative_control_a_plain_serial_restart_drops_requests() {
    let fleet = Fleet::up_with(4, 41, &["--haproxy"]);
    // The same playbook with the lifecycle removed: a plain serial restart.
    let text = fs::read_to_string(site()).unwrap();
    let mut plain = String::new();
    let mut skipping = false;
    for line in text.lines() {
        if line.starts_with("  load_balancer:") {
            skipping = true;
            continue;
        }
        if skipping
            && (line.starts_with("    ")
                || line.trim().is_empty()
                || line.trim_start().starts_with('#'))
        {
            continue;
        }
        skipping = false;
        plain.push_str(line);
        plain.push('\n');
    }
    assert!(!plain.contains("load_balancer") && plain.contains("restart app"));
    let playbook = variant(&fleet, "site-without-lifecycle.yaml", &plain);
    let traffic = Traffic::start(&fleet);
    let out = fleet.play(&playbook, &["-e", "version=2.0"]);
    let tally = traffic.finish();
    assert_eq!(out.code, 0, "{}", out.all());
    let lost = tally["failed"].as_u64().unwrap() + tally["errors"].as_u64().unwrap();
    assert!(
        lost > 0,
        "the check must catch an unmanaged restart: {tally:#}"
    );
    assert!(
        haproxy_transitions(&fleet)
            .iter()
            .any(|t| t.contains("is DOWN")),
        "{:?}",
        haproxy_transitions(&fleet)
    );
}

#[test]
fn check_mode_shows_the_plan_and_changes_nothing() {
    let fleet = Fleet::up_with(2, 42, &["--haproxy"]);
    let out = fleet.play(&site(), &["-e", "version=2.0", "--check"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout.contains("would deregister host1"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("1 of 1 other target(s) healthy, min_healthy needs 1"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("would register host2"),
        "{}",
        out.stdout
    );
    assert!(
        haproxy_transitions(&fleet).is_empty(),
        "{:?}",
        haproxy_transitions(&fleet)
    );
    assert_eq!(served_version(&fleet, 0), "host1 1.0");
}

#[test]
fn a_botched_release_stays_out_of_rotation_and_stops_the_rollout() {
    let fleet = Fleet::up_with(3, 43, &["--haproxy"]);
    // host1's new release never turns healthy.
    let pb = variant(
        &fleet,
        "botched.yaml",
        &fs::read_to_string(site()).unwrap().replace(
            "    - import_tasks: release/deploy.yaml\n",
            "    - import_tasks: release/deploy.yaml\n    - name: Break host1\n      file: { path: \"{{ app_dir }}/unhealthy\", state: touch }\n      when: inventory_hostname == 'host1'\n",
        ),
    );
    let traffic = Traffic::start(&fleet);
    let out = fleet.play(&pb, &["-e", "version=2.0", "-e", "healthy_timeout=3"]);
    let tally = traffic.finish();
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stdout.contains("HOSTS OUT OF ROTATION"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("set server app/host1 state ready"),
        "{}",
        out.stdout
    );
    assert_eq!(
        (tally["failed"].as_u64(), tally["errors"].as_u64()),
        (Some(0), Some(0)),
        "{tally}"
    );
    // host1 is in maintenance; host2 and host3 were never touched.
    let t = haproxy_transitions(&fleet);
    assert!(t.iter().all(|l| l.starts_with("host1")), "{t:?}");
    assert_eq!(
        t.last().map(String::as_str),
        Some("host1 is going DOWN for maintenance"),
        "{t:?}"
    );
    assert_eq!(served_version(&fleet, 1), "host2 1.0");
}
