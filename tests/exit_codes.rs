//! Every way a run ends, and the exit code it gives (README: "Exit codes").
//! Local connections and closed loopback ports only: no fleet needed.

mod common;

use common::{Outcome, rollout_env};
use std::path::Path;

const INVENTORY: &str = "\
all:
  hosts:
    web1:
      ansible_connection: local
    gone:
      ansible_host: 127.0.0.1
      ansible_port: 1
";

/// Runs `rollout play` on `playbook` (written to a temp dir with the
/// inventory above) with a state dir of its own.
fn play(playbook: &str, extra: &[&str]) -> (Outcome, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("site.yaml"), playbook).unwrap();
    std::fs::write(dir.path().join("inventory.yaml"), INVENTORY).unwrap();
    let state = dir.path().join("state");
    let site = dir.path().join("site.yaml");
    let inventory = dir.path().join("inventory.yaml");
    let mut args = vec![
        "play",
        site.to_str().unwrap(),
        "-i",
        inventory.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = rollout_env(
        &args,
        &[
            ("ROLLOUT_STATE_DIR", state.to_str().unwrap()),
            // AWS: answers from nowhere but a closed port.
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ],
    );
    (out, dir)
}

fn plain(hosts: &str, task: &str) -> String {
    format!("- hosts: {hosts}\n  gather_facts: false\n  tasks:\n    - {task}\n")
}

const HAPROXY_PLAY: &str = "\
- hosts: web1
  gather_facts: false
  load_balancer:
    haproxy:
      socket: /nonexistent/admin.sock
      backend: app
      server: web1
  tasks:
    - command: /bin/true
";

#[test]
fn the_existing_cases_keep_their_codes() {
    let cases = [
        (plain("web1", "command: /bin/true"), vec![], 0, "ok=1"),
        (plain("web1", "command: /bin/false"), vec![], 2, "failed=1"),
        (
            plain("gone", "command: /bin/true"),
            vec![],
            4,
            "unreachable=1",
        ),
        (
            plain("web1", "no_such_module: x"),
            vec![],
            4,
            "no_such_module",
        ),
        (
            plain("web1", "command: /bin/true"),
            vec!["--forks", "x"],
            5,
            "forks",
        ),
        (
            plain("web1", "command: /bin/true"),
            vec!["-e", "@/nonexistent/vars.yaml"],
            5,
            "nonexistent",
        ),
    ];
    for (playbook, extra, code, says) in cases {
        let (out, _dir) = play(&playbook, &extra);
        assert_eq!(out.code, code, "{playbook} {extra:?}:\n{}", out.all());
        assert!(out.all().contains(says), "{says:?} in:\n{}", out.all());
    }
}

#[test]
fn a_window_that_closes_before_the_first_batch_could_finish_exits_99() {
    let end = (chrono::Local::now() + chrono::Duration::minutes(1)).to_rfc3339();
    let (out, _dir) = play(HAPROXY_PLAY, &["--window-end", &end]);
    assert_eq!(out.code, 99, "{}", out.all());
    out.assert_says("maintenance window closes");
}

#[test]
fn a_group_locked_by_another_rollout_exits_6_and_touches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    // The lock of backend `app` behind that socket, really held (an OS
    // lock on its file) by another process: this test.
    let lock_file = rollout::state::lock::lock_path(&state, "haproxy--/nonexistent/admin.sock-app");
    let held = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_file)
        .unwrap();
    held.try_lock().unwrap();
    std::fs::write(
        &lock_file,
        format!("{} 2026-12-04T00:00:00+00:00\n", std::process::id()),
    )
    .unwrap();
    std::fs::write(dir.path().join("site.yaml"), HAPROXY_PLAY).unwrap();
    std::fs::write(dir.path().join("inventory.yaml"), INVENTORY).unwrap();
    let site = dir.path().join("site.yaml");
    let inventory = dir.path().join("inventory.yaml");
    let out = rollout_env(
        &[
            "play",
            site.to_str().unwrap(),
            "-i",
            inventory.to_str().unwrap(),
        ],
        &[("ROLLOUT_STATE_DIR", state.to_str().unwrap())],
    );
    assert_eq!(out.code, 6, "{}", out.all());
    assert!(out.all().contains("another rollout (pid"), "{}", out.all());
    out.assert_never_says("TASK [command]");
    assert!(Path::new(&lock_file).exists());
    drop(held);
}

#[test]
fn an_unreachable_aws_endpoint_in_the_second_play_exits_7_after_the_first_ran() {
    let playbook = format!(
        "{}{}",
        plain("web1", "command: /bin/true"),
        "\
- hosts: web1
  gather_facts: false
  load_balancer:
    elbv2:
      target_groups: [web-tg]
  tasks:
    - command: /bin/true
"
    );
    let (out, _dir) = play(&playbook, &[]);
    assert_eq!(out.code, 7, "{}", out.all());
    // The first play changed the host before the second one failed.
    out.assert_says("changed: [web1]");
    assert!(out.all().contains("load_balancer"), "{}", out.all());
}

/// One host per batch, each touching its own file in `out`.
fn eight_batches(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let hosts: String = (1..=8)
        .map(|i| format!("    h{i}:\n      ansible_connection: local\n"))
        .collect();
    let inventory = dir.join("inventory.yaml");
    std::fs::write(&inventory, format!("all:\n  hosts:\n{hosts}")).unwrap();
    let site = dir.join("site.yaml");
    std::fs::write(
        &site,
        format!(
            "- hosts: all\n  gather_facts: false\n  serial: 1\n  tasks:\n    \
             - command: touch {}/{{{{ inventory_hostname }}}}\n",
            dir.join("out").display()
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("out")).unwrap();
    (site, inventory)
}

#[test]
fn a_journal_that_cannot_be_written_stops_the_run_before_the_next_batch_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let (site, inventory) = eight_batches(dir.path());
    let state = dir.path().join("state");
    // A file size limit makes the journal's writes fail (EFBIG, the signal
    // ignored) once it holds about a kilobyte: a few batches in.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 2; exec \"$@\"")
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_rollout"))
        .args([
            "play",
            site.to_str().unwrap(),
            "-i",
            inventory.to_str().unwrap(),
        ])
        .env("ROLLOUT_STATE_DIR", &state)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot write the run journal")
            && stderr.contains(&state.join("journal").display().to_string()),
        "{stderr}"
    );
    // The batch whose entry failed was the last to run: one host more ran
    // than the journal holds complete.
    let ran = std::fs::read_dir(dir.path().join("out")).unwrap().count();
    let journal = std::fs::read_dir(state.join("journal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .unwrap();
    let text = std::fs::read_to_string(&journal).unwrap();
    let journaled = (text.split_inclusive('\n'))
        .filter(|l| l.ends_with('\n') && l.contains("\"kind\":\"completed\""))
        .count();
    assert!(
        ran < 8 && ran == journaled + 1,
        "{ran} ran, {journaled} journaled: {text}"
    );
    // What the journal holds is still readable, its torn end forgiven.
    let status = rollout_env(
        &["status"],
        &[("ROLLOUT_STATE_DIR", state.to_str().unwrap())],
    );
    assert_eq!(status.code, 0, "{}", status.all());
}
