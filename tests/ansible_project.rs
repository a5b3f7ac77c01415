//! An existing Ansible project runs unchanged: `playbooks/ansible-project/`
//! is Ansible's classic rolling update (pre_tasks disable each web host in
//! HAProxy through the `haproxy` module delegated to every host of
//! `lbservers`, then `roles:`, then post_tasks wait and enable it again),
//! with an `ansible.cfg`, a vaulted `group_vars` file and facts in a
//! template. It runs on the local fleet under live traffic, and what it
//! did is compared with what ansible-playbook (ansible-core 2.19.14 with
//! community.general) did on the same project, recorded once in
//! `tests/fixtures/ansible-project/ansible-playbook.out`.

mod common;

use common::fleet::Fleet;
use common::lb::{Traffic, haproxy_transitions, one_at_a_time, served_everything, served_version};
use std::path::{Path, PathBuf};

const SECRET: &str = "s3cr3t-token-for-the-demo";

fn project() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("playbooks/ansible-project")
}

/// The recorded ansible-playbook output.
fn recorded() -> String {
    let path = common::fixtures().join("ansible-project/ansible-playbook.out");
    std::fs::read_to_string(path).unwrap()
}

/// The play, task and handler headers of the run, in order (the play's
/// banner again for each batch), as ansible-playbook names them
/// (`role : task`).
fn task_headers(out: &str) -> Vec<String> {
    out.lines()
        .take_while(|l| !l.starts_with("PLAY RECAP"))
        .filter(|l| {
            ["PLAY [", "TASK [", "RUNNING HANDLER ["]
                .iter()
                .any(|h| l.starts_with(h))
        })
        .map(|l| l.trim_end_matches(['*', ' ']).to_string())
        .collect()
}

#[test]
fn the_classic_rolling_update_runs_unchanged_under_live_traffic() {
    let fleet = Fleet::up_with(3, 115, &["--haproxy"]);
    let project = project();
    let cfg = project.join("ansible.cfg");
    let lbservers = project.join("inventory/lbservers.ini");
    let password = project.join("vault-password.txt");
    let traffic = Traffic::start(&fleet);
    let out = fleet.play_env(
        project.join("rolling_update.yml").to_str().unwrap(),
        &[
            "-i",
            lbservers.to_str().unwrap(),
            "--vault-password-file",
            password.to_str().unwrap(),
            "-e",
            "version=2.0",
            "-v",
        ],
        &[("ANSIBLE_CONFIG", cfg.to_str().unwrap())],
    );
    let tally = traffic.finish();
    assert_eq!(out.code, 0, "{}", out.all());

    // Zero downtime: nothing failed, every host served both versions.
    served_everything(&tally);
    for i in 0..3 {
        assert_eq!(served_version(&fleet, i), format!("host{} 2.0", i + 1));
    }
    // HAProxy saw one host at a time drained, in maintenance and back, as
    // it did under ansible-playbook.
    assert_eq!(haproxy_transitions(&fleet), one_at_a_time(3));

    // The same tasks, named and ordered as ansible-playbook names them, and
    // the same recap.
    let recorded = recorded();
    assert_eq!(task_headers(&out.stdout), task_headers(&recorded));
    for host in ["host1", "host2", "host3"] {
        let line = |text: &str| {
            text.lines()
                .skip_while(|l| !l.starts_with("PLAY RECAP"))
                .find(|l| l.split_whitespace().next() == Some(host))
                .map(|l| l.split_whitespace().skip(2).collect::<Vec<_>>().join(" "))
        };
        assert_eq!(line(&out.stdout), line(&recorded), "recap of {host}");
    }

    // Facts reached the role's template: the host's own name and arch.
    let hostname = std::process::Command::new("hostname")
        .arg("-s")
        .output()
        .unwrap();
    let hostname = String::from_utf8_lossy(&hostname.stdout).trim().to_string();
    let motd = std::fs::read_to_string(fleet.root(0).join("app/motd")).unwrap();
    assert!(
        motd.starts_with(&format!("{hostname} (")) && motd.contains(std::env::consts::ARCH),
        "motd: {motd}"
    );
    // The vaulted value reached the host, and nothing else.
    let env = fleet.root(0).join("app/app.env");
    assert!(std::fs::read_to_string(&env).unwrap().contains(SECRET));
    assert!(
        !out.all().contains(SECRET),
        "the vaulted secret was printed"
    );
}

#[test]
fn a_wrong_vault_password_stops_before_any_host_is_touched() {
    let fleet = Fleet::up_with(2, 116, &["--haproxy"]);
    let project = project();
    let wrong = fleet.write("wrong-password", "not-the-password\n");
    let lbservers = project.join("inventory/lbservers.ini");
    let out = fleet.play_env(
        project.join("rolling_update.yml").to_str().unwrap(),
        &[
            "-i",
            lbservers.to_str().unwrap(),
            "--vault-password-file",
            &wrong,
        ],
        &[(
            "ANSIBLE_CONFIG",
            project.join("ansible.cfg").to_str().unwrap(),
        )],
    );
    assert_ne!(out.code, 0, "{}", out.all());
    assert!(
        out.all().contains("group_vars/web/vault.yml"),
        "{}",
        out.all()
    );
    assert!(haproxy_transitions(&fleet).is_empty());
    assert_eq!(served_version(&fleet, 0), "host1 1.0");
}
