//! Helpers for the load balancer tests: live traffic, and what HAProxy and
//! the ELBv2 API saw.

use super::fleet::Fleet;
use serde_json::Value as Json;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// `tests/bed/traffic.py` through the load balancer, stopped by PID.
pub struct Traffic {
    child: Child,
    out: PathBuf,
}

impl Traffic {
    pub fn start(fleet: &Fleet) -> Traffic {
        let url = fleet.info["haproxy"]["url"].as_str().unwrap();
        Traffic::start_at(url, &fleet.dir.join("traffic.json"))
    }

    /// Traffic to `url`, its tally written to `out`.
    pub fn start_at(url: &str, out: &Path) -> Traffic {
        let out = out.to_path_buf();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bed/traffic.py");
        let child = Command::new("python3")
            .arg(script)
            .args(["--url", url, "--out", out.to_str().unwrap()])
            .args(["--workers", "4", "--duration", "300"])
            .stdout(Stdio::null())
            .spawn()
            .expect("python3 runs traffic.py");
        // Let it reach a steady state before the rollout starts.
        std::thread::sleep(Duration::from_millis(500));
        Traffic { child, out }
    }

    /// Stops the traffic (SIGTERM) and returns its tally.
    pub fn finish(mut self) -> Json {
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

/// HAProxy's own account of server state changes, in order.
pub fn haproxy_transitions(fleet: &Fleet) -> Vec<String> {
    haproxy_transitions_in(&fleet.dir.join("haproxy.out"))
}

/// [`haproxy_transitions`] from HAProxy's output in `log`.
pub fn haproxy_transitions_in(log: &Path) -> Vec<String> {
    let log = fs::read_to_string(log).unwrap_or_default();
    log.lines()
        .filter_map(|l| l.split_once("Server app/").map(|(_, rest)| rest))
        .map(|rest| {
            let (server, what) = rest.split_once(' ').unwrap_or((rest, ""));
            let what = what.split('.').next().unwrap_or(what);
            format!("{server} {what}")
        })
        .collect()
}

pub fn served_version(fleet: &Fleet, i: usize) -> String {
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

/// rollout's environment for the fleet's ELBv2 API (moto behind elb.py).
pub fn aws_env(fleet: &Fleet) -> Vec<(&'static str, String)> {
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
pub fn elb_calls(fleet: &Fleet) -> Vec<(String, String)> {
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
pub fn one_at_a_time(hosts: usize) -> Vec<String> {
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

/// Asserts the live traffic was enough to prove anything and saw no
/// failed request.
pub fn served_everything(tally: &Json) {
    no_failed_requests(tally);
    assert!(
        tally["requests"].as_u64().unwrap() > 100,
        "too little traffic to prove anything: {tally}"
    );
}

/// Asserts the live traffic saw no failed request and no socket error.
pub fn no_failed_requests(tally: &Json) {
    assert_eq!(
        (tally["failed"].as_u64(), tally["errors"].as_u64()),
        (Some(0), Some(0)),
        "requests failed: {tally:#}"
    );
}

/// The mutating ELBv2 calls elb.py saw: `(action, "instance:port")`.
pub fn target_mutations(fleet: &Fleet) -> Vec<(String, String)> {
    elb_calls(fleet)
        .into_iter()
        .filter(|(action, _)| action.ends_with("Targets"))
        .collect()
}

/// The mutations of the lifecycle on the first `hosts` hosts, one after
/// the other: deregister, then register, each with its registered port.
pub fn lifecycle_calls(fleet: &Fleet, hosts: usize) -> Vec<(String, String)> {
    (0..hosts)
        .flat_map(|i| {
            let h = fleet.host(i);
            let target = format!("{}:{}", h["instance_id"].as_str().unwrap(), h["app_port"]);
            [
                ("DeregisterTargets".to_string(), target.clone()),
                ("RegisterTargets".to_string(), target),
            ]
        })
        .collect()
}

/// A request through HAProxy pinned to `host` (the bed's `X-Pin`) that
/// takes `secs` seconds: it holds a connection open on that target, as a
/// long poll would. Returns the whole answer.
pub fn hold_connection(fleet: &Fleet, host: &str, secs: u32) -> std::thread::JoinHandle<String> {
    let port = fleet.info["haproxy"]["port"].as_u64().unwrap() as u16;
    let request = format!(
        "GET /slow/{secs} HTTP/1.1\r\nHost: t\r\nX-Pin: {host}\r\nConnection: close\r\n\r\n"
    );
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        answer
    })
}
