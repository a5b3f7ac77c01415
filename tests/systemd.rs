//! `systemd` and `service_facts` against real systemd: a disposable Debian
//! root booted with systemd as its PID 1 (`DebianRoot::up_systemd`,
//! tests/bed/debian-root-systemd), reached over SSH through an sshd that
//! systemd started as a unit. One test uses the plain root (sshd as PID 1,
//! no running manager), where systemctl works offline.
//!
//! Slots 127.0.0.180-184 and ports 25430-25434 belong to these tests.

mod common;

use common::debian_root::DebianRoot;
use std::time::Duration;

fn systemd_root(n: u8) -> Option<DebianRoot> {
    DebianRoot::up_systemd(180 + n, 25430 + u16::from(n))
}

/// A play of `tasks` (YAML, indented by 4) on the root, without facts.
fn play(root: &DebianRoot, tasks: &str, args: &[&str]) -> common::Outcome {
    let text = format!("- hosts: debian\n  gather_facts: false\n  tasks:\n{tasks}");
    root.play("play.yml", &text, args)
}

#[track_caller]
fn changed(out: &common::Outcome, n: usize) {
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.recap("debian").contains(&format!("changed={n} ")),
        "expected changed={n}:\n{}",
        out.stdout
    );
}

/// A tiny service: a shell loop, whose reload leaves a line in a file.
const UNIT: &str = "[Unit]\nDescription=rollout test service\n\n[Service]\n\
    ExecStart=/bin/sh -c 'while :; do sleep 1; done'\n\
    ExecReload=/bin/sh -c 'echo reloaded >> /var/lib/rollout-web.reloads'\n\n\
    [Install]\nWantedBy=multi-user.target\n";

/// Copies the unit into /etc/systemd/system (with `copy`) and starts it
/// after a daemon-reload.
fn install_and_start(root: &DebianRoot) -> common::Outcome {
    let content = serde_json::to_string(UNIT).unwrap();
    play(
        root,
        &format!(
            "    - copy: {{dest: /etc/systemd/system/rollout-web.service, content: {content}}}\n    \
             - systemd: {{name: rollout-web, state: started, daemon_reload: true}}\n      \
             register: r\n    - debug: {{var: r.status.ActiveState}}\n"
        ),
        &[],
    )
}

fn main_pid(root: &DebianRoot) -> String {
    root.sh("systemctl show -p MainPID --value rollout-web")
        .trim()
        .to_string()
}

fn active(root: &DebianRoot) -> String {
    let out = root
        .ssh("systemctl is-active rollout-web")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn the_root_boots_real_systemd_and_leaves_nothing_behind() {
    let Some(root) = systemd_root(0) else { return };
    assert_eq!(root.sh("cat /proc/1/comm").trim(), "systemd");
    // `running`, or `degraded` if some unit of the minimal root failed.
    let state = root
        .ssh("systemctl is-system-running --wait")
        .output()
        .unwrap();
    let state = String::from_utf8_lossy(&state.stdout).trim().to_string();
    assert!(state == "running" || state == "degraded", "{state}");
    assert_eq!(root.sh("systemctl is-active rollout-sshd").trim(), "active");
    assert_eq!(root.sh("systemd-detect-virt -c").trim(), "container-other");
    // Debian's own ssh.service would listen on this machine's port 22.
    assert_eq!(
        root.sh("systemctl is-enabled ssh.service || true").trim(),
        "masked"
    );

    let cgroups = std::fs::read_to_string(root.dir.join("cgroups")).unwrap();
    assert!(cgroups.lines().count() >= 2, "{cgroups}");
    let pid1 = root.pid1().expect("the root's PID 1");
    let dir = root.dir.display().to_string();
    let target = format!("{}:{}", root.address, root.port);
    drop(root);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !std::path::Path::new(&format!("/proc/{pid1}")).exists(),
        "systemd outlived its root"
    );
    assert!(std::net::TcpStream::connect(&target).is_err());
    for cgroup in cgroups.lines() {
        assert!(
            !std::path::Path::new(cgroup).exists(),
            "{cgroup} was left behind"
        );
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&dir), "a mount of {dir} was left behind");
}

#[test]
fn a_unit_is_started_reloaded_restarted_and_stopped() {
    let Some(root) = systemd_root(1) else { return };
    let first = install_and_start(&root);
    changed(&first, 2);
    first.assert_says("\"r.status.ActiveState\": \"inactive\"");
    assert_eq!(active(&root), "active");
    changed(&install_and_start(&root), 0);

    let pid = main_pid(&root);
    let reload = "    - systemd: {name: rollout-web, state: reloaded}\n      register: r\n    \
                  - debug: {var: r.state}\n";
    let out = play(&root, reload, &[]);
    changed(&out, 1);
    out.assert_says("\"r.state\": \"started\"");
    assert_eq!(root.sh("cat /var/lib/rollout-web.reloads"), "reloaded\n");
    assert_eq!(main_pid(&root), pid, "a reload keeps the process");

    // `service` on a systemd host is `systemd`, as in Ansible (its result
    // carries `status`).
    let restart = "    - service: {name: rollout-web.service, state: restarted}\n      register: r\n    \
                   - debug: {var: r.status.Id}\n";
    let out = play(&root, restart, &[]);
    changed(&out, 1);
    out.assert_says("\"r.status.Id\": \"rollout-web.service\"");
    let restarted = main_pid(&root);
    assert_ne!(restarted, pid, "a restart starts a new process");
    assert_ne!(restarted, "0");

    let stop = "    - systemd: {name: rollout-web, state: stopped}\n      register: r\n    \
                - debug: {var: r.status.MainPID}\n";
    let out = play(&root, stop, &[]);
    changed(&out, 1);
    // `status` is systemctl show's view from before the change, as Ansible's.
    out.assert_says(&format!("\"r.status.MainPID\": \"{restarted}\""));
    assert_eq!(active(&root), "inactive");
    changed(&play(&root, stop, &[]), 0);
    // Reloading a stopped unit starts it (Ansible's rule).
    changed(&play(&root, reload, &[]), 1);
    assert_eq!(active(&root), "active");
    assert_eq!(root.sh("cat /var/lib/rollout-web.reloads"), "reloaded\n");

    // no_block queues the job; force and daemon_reexec reach systemctl too.
    let pid = main_pid(&root);
    let queued = "    - systemd: {name: rollout-web, state: restarted, no_block: true}\n    \
                  - systemd: {name: rollout-web, enabled: true, force: true, daemon_reexec: true}\n";
    changed(&play(&root, queued, &[]), 2);
    root.sh("for i in $(seq 50); do systemctl is-active -q rollout-web && break; sleep 0.1; done");
    assert_ne!(main_pid(&root), pid);
    assert_eq!(
        root.sh("systemctl is-enabled rollout-web").trim(),
        "enabled"
    );
    assert_eq!(root.sh("cat /proc/1/comm").trim(), "systemd");
}

#[test]
fn enabled_and_masked_change_the_links_once_and_check_mode_changes_nothing() {
    let Some(root) = systemd_root(2) else { return };
    changed(&install_and_start(&root), 2);
    let link = "/etc/systemd/system/multi-user.target.wants/rollout-web.service";
    let enable = "    - systemd: {name: rollout-web, enabled: true}\n      register: r\n    \
                  - debug: {var: r.enabled}\n";

    let checked = play(&root, enable, &["--check"]);
    changed(&checked, 1);
    assert_eq!(
        root.sh(&format!("test -L {link} || echo absent")),
        "absent\n"
    );

    let out = play(&root, enable, &[]);
    changed(&out, 1);
    out.assert_says("\"r.enabled\": true");
    assert!(
        root.sh(&format!("readlink {link}"))
            .contains("rollout-web.service")
    );
    changed(&play(&root, enable, &[]), 0);
    changed(&play(&root, enable, &["--check"]), 0);

    let disable = "    - systemd: {name: rollout-web, enabled: false}\n";
    changed(&play(&root, disable, &[]), 1);
    assert_eq!(
        root.sh(&format!("test -L {link} || echo absent")),
        "absent\n"
    );
    changed(&play(&root, disable, &[]), 0);

    // Stop in check mode: said, not done.
    let stop = "    - systemd: {name: rollout-web, state: stopped}\n";
    changed(&play(&root, stop, &["--check"]), 1);
    assert_eq!(active(&root), "active");

    // Masking a unit whose file is in /etc/systemd/system is refused by
    // systemctl; a unit under /usr/lib can be masked.
    root.sh("mv /etc/systemd/system/rollout-web.service /usr/lib/systemd/system/ && systemctl daemon-reload");
    let mask = "    - systemd: {name: rollout-web, masked: true, state: stopped}\n";
    changed(&play(&root, mask, &["--check"]), 1);
    assert_eq!(
        root.sh("systemctl is-enabled rollout-web || true").trim(),
        "disabled"
    );
    changed(&play(&root, mask, &[]), 1);
    assert_eq!(
        root.sh("readlink /etc/systemd/system/rollout-web.service"),
        "/dev/null\n"
    );
    assert_eq!(active(&root), "inactive");
    changed(&play(&root, mask, &[]), 0);
    // A masked unit cannot start: systemctl's words reach the user.
    let start = "    - systemd: {name: rollout-web, state: started}\n";
    let refused = play(&root, start, &[]);
    assert_eq!(refused.code, 2, "{}", refused.all());
    refused.assert_says("Unable to start service rollout-web: Failed to start rollout-web.service: Unit rollout-web.service is masked.");

    let unmask =
        "    - systemd: {name: rollout-web, masked: false, enabled: true, state: started}\n";
    changed(&play(&root, unmask, &[]), 1);
    assert_eq!(
        root.sh("systemctl is-enabled rollout-web").trim(),
        "enabled"
    );
    assert_eq!(active(&root), "active");
    changed(&play(&root, unmask, &[]), 0);
}

#[test]
fn errors_are_worded_as_ansible_words_them_and_service_facts_lists_units() {
    let Some(root) = systemd_root(3) else { return };
    let unknown = "    - systemd: {name: rollout-nothing, state: started}\n";
    let out = play(&root, unknown, &[]);
    assert_eq!(out.code, 2, "{}", out.all());
    out.assert_says("Could not find the requested service rollout-nothing: host");
    let unknown = "    - systemd: {name: rollout-nothing, enabled: true}\n";
    play(&root, unknown, &[])
        .assert_says("Could not find the requested service rollout-nothing: host");
    let nameless = "    - systemd: {state: started}\n";
    play(&root, nameless, &[]).assert_says("missing parameter(s) required by 'state': name");
    let glob = "    - systemd: {name: 'rollout-*', state: started}\n";
    play(&root, glob, &[]).assert_says("found '*' in service name: rollout-*");
    // No user manager here (it needs D-Bus, which the root lacks): bare
    // systemctl's own error, as Ansible reports it.
    let user = "    - systemd: {name: rollout-web, state: started, scope: user}\n";
    let out = play(&root, user, &[]);
    assert_eq!(out.code, 2, "{}", out.all());
    out.assert_says("Failed to connect to bus");

    // daemon_reload alone needs no name and, as in Ansible, is no change.
    let reload = "    - systemd: {daemon_reload: true}\n      register: r\n    - debug: {var: r}\n";
    let out = play(&root, reload, &[]);
    changed(&out, 0);
    out.assert_says("\"name\": null");
    out.assert_says("\"status\": {}");

    changed(&install_and_start(&root), 2);
    let facts = "    - service_facts:\n    - debug: {var: \"ansible_facts.services['rollout-web.service']\"}\n    \
                 - debug: {var: \"ansible_facts.services['rollout-sshd.service'].state\"}\n    \
                 - debug: {var: \"ansible_facts.services['ssh.service'].status\"}\n    \
                 - debug: {var: ansible_facts.services.cron.source}\n";
    let out = play(&root, facts, &[]);
    changed(&out, 0);
    out.assert_says("\"name\": \"rollout-web.service\"");
    out.assert_says("\"state\": \"running\"");
    out.assert_says("\"status\": \"disabled\"");
    out.assert_says("\"source\": \"systemd\"");
    out.assert_says("\"ansible_facts.services['rollout-sshd.service'].state\": \"running\"");
    out.assert_says("\"ansible_facts.services['ssh.service'].status\": \"masked\"");
    // The init scripts are there too, read with `service --status-all`.
    out.assert_says("\"ansible_facts.services.cron.source\": \"sysv\"");
}

#[test]
fn without_a_running_manager_links_still_change_offline_and_state_fails_clearly() {
    let Some(root) = DebianRoot::up(184, 25434) else {
        return;
    };
    let content = serde_json::to_string(UNIT).unwrap();
    let tasks = format!(
        "    - copy: {{dest: /etc/systemd/system/rollout-web.service, content: {content}}}\n    \
         - systemd: {{name: rollout-web, enabled: true}}\n"
    );
    changed(&play(&root, &tasks, &[]), 2);
    assert!(
        root.sh("readlink /etc/systemd/system/multi-user.target.wants/rollout-web.service")
            .contains("rollout-web.service")
    );
    changed(&play(&root, &tasks, &[]), 0);
    let mask = "    - systemd: {name: cron, masked: true}\n";
    changed(&play(&root, mask, &[]), 1);
    assert_eq!(
        root.sh("readlink /etc/systemd/system/cron.service"),
        "/dev/null\n"
    );
    let start = "    - systemd: {name: rollout-web, state: started}\n";
    let out = play(&root, start, &[]);
    assert_eq!(out.code, 2, "{}", out.all());
    out.assert_says("Service is in unknown state");
    // With systemd declared offline, Ansible's warning instead of a failure.
    let offline = "    - systemd: {name: rollout-web, state: started}\n      \
                   environment: {SYSTEMD_OFFLINE: '1'}\n      register: r\n    \
                   - debug: {var: r.warnings}\n";
    let out = play(&root, offline, &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    out.assert_says("Target is a chroot or systemd is offline.");
}
