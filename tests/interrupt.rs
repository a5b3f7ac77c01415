//! Ctrl-C during a rolling play: the first lets the host in flight finish
//! its lifecycle and starts no new batch; a second stops at once and names
//! every host left out of rotation, with the command that puts it back.

mod common;

use common::fleet::Fleet;
use common::lb::{
    Traffic, aws_env, haproxy_transitions, hold_connection, lifecycle_calls, no_failed_requests,
    one_at_a_time, served_version, target_mutations,
};
use common::wait_for_text;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// site-haproxy.yaml with a slow deploy step, so there is time to interrupt.
fn slow_site(fleet: &Fleet) -> String {
    let project = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = fs::read_to_string(project.join("playbooks/site-haproxy.yaml"))
        .unwrap()
        .replace(
            "    - import_tasks: release/deploy.yaml\n",
            "    - import_tasks: release/deploy.yaml\n    - pause: { seconds: 3 }\n",
        );
    fleet.variant("slow.yaml", &text)
}

/// Runs rollout, sends it SIGINT `times` times once HAProxy logged `when`,
/// and returns (exit code, stdout).
fn interrupted_run(fleet: &Fleet, playbook: &str, when: &str, times: usize) -> (i32, String) {
    let out_path = fleet.dir.join("rollout.out");
    let child = Command::new(env!("CARGO_BIN_EXE_rollout"))
        .env("ROLLOUT_STATE_DIR", fleet.dir.join("state"))
        .args([
            "play",
            playbook,
            "-i",
            &fleet.path("inventory"),
            "--ssh-config",
            &fleet.path("ssh_config"),
        ])
        .args(["-e", "version=2.0"])
        .stdout(fs::File::create(&out_path).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Guard(child);
    wait_for_text(
        &fleet.dir.join("haproxy.out"),
        when,
        Duration::from_secs(30),
    );
    for _ in 0..times {
        let _ = Command::new("kill")
            .args(["-INT", &child.0.id().to_string()])
            .status();
        std::thread::sleep(Duration::from_millis(200));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let code = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status.code().unwrap_or(-1);
        }
        assert!(
            Instant::now() < deadline,
            "rollout did not stop after SIGINT"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    (code, fs::read_to_string(&out_path).unwrap())
}

/// Kills the child (by PID) if the test fails before it exits.
struct Guard(std::process::Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn first_interrupt_finishes_the_host_in_flight_and_starts_no_new_batch() {
    let fleet = Fleet::up_with(3, 47, &["--haproxy"]);
    let playbook = slow_site(&fleet);
    let (code, out) = interrupted_run(&fleet, &playbook, "host1 enters drain state", 1);
    assert_eq!(code, 99, "{out}");
    assert!(
        out.contains("interrupted: the hosts in flight finished, 2 batch(es) not started"),
        "{out}"
    );
    assert!(out.contains("interrupt again to stop at once"), "{out}");
    // host1 went all the way back; host2 and host3 were never touched.
    assert_eq!(haproxy_transitions(&fleet), one_at_a_time(1));
    assert!(!out.contains("OUT OF ROTATION"), "{out}");
}

#[test]
fn second_interrupt_stops_at_once_and_names_the_hosts_out_of_rotation() {
    let fleet = Fleet::up_with(3, 48, &["--haproxy"]);
    let playbook = slow_site(&fleet);
    let (code, out) = interrupted_run(&fleet, &playbook, "host1 is going DOWN for maintenance", 2);
    assert_eq!(code, 99, "{out}");
    assert!(out.contains("HOSTS OUT OF ROTATION"), "{out}");
    assert!(out.contains("set server app/host1 state ready"), "{out}");
    assert!(out.contains("stopped at once"), "{out}");
    assert_eq!(
        haproxy_transitions(&fleet),
        [
            "host1 enters drain state",
            "host1 is going DOWN for maintenance"
        ]
    );
    // The journal says so too.
    let shown = fleet.status();
    let host1 = fleet.status_line("host1");
    assert!(host1.contains("OUT OF ROTATION"), "{shown}");
    assert!(
        host1.contains("set server app/host1 state ready"),
        "{shown}"
    );
    assert!(shown.contains("stopped: interrupted again"), "{shown}");
    assert!(
        !shown.lines().any(|l| l.starts_with("host2")),
        "host2 was never touched: {shown}"
    );
}

#[test]
fn a_second_rollout_on_the_same_backend_is_refused() {
    let fleet = Fleet::up_with(2, 50, &["--haproxy"]);
    let playbook = slow_site(&fleet);
    let args = |pb: &str| {
        vec![
            "play".to_string(),
            pb.to_string(),
            "-i".into(),
            fleet.path("inventory"),
            "--ssh-config".into(),
            fleet.path("ssh_config"),
        ]
    };
    let first = Command::new(env!("CARGO_BIN_EXE_rollout"))
        .env("ROLLOUT_STATE_DIR", fleet.dir.join("state"))
        .args(args(&playbook))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = Guard(first);
    let drain = "host1 enters drain state";
    wait_for_text(
        &fleet.dir.join("haproxy.out"),
        drain,
        Duration::from_secs(30),
    );
    let second = Command::new(env!("CARGO_BIN_EXE_rollout"))
        .env("ROLLOUT_STATE_DIR", fleet.dir.join("state"))
        .args(args(&playbook))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&second.stdout).to_string()
        + &String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(6), "{text}");
    assert!(text.contains("another rollout (pid"), "{text}");
    assert!(text.contains("haproxy backend app"), "{text}");
    let status = first.0.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    // Only the first rollout touched HAProxy, and the lock is gone with it.
    assert_eq!(haproxy_transitions(&fleet), one_at_a_time(2));
    let again = Command::new(env!("CARGO_BIN_EXE_rollout"))
        .env("ROLLOUT_STATE_DIR", fleet.dir.join("state"))
        .args(args(&playbook))
        .args(["--check"])
        .output()
        .unwrap();
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
}

/// The rollout of site.yaml (ELBv2) on `fleet`, journaled in its state dir.
fn elbv2_rollout(fleet: &Fleet, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rollout"));
    let site = Path::new(env!("CARGO_MANIFEST_DIR")).join("playbooks/site.yaml");
    cmd.env("ROLLOUT_STATE_DIR", fleet.dir.join("state"))
        .envs(aws_env(fleet))
        .arg("play")
        .arg(site)
        .args(["-i", &fleet.path("inventory")])
        .args(["--ssh-config", &fleet.path("ssh_config")])
        .args(["-e", "version=2.0"])
        .args(extra);
    cmd
}

#[test]
fn sigkill_mid_drain_then_resume_completes_and_repeats_nothing() {
    let fleet = Fleet::up_with(
        3,
        51,
        &["--elbv2", "--elb-port", "25096", "--dereg-delay", "5"],
    );
    let traffic = Traffic::start(&fleet);
    let out_path = fleet.dir.join("killed.out");
    let child = elbv2_rollout(&fleet, &[])
        .stdout(fs::File::create(&out_path).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Guard(child);
    // host1 is done; a long request holds host2's drain open (as a long
    // poll would); kill the controller while host2 drains.
    wait_for_text(&out_path, "BATCH 2/3", Duration::from_secs(60));
    let slow = hold_connection(&fleet, "host2", 6);
    wait_for_text(&out_path, "[host2] draining:", Duration::from_secs(60));
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    assert!(
        slow.join().unwrap().contains("host2 1.0"),
        "the long request was host2's"
    );
    let shown = fleet.status();
    assert!(shown.contains("did not finish"), "{shown}");
    assert!(
        fleet.status_line("host1").contains("in rotation"),
        "{shown}"
    );
    let host2 = fleet.status_line("host2");
    assert!(host2.contains("OUT OF ROTATION"), "{shown}");
    assert!(host2.contains("draining"), "{shown}");

    let resumed = elbv2_rollout(&fleet, &["--resume"]).output().unwrap();
    let text = String::from_utf8_lossy(&resumed.stdout).into_owned()
        + &String::from_utf8_lossy(&resumed.stderr);
    let tally = traffic.finish();
    assert_eq!(resumed.status.code(), Some(0), "{text}");
    assert!(
        text.contains("skipping 1 host(s) that completed this play") && text.contains(": host1"),
        "{text}"
    );
    assert!(
        text.contains("the last run left host2 draining (out of rotation)"),
        "{text}"
    );
    assert!(text.contains("not deregistered again"), "{text}");
    // Every host ends healthy on 2.0, and no request failed, across the
    // kill, the gap and the resumed run.
    for i in 0..3 {
        assert_eq!(served_version(&fleet, i), format!("host{} 2.0", i + 1));
    }
    no_failed_requests(&tally);
    // Each target was deregistered once and registered once, in order:
    // host1 was not redone, host2 not deregistered twice.
    assert_eq!(target_mutations(&fleet), lifecycle_calls(&fleet, 3));
    let shown = fleet.status();
    assert!(shown.contains("state: finished"), "{shown}");
    for host in ["host2", "host3"] {
        let line = fleet.status_line(host);
        assert!(line.contains("in rotation"), "{shown}");
        assert!(!line.contains("OUT"), "{shown}");
    }
    // A second resume finds everything done (completions carry over).
    let again = elbv2_rollout(&fleet, &["--resume"]).output().unwrap();
    let text = String::from_utf8_lossy(&again.stdout).into_owned();
    assert_eq!(again.status.code(), Some(0), "{text}");
    assert!(text.contains("skipping 3 host(s)"), "{text}");
    assert_eq!(target_mutations(&fleet), lifecycle_calls(&fleet, 3));
}
