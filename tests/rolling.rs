//! The rolling lifecycle end to end: real sshd hosts running a real app
//! behind a real HAProxy (tests/bed --haproxy), live HTTP traffic through
//! it during `rollout play playbooks/site.yaml`, and the negative control:
//! the same check catches failed requests when the lifecycle is off.

mod common;

use common::fleet::Fleet;
use common::lb::{
    Traffic, aws_env, haproxy_transitions, lifecycle_calls, no_failed_requests, one_at_a_time,
    served_everything, served_version, target_mutations,
};
use rollout::traffic::elbv2::DESCRIBE_BURST;
use std::fs;
use std::path::Path;

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

#[test]
fn haproxy_rollout_under_live_traffic_drops_nothing() {
    let fleet = Fleet::up_with(4, 40, &["--haproxy"]);
    let traffic = Traffic::start(&fleet);
    let out = fleet.play(&site(), &["-e", "version=2.0"]);
    let tally = traffic.finish();
    assert_eq!(out.code, 0, "{}", out.all());
    served_everything(&tally);
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
    out.assert_never_says("OUT OF ROTATION");
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
    no_failed_requests(&tally);
    for i in 0..4 {
        assert_eq!(served_version(&fleet, i), format!("host{} 2.0", i + 1));
    }
    // The mutations moto saw are exactly the lifecycle, host by host, each
    // with the port it was registered with; the instance IDs came from
    // each host's IMDSv2.
    assert_eq!(target_mutations(&fleet), lifecycle_calls(&fleet, 4));
    // HAProxy followed the target group's state, one host at a time.
    assert_eq!(haproxy_transitions(&fleet), one_at_a_time(4));
    // Shared polling: never more than a small burst plus 10 Describe
    // calls in any second.
    let most = DESCRIBE_BURST as usize + 10;
    let log = fs::read_to_string(fleet.dir.join("elb-calls.log")).unwrap();
    let times: Vec<f64> = log
        .lines()
        .filter(|l| l.contains(" Describe"))
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect();
    for w in times.windows(most + 1) {
        assert!(
            w[most] - w[0] >= 0.99,
            "{} Describe calls within {:.3}s",
            most + 1,
            w[most] - w[0]
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
        if line.starts_with("  load_balancer:") || line.starts_with("  rollback:") {
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
    assert!(!plain.contains("load_balancer") && !plain.contains("rollback"));
    assert!(plain.contains("restart app"));
    let playbook = fleet.variant("site-without-lifecycle.yaml", &plain);
    let traffic = Traffic::start(&fleet);
    let out = fleet.play(&playbook, &["-e", "version=2.0"]);
    let tally = traffic.finish();
    assert_eq!(out.code, 0, "{}", out.all());
    let lost = tally["failed"].as_u64().unwrap() + tally["errors"].as_u64().unwrap();
    // The lost requests are the proof. HAProxy itself may not even mark
    // the server DOWN: a restart quicker than its `fall 2` checks 250 ms
    // apart fails only the requests sent meanwhile.
    assert!(
        lost > 0,
        "the check must catch an unmanaged restart: {tally:#}"
    );
}

#[test]
fn check_mode_shows_the_plan_and_changes_nothing() {
    let fleet = Fleet::up_with(2, 42, &["--haproxy"]);
    let out = fleet.play(&site(), &["-e", "version=2.0", "--check"]);
    assert_eq!(out.code, 0, "{}", out.all());
    out.assert_says("would deregister host1");
    out.assert_says("1 of 1 other target(s) healthy, min_healthy needs 1");
    out.assert_says("would register host2");
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
    let pb = fleet.variant(
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
    out.assert_says("HOSTS OUT OF ROTATION");
    out.assert_says("set server app/host1 state ready");
    no_failed_requests(&tally);
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

/// An RFC 3339 time `secs` from now (GNU date).
fn in_seconds(secs: u64) -> String {
    let out = std::process::Command::new("date")
        .args(["-d", &format!("+{secs} seconds"), "--iso-8601=seconds"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn maintenance_window_starts_no_batch_that_could_not_finish() {
    let fleet = Fleet::up_with(2, 49, &["--haproxy"]);
    // 30 s drain + 60 s health bound do not fit in a 20 s window.
    let end = in_seconds(20);
    let out = fleet.play(&site(), &["-e", "version=2.0", "--window-end", &end]);
    assert_eq!(out.code, 99, "{}", out.all());
    out.assert_says("the maintenance window closes in");
    out.assert_says("--limit host1,host2");
    out.assert_says("--resume");
    assert!(haproxy_transitions(&fleet).is_empty());
    // The same from the play's own window_end keyword.
    let text = fs::read_to_string(site()).unwrap().replace(
        "  serial: 1
",
        "  serial: 1
  window_end: \"{{ end }}\"\n",
    );
    let pb = fleet.variant("windowed.yaml", &text);
    let out = fleet.play(&pb, &["-e", &format!("end={}", in_seconds(20))]);
    assert_eq!(out.code, 99, "{}", out.all());
    out.assert_says("the maintenance window closes in");
    assert!(haproxy_transitions(&fleet).is_empty());
    // With tighter bounds they fit, and later batches go by the first.
    let end = in_seconds(120);
    let out = fleet.play(
        &site(),
        &[
            "-e",
            "version=2.0",
            "-e",
            "healthy_timeout=5",
            "--window-end",
            &end,
        ],
    );
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(haproxy_transitions(&fleet), one_at_a_time(2));
}

#[test]
fn on_failure_rollback_puts_a_host_back_only_once_it_is_healthy_again() {
    let fleet = Fleet::up_with(3, 52, &["--haproxy"]);
    // host1's new release is broken; the rollback puts 1.0 back, and
    // clears the breakage only with -e fix=true.
    let text = fs::read_to_string(site()).unwrap();
    let text = text.replace(
        "    - import_tasks: release/deploy.yaml\n",
        "    - import_tasks: release/deploy.yaml\n    - name: Break host1\n      file: { path: \"{{ app_dir }}/unhealthy\", state: touch }\n      when: inventory_hostname == 'host1'\n",
    );
    let text = text.replace(
        "    - import_tasks: release/rollback.yaml\n",
        "    - import_tasks: release/rollback.yaml\n    - name: The previous release is not broken\n      file: { path: \"{{ app_dir }}/unhealthy\", state: absent }\n      when: fix | bool\n",
    );
    let pb = fleet.variant("rollback.yaml", &text);
    let args = |fix: &str| {
        [
            "-e",
            "version=2.0",
            "-e",
            "healthy_timeout=3",
            "-e",
            "on_failure=rollback",
            "-e",
        ]
        .into_iter()
        .map(String::from)
        .chain([format!("fix={fix}")])
        .collect::<Vec<_>>()
    };
    let run = |fix: &str| {
        let a = args(fix);
        fleet.play(&pb, &a.iter().map(String::as_str).collect::<Vec<_>>())
    };

    // A rollback that does not make the host healthy: it stays out.
    let out = run("false");
    assert_eq!(out.code, 2, "{}", out.all());
    out.assert_says("running the play's rollback tasks on host1");
    out.assert_says("TASK [Put the previous version back]");
    out.assert_says("HOSTS OUT OF ROTATION");
    assert_eq!(
        haproxy_transitions(&fleet),
        [
            "host1 enters drain state",
            "host1 is going DOWN for maintenance"
        ]
    );

    // The operator clears the breakage (the precheck would refuse host1).
    fs::remove_file(fleet.root(0).join("app/unhealthy")).unwrap();

    // A rollback that works: host1 serves 1.0 in rotation again, still
    // counted as failed, and the rollout stopped before host2.
    let traffic = Traffic::start(&fleet);
    let out = run("true");
    let tally = traffic.finish();
    assert_eq!(out.code, 2, "{}", out.all());
    out.assert_says("host1 was rolled back and is healthy in rotation again");
    out.assert_never_says("HOSTS OUT OF ROTATION");
    assert!(out.recap("host1").contains("failed=1"), "{}", out.stdout);
    assert_eq!(served_version(&fleet, 0), "host1 1.0");
    assert_eq!(served_version(&fleet, 1), "host2 1.0");
    let t = haproxy_transitions(&fleet);
    assert_eq!(
        t.last().map(String::as_str),
        Some("host1 is UP/READY (leaving forced maintenance)"),
        "{t:?}"
    );
    assert!(t.iter().all(|l| l.starts_with("host1")), "{t:?}");
    no_failed_requests(&tally);
}

/// The classic Ansible shape: the release's out-of-rotation steps and its
/// restart handler in a role under `roles:`. The role's tasks run in the
/// `tasks` section, out of rotation, and its handler flushes before the
/// host goes back, so live traffic sees no failure.
#[test]
fn a_role_under_roles_runs_out_of_rotation() {
    let fleet = Fleet::up_with(2, 90, &["--haproxy"]);
    let role = Path::new(&fleet.path("playbooks/roles/app_release")).to_path_buf();
    for (file, text) in [
        (
            "tasks/main.yml",
            "- import_tasks: ../../../release/deploy.yaml\n",
        ),
        (
            "handlers/main.yml",
            "- name: restart app\n  command: \"{{ app_ctl }} restart\"\n",
        ),
    ] {
        fs::create_dir_all(role.join(file).parent().unwrap()).unwrap();
        fs::write(role.join(file), text).unwrap();
    }
    let site = fs::read_to_string(site()).unwrap();
    let handlers =
        "  handlers:\n    - name: restart app\n      command: \"{{ app_ctl }} restart\"\n";
    assert!(site.contains(handlers), "site-haproxy.yaml changed: {site}");
    let pb = fleet.variant(
        "roles.yaml",
        &site.replace(handlers, "").replace(
            "  tasks:\n    - import_tasks: release/deploy.yaml\n",
            "  roles:\n    - app_release\n",
        ),
    );
    let traffic = Traffic::start(&fleet);
    let out = fleet.play(&pb, &["-e", "version=2.0"]);
    let tally = traffic.finish();
    assert_eq!(out.code, 0, "{}", out.all());
    no_failed_requests(&tally);
    assert_eq!(haproxy_transitions(&fleet), one_at_a_time(2));
    for i in 0..2 {
        assert_eq!(served_version(&fleet, i), format!("host{} 2.0", i + 1));
    }
    // Per host: out of rotation, the role's task, its handler, back.
    let steps = [
        "load_balancer: take out of rotation",
        "TASK [app_release : Install the new version]",
        "RUNNING HANDLER [app_release : restart app]",
        "load_balancer: back in rotation",
    ];
    let mut from = 0;
    for _host in 0..2 {
        for step in steps {
            let at = out.stdout[from..]
                .find(step)
                .unwrap_or_else(|| panic!("'{step}' missing after byte {from}:\n{}", out.stdout));
            from += at + step.len();
        }
    }
}
