//! Faults inside rolling plays on the real fleet, each checked by what the
//! load balancer says afterwards, what the journal holds, and the live
//! traffic: an IMDS that refuses tokens, a drain that never finishes, a
//! host unreachable at the start, and a host's sshd killed mid-deploy.
//! (ELBv2 throttling, 500s and a missing target group: tests/rolling.rs.)

mod common;

use common::fleet::Fleet;
use common::lb::{
    Traffic, aws_env, haproxy_transitions, hold_connection, lifecycle_calls, no_failed_requests,
    served_version, target_mutations,
};
use std::fs;
use std::path::Path;
use std::time::Duration;

fn project_playbook(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("playbooks")
        .join(name);
    fs::read_to_string(path).unwrap()
}

/// Runs `playbook` on the fleet with its AWS settings and its own state dir.
fn play(fleet: &Fleet, playbook: &str, args: &[&str]) -> common::Outcome {
    let state = fleet.path("state");
    let mut env: Vec<(&str, String)> = if fleet.info["elb"].is_null() {
        Vec::new()
    } else {
        aws_env(fleet)
    };
    env.push(("ROLLOUT_STATE_DIR", state));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut all = vec!["-e", "version=2.0"];
    all.extend_from_slice(args);
    fleet.play_env(playbook, &all, &env)
}

/// site-haproxy.yaml with `step` (a task, as YAML lines) after the deploy.
fn haproxy_site_with_step(fleet: &Fleet, name: &str, step: &str) -> String {
    let deploy = "    - import_tasks: release/deploy.yaml\n";
    let text = project_playbook("site-haproxy.yaml").replace(deploy, &format!("{deploy}{step}"));
    fleet.variant(name, &text)
}

/// host1 rolled to 2.0; the rollout stopped with host2 and host3 on 1.0.
fn assert_only_host1_rolled(fleet: &Fleet) {
    assert_eq!(served_version(fleet, 0), "host1 2.0");
    assert_eq!(served_version(fleet, 1), "host2 1.0");
    assert_eq!(served_version(fleet, 2), "host3 1.0");
}

/// host1 failed out of rotation and stays in HAProxy's maintenance, named
/// with the command that puts it back; nobody else was touched.
fn assert_host1_kept_out(fleet: &Fleet, out: &common::Outcome) {
    out.assert_says("HOSTS OUT OF ROTATION");
    out.assert_says("set server app/host1 state ready");
    assert_eq!(
        haproxy_transitions(fleet),
        [
            "host1 enters drain state",
            "host1 is going DOWN for maintenance"
        ]
    );
    assert_eq!(served_version(fleet, 1), "host2 1.0");
    let line = fleet.status_line("host1");
    assert!(
        line.contains("OUT OF ROTATION") && line.contains("state ready"),
        "{line}"
    );
}

#[test]
fn an_imds_that_refuses_tokens_fails_the_host_while_still_in_rotation() {
    let fleet = Fleet::up_with(
        3,
        53,
        &["--elbv2", "--elb-port", "25100", "--dereg-delay", "2"],
    );
    let dir = fleet.host(1)["dir"].as_str().unwrap().to_string();
    fs::write(Path::new(&dir).join("imds-refuse-tokens"), "").unwrap();
    let traffic = Traffic::start(&fleet);
    let site = fleet.variant("site.yaml", &project_playbook("site.yaml"));
    let out = play(&fleet, &site, &[]);
    let tally = traffic.finish();
    assert_eq!(out.code, 2, "{}", out.all());
    out.assert_says("finding the instance ID");
    out.assert_says("403");
    out.assert_says("nothing was taken out of rotation");
    out.assert_never_says("HOSTS OUT OF ROTATION");
    // host1 went through; host2 was never deregistered; host3 never started.
    assert_eq!(target_mutations(&fleet), lifecycle_calls(&fleet, 1));
    assert_eq!(served_version(&fleet, 0), "host1 2.0");
    assert_eq!(served_version(&fleet, 1), "host2 1.0");
    assert!(
        !fleet.status_line("host2").contains("OUT"),
        "{}",
        fleet.status_line("host2")
    );
    no_failed_requests(&tally);
}

#[test]
fn a_drain_that_never_finishes_puts_the_host_back_unchanged_and_stops() {
    // The target group's delay is long; a long request holds host1's drain
    // open past the play's drain_timeout.
    let fleet = Fleet::up_with(
        3,
        54,
        &["--elbv2", "--elb-port", "25104", "--dereg-delay", "600"],
    );
    let text = project_playbook("site.yaml").replace(
        "    min_healthy: 1\n",
        "    min_healthy: 1\n    drain_timeout: 2s\n",
    );
    let site = fleet.variant("site.yaml", &text);
    let slow = hold_connection(&fleet, "host1", 8);
    std::thread::sleep(Duration::from_millis(300));
    let traffic = Traffic::start(&fleet);
    let out = play(&fleet, &site, &[]);
    let tally = traffic.finish();
    assert_eq!(out.code, 2, "{}", out.all());
    out.assert_says("did not drain from target group web");
    out.assert_says("gave up after 2s");
    out.assert_says("host1 failed: its drain did not finish, so it was put back unchanged");
    out.assert_never_says("TASK [Install the new version]");
    out.assert_never_says("HOSTS OUT OF ROTATION");
    // Deregistered, registered again (which cancels the drain); nothing else.
    assert_eq!(target_mutations(&fleet), lifecycle_calls(&fleet, 1));
    assert_eq!(served_version(&fleet, 0), "host1 1.0");
    assert!(
        fleet.status_line("host1").contains("in rotation"),
        "{}",
        fleet.status_line("host1")
    );
    // The long request was never cut, nor was any other.
    assert!(slow.join().unwrap().contains("200 OK"));
    no_failed_requests(&tally);
}

#[test]
fn a_host_unreachable_at_the_start_is_never_taken_out() {
    let fleet = Fleet::up_with(3, 55, &["--haproxy"]);
    fleet.kill_sshd(1);
    let site = fleet.variant("site-haproxy.yaml", &project_playbook("site-haproxy.yaml"));
    let traffic = Traffic::start(&fleet);
    let out = play(&fleet, &site, &[]);
    let tally = traffic.finish();
    assert_eq!(out.code, 4, "unreachable: {}", out.all());
    out.assert_says("fatal: [host2]: UNREACHABLE!");
    assert!(
        out.recap("host2").contains("unreachable=1"),
        "{}",
        out.stdout
    );
    out.assert_never_says("HOSTS OUT OF ROTATION");
    // host1 rolled; host2 stays in rotation on 1.0 (HAProxy never touched
    // it); the rollout stopped before host3.
    let t = haproxy_transitions(&fleet);
    assert!(t.iter().all(|l| l.starts_with("host1")), "{t:?}");
    assert_only_host1_rolled(&fleet);
    no_failed_requests(&tally);
}

#[test]
fn a_host_whose_sshd_dies_mid_deploy_stays_out_and_is_named() {
    let fleet = Fleet::up_with(3, 56, &["--haproxy"]);
    let site = haproxy_site_with_step(
        &fleet,
        "slow.yaml",
        "    - name: A long step\n      command: sleep 5\n",
    );
    let traffic = Traffic::start(&fleet);
    // Kill host1's sshd (and its sessions) while it runs the long step.
    let out = std::thread::scope(|scope| {
        let run = scope.spawn(|| play(&fleet, &site, &[]));
        let haproxy_log = fleet.dir.join("haproxy.out");
        let out_of_rotation = "host1 is going DOWN for maintenance";
        common::wait_for_text(&haproxy_log, out_of_rotation, Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(1500));
        fleet.kill_sshd(0);
        run.join().unwrap()
    });
    let tally = traffic.finish();
    assert_eq!(out.code, 4, "unreachable: {}", out.all());
    assert!(
        out.recap("host1").contains("unreachable=1"),
        "{}",
        out.stdout
    );
    assert_host1_kept_out(&fleet, &out);
    no_failed_requests(&tally);
}

#[test]
fn a_host_whose_target_the_group_does_not_know_is_never_deployed() {
    // host2's inventory names an instance the target group does not hold
    // (a replaced instance): its real target must keep serving, untouched.
    let fleet = Fleet::up_with(
        3,
        70,
        &["--elbv2", "--elb-port", "25140", "--dereg-delay", "2"],
    );
    let site = fleet.variant("site.yaml", &project_playbook("site.yaml"));
    let host_vars = fleet.dir.join("playbooks/host_vars");
    fs::create_dir_all(&host_vars).unwrap();
    fs::write(
        host_vars.join("host2.yaml"),
        "instance_id: i-0replaced0000000\n",
    )
    .unwrap();
    let traffic = Traffic::start(&fleet);
    let out = play(&fleet, &site, &[]);
    let tally = traffic.finish();
    assert_eq!(out.code, 2, "{}", out.all());
    out.assert_says(
        "i-0replaced0000000 (from the host's instance_id variable) is not registered in target group",
    );
    out.assert_never_says("HOSTS OUT OF ROTATION");
    // host1 rolled; host2 was neither deregistered nor deployed; the
    // rollout stopped before host3.
    assert_eq!(target_mutations(&fleet), lifecycle_calls(&fleet, 1));
    assert_only_host1_rolled(&fleet);
    no_failed_requests(&tally);
}

#[test]
fn a_hung_command_out_of_rotation_times_out_and_the_host_stays_out() {
    // The deploy hangs on host1 out of rotation: `timeout:` ends it, the
    // host is failed and kept out, named with its restore command, and
    // the rollout stops instead of waiting forever.
    let fleet = Fleet::up_with(3, 72, &["--haproxy"]);
    let site = haproxy_site_with_step(
        &fleet,
        "hung.yaml",
        "    - name: A step that hangs\n      command: sleep 600\n      timeout: 2\n",
    );
    let traffic = Traffic::start(&fleet);
    let started = std::time::Instant::now();
    let out = play(&fleet, &site, &[]);
    let took = started.elapsed();
    let tally = traffic.finish();
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(took < Duration::from_secs(60), "took {took:?}");
    out.assert_says("failed to execute in the expected time frame (2)");
    assert_host1_kept_out(&fleet, &out);
    no_failed_requests(&tally);
}
