//! End-to-end runs of the real binary on local connections: the playbook
//! language, output, exit codes and the effects of commands.

mod common;

use common::{fixtures, play_local, rollout};
use std::fs;

fn read(path: std::path::PathBuf) -> String {
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn language_features_run_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let out = play_local("local/features.yaml", dir.path(), &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    out.assert_says("PLAY [Language features on local hosts] ***");
    assert!(
        out.stdout
            .contains("TASK [command with a registered result] ***")
    );
    assert!(
        out.stdout.contains("skipping: [web3]"),
        "when: list skips web3"
    );
    // loop with loop_var/index_var, and the shell appended per item
    assert_eq!(read(dir.path().join("web1.loop")), "apple-0\npear-1\n");
    out.assert_says("changed: [web1] => (item=apple)");
    // include_tasks ran for web hosts only, relative to the including file
    assert!(dir.path().join("included-web2").exists());
    assert!(!dir.path().join("included-db1").exists());
    assert!(out.stdout.contains("leaf for web1"));
    // the handler ran once per notifying host, after the section
    assert_eq!(read(dir.path().join("web1.handler")), "restarted\n");
    assert!(out.stdout.contains("RUNNING HANDLER [restart app]"));
    // run_once ran on the first host only; delegate_to ran for db1 only
    let once: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().into_string().unwrap())
        .filter(|n| n.starts_with("once-"))
        .collect();
    assert_eq!(once, vec!["once-web1".to_string()]);
    assert!(dir.path().join("delegated-db1").exists());
    out.assert_says("[db1 -> localhost]");
    // recap: every host ok, none failed
    for host in ["web1", "web2", "web3", "db1"] {
        let line = out.recap(host);
        assert!(
            line.contains("failed=0") && line.contains("unreachable=0"),
            "{line}"
        );
    }
}

#[test]
fn the_diff_keyword_shows_or_hides_a_tasks_diff_over_the_flag() {
    let diff_of = |name: &str, line: &str, dir: &std::path::Path| {
        format!(
            "--- before\n+++ after: {}/{name}\n@@ -0,0 +1 @@\n+{line}\nchanged: [web1]",
            dir.display()
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let out = play_local("local/diff_keyword.yaml", dir.path(), &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    out.assert_says(&diff_of("a", "one", dir.path()));
    assert!(!out.stdout.contains("+two") && !out.stdout.contains("+secret"));

    let dir = tempfile::tempdir().unwrap();
    let out = play_local("local/diff_keyword.yaml", dir.path(), &["--diff"]);
    assert_eq!(out.code, 0, "{}", out.all());
    out.assert_says(&diff_of("a", "one", dir.path()));
    out.assert_says(&diff_of("b", "two", dir.path()));
    assert!(!out.stdout.contains("secret"), "{}", out.stdout);
}

#[test]
fn include_tasks_runs_per_host_and_item_and_fails_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = play_local("local/dynamic_include.yaml", dir.path(), &[]);
    assert_eq!(out.code, 2, "{}", out.all());
    // The item is visible in the included tasks, one run per item.
    assert_eq!(read(dir.path().join("web1.letters")), "a\nb\n");
    assert!(dir.path().join("after-web1").exists());
    // web2's file is missing: the include fails there, at its own line.
    assert!(!dir.path().join("after-web2").exists());
    assert!(
        out.stdout.contains("dynamic_include.yaml:5:"),
        "{}",
        out.all()
    );
    assert!(out.recap("web2").contains("failed=1"), "{}", out.all());
}

#[test]
fn block_rescue_always_and_ignore_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = play_local("local/blocks.yaml", dir.path(), &[]);
    assert_eq!(
        out.code,
        0,
        "a rescued failure is not a failure:\n{}",
        out.all()
    );
    assert!(dir.path().join("block-web1").exists());
    assert!(
        !dir.path().join("block-web2").exists(),
        "the block stops at the failure"
    );
    assert!(dir.path().join("rescue-web2").exists());
    assert!(!dir.path().join("rescue-web1").exists());
    for h in ["web1", "web2", "web3"] {
        assert!(
            dir.path().join(format!("always-{h}")).exists(),
            "always runs for {h}"
        );
    }
    assert!(
        out.recap("web2").contains("rescued=1"),
        "{}",
        out.recap("web2")
    );
    assert!(
        out.recap("web1").contains("ignored=1"),
        "{}",
        out.recap("web1")
    );
    assert!(out.stdout.contains("...ignoring"));
}

#[test]
fn a_failed_host_is_reported_and_others_carry_on() {
    let dir = tempfile::tempdir().unwrap();
    let out = play_local("local/partial.yaml", dir.path(), &[]);
    assert_eq!(out.code, 2, "{}", out.all());
    out.assert_says("fatal: [web2]: FAILED! =>");
    assert!(
        out.stdout.contains("\"rc\":3"),
        "the result is shown on failure"
    );
    assert!(dir.path().join("after-web1").exists());
    assert!(dir.path().join("after-web3").exists());
    assert!(!dir.path().join("after-web2").exists());
    assert!(out.recap("web2").contains("failed=1"));
}

#[test]
fn max_fail_percentage_stops_before_the_next_batch() {
    let dir = tempfile::tempdir().unwrap();
    let out = play_local("local/failing.yaml", dir.path(), &[]);
    assert_eq!(out.code, 2, "{}", out.all());
    out.assert_says("NO MORE HOSTS LEFT");
    assert!(
        !dir.path().join("ran-web2").exists(),
        "batch 2 never started"
    );
    assert!(!dir.path().join("ran-web1").exists());
}

#[test]
fn any_errors_fatal_stops_every_host_after_the_task() {
    let dir = tempfile::tempdir().unwrap();
    let out = play_local("local/fatal.yaml", dir.path(), &[]);
    assert_eq!(out.code, 2, "{}", out.all());
    out.assert_says("any_errors_fatal");
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no host ran the next task"
    );
}

#[test]
fn until_retries_then_fails() {
    let dir = tempfile::tempdir().unwrap();
    let out = play_local("local/until.yaml", dir.path(), &[]);
    assert_eq!(out.code, 2, "{}", out.all());
    assert_eq!(read(dir.path().join("attempts")).lines().count(), 3);
    out.assert_says("FAILED - RETRYING: [web1]: succeeds on the third attempt (5 retries left).");
    assert!(
        out.stdout.contains("(1 retries left)"),
        "retries: 2 means three attempts"
    );
    // Exhausted: Ansible's result says attempts=2 (its retries) after 3 runs.
    out.assert_says("\"attempts\":2");
}

#[test]
fn tags_and_skip_tags() {
    let dir = tempfile::tempdir().unwrap();
    let out = play_local("local/tags.yaml", dir.path(), &["--tags", "deploy"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let exists = |n: &str| dir.path().join(n).exists();
    assert!(exists("deploy") && exists("always") && !exists("config") && !exists("never"));

    let dir = tempfile::tempdir().unwrap();
    let out = play_local(
        "local/tags.yaml",
        dir.path(),
        &["--skip-tags", "deploy,always", "--tags", "all,debug"],
    );
    assert_eq!(out.code, 0, "{}", out.all());
    let exists = |n: &str| dir.path().join(n).exists();
    assert!(!exists("deploy") && !exists("always") && exists("config") && exists("never"));
}

#[test]
fn no_log_hides_secrets_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("events.jsonl");
    let out = play_local(
        "local/secrets.yaml",
        dir.path(),
        &["-vvv", "--events-json", json.to_str().unwrap()],
    );
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(!out.all().contains("s3cr3t-value"), "{}", out.all());
    assert!(!read(json).contains("s3cr3t-value"));
    assert!(out.stdout.contains("censored"));
}

#[test]
fn templated_values_never_reach_a_shell() {
    let dir = tempfile::tempdir().unwrap();
    let pwned = dir.path().join("pwned");
    let p = pwned.display();
    let payload = serde_json::json!({ "payload": format!("; touch {p} $(touch {p}) `touch {p}` && touch {p}") }).to_string();
    let out = play_local("local/injection.yaml", dir.path(), &["-e", &payload]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(!pwned.exists(), "the payload ran through a shell");
}

#[test]
fn what_a_host_prints_is_never_rendered() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "token: {{ secret_token }}";
    let page = "{% for i in range(3) %}{{ i }}{% endfor %}\n<p>{{ user.name }}</p>";
    fs::write(dir.path().join("secret.in"), secret).unwrap();
    fs::write(dir.path().join("page.in"), page).unwrap();
    let out = play_local("local/host_data.yaml", dir.path(), &["-vvv"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(read(dir.path().join("secret.out")), secret);
    assert_eq!(read(dir.path().join("page.out")), page, "through set_fact");
    assert_eq!(read(dir.path().join("page.hostvars")), page);
    let lines: Vec<_> = page.lines().collect();
    assert_eq!(read(dir.path().join("line.0")), lines[0], "a loop item");
    assert_eq!(read(dir.path().join("line.1")), lines[1]);
    assert!(!out.all().contains("s3cr3t-value"), "{}", out.all());
}

#[test]
fn command_output_is_cut_at_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let out = play_local("local/output_cap.yaml", dir.path(), &[]);
    assert_eq!(out.code, 0, "{}", out.all());
}

#[test]
fn check_mode_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = play_local("local/check.yaml", dir.path(), &["--check"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(!dir.path().join("checked").exists());
    assert!(
        dir.path().join("forced").exists(),
        "check_mode: false runs for real"
    );
}

#[test]
fn variable_precedence() {
    let dir = tempfile::tempdir().unwrap();
    let out = play_local("local/precedence.yaml", dir.path(), &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    let out = play_local(
        "local/precedence.yaml",
        dir.path(),
        &["-e", "level=extra forced=extra"],
    );
    assert_eq!(out.code, 0, "extra vars beat set_fact:\n{}", out.all());
}

#[test]
fn list_hosts_lists_the_play_hosts_as_ansible_does() {
    let out = rollout(&[
        "play",
        fixtures().join("local/serial.yaml").to_str().unwrap(),
        "-i",
        fixtures().join("local/inventory").to_str().unwrap(),
        "--list-hosts",
    ]);
    assert_eq!(out.code, 0, "{}", out.all());
    out.assert_says("hosts (4):");
    // ansible-playbook does not show the batches of `serial`.
    out.assert_never_says("batch");
}

#[test]
fn limit_and_patterns() {
    let out = rollout(&[
        "play",
        fixtures().join("local/serial.yaml").to_str().unwrap(),
        "-i",
        fixtures().join("local/inventory").to_str().unwrap(),
        "--limit",
        "prod:!web3",
        "--list-hosts",
    ]);
    assert_eq!(out.code, 0, "{}", out.all());
    out.assert_says("hosts (2):");
    assert!(!out.stdout.contains("web3") && !out.stdout.contains("db1"));
}

#[test]
fn list_tasks_and_syntax_check_run_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = play_local("local/tags.yaml", dir.path(), &["--list-tasks"]);
    assert_eq!(out.code, 0, "{}", out.all());
    out.assert_says("deploy step\tTAGS: [deploy]");
    let out = play_local("local/tags.yaml", dir.path(), &["--syntax-check"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0, "nothing ran");
}

#[test]
fn unreachable_host_exits_3() {
    let out = rollout(&[
        "play",
        fixtures().join("local/unreachable.yaml").to_str().unwrap(),
        "-i",
        fixtures().join("local/unreachable.ini").to_str().unwrap(),
    ]);
    assert_eq!(out.code, 4, "{}", out.all());
    out.assert_says("fatal: [gone]: UNREACHABLE!");
    assert!(out.recap("gone").contains("unreachable=1"));
}

#[test]
fn version_and_bad_options() {
    let out = rollout(&["--version"]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.starts_with("rollout "), "{}", out.stdout);
    assert_eq!(rollout(&["play", "x.yaml", "--forks", "0"]).code, 5);
    assert_eq!(rollout(&["play", "x.yaml", "--no-such-flag"]).code, 5);
    let dir = tempfile::tempdir().unwrap();
    let out = play_local("local/tags.yaml", dir.path(), &["-e", "novalue"]);
    assert_eq!(out.code, 5, "{}", out.all());
    assert!(out.stderr.contains("not key=value"));
}

#[test]
fn the_example_playbook_runs_locally() {
    let dir = tempfile::tempdir().unwrap();
    let out = rollout(&[
        "play",
        "playbooks/local-demo.yaml",
        "-i",
        "playbooks/local-inventory.yaml",
        "-e",
        &format!("release_root={}", dir.path().display()),
    ]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(
        read(dir.path().join("app1/current/VERSION")).trim(),
        "2.0.0"
    );
    out.assert_says("RUNNING HANDLER [reload app]");
}

/// Runs `playbook` on the local inventory, then `--resume`s it, both with
/// a state dir of their own; returns the resumed run.
fn run_then_resume(playbook: &std::path::Path, out_dir: &std::path::Path) -> common::Outcome {
    let state = out_dir.join("state");
    let env = [("ROLLOUT_STATE_DIR", state.to_str().unwrap())];
    let playbook = playbook.to_str().unwrap();
    let first = common::play_local_env(playbook, out_dir, &[], &env);
    assert_ne!(first.code, 0, "{}", first.all());
    common::play_local_env(playbook, out_dir, &["--resume"], &env)
}

#[test]
fn hosts_cut_short_by_any_errors_fatal_or_end_play_run_again_on_resume() {
    let dir = tempfile::tempdir().unwrap();
    // any_errors_fatal: web2 fails, web1 and web3 stop before the last task.
    let resumed = run_then_resume(&fixtures().join("local/fatal.yaml"), dir.path());
    resumed.assert_never_says("--resume: skipping");
    assert!(
        resumed.stdout.contains("skipping: [web1]") && resumed.stdout.contains("skipping: [web3]"),
        "web1 and web3 ran the play again:\n{}",
        resumed.stdout
    );

    // meta: end_play in the middle: nobody reached the end.
    let dir = tempfile::tempdir().unwrap();
    let playbook = dir.path().join("end_play.yaml");
    fs::write(
        &playbook,
        "- hosts: web\n  tasks:\n    - meta: end_play\n    - command: /bin/true\n\
         - hosts: web1\n  tasks:\n    - command: /bin/false\n",
    )
    .unwrap();
    let resumed = run_then_resume(&playbook, dir.path());
    resumed.assert_never_says("--resume: skipping");
}

#[test]
fn resume_refuses_another_limit_tags_or_extra_vars_and_forgives_a_torn_last_line() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let env = [("ROLLOUT_STATE_DIR", state.to_str().unwrap())];
    let playbook = fixtures().join("local/fatal.yaml");
    let playbook = playbook.to_str().unwrap();
    let secret = ["-e", "secret=hunter2"];
    let first = common::play_local_env(playbook, dir.path(), &secret, &env);
    assert_ne!(first.code, 0, "{}", first.all());
    let last = fs::read_to_string(state.join("journal/last")).unwrap();
    let journal = std::path::PathBuf::from(last.trim());
    assert!(
        !read(journal.clone()).contains("hunter2"),
        "a value was journaled"
    );
    for (options, says) in [
        (
            vec!["-e", "secret=other"],
            "the values of the extra vars (out_dir,secret) differ",
        ),
        (vec![], "the extra vars were out_dir,secret, now out_dir"),
        (
            vec!["-e", "secret=hunter2", "--limit", "web1"],
            "--limit was none, now web1",
        ),
        (
            vec!["-e", "secret=hunter2", "--skip-tags", "x"],
            "--skip-tags was none, now x",
        ),
    ] {
        let args = [options.as_slice(), &["--resume"]].concat();
        let resumed = common::play_local_env(playbook, dir.path(), &args, &env);
        assert_eq!(resumed.code, 5, "{options:?}: {}", resumed.all());
        assert!(
            resumed.stderr.contains("is not this rollout") && resumed.stderr.contains(says),
            "{options:?}: {}",
            resumed.stderr
        );
    }
    // A power loss while the last line was written: resumed all the same.
    let mut file = fs::OpenOptions::new().append(true).open(&journal).unwrap();
    std::io::Write::write_all(&mut file, b"{\"time\":\"t\",\"kind\":\"compl").unwrap();
    let args = [secret.as_slice(), &["--resume"]].concat();
    let resumed = common::play_local_env(playbook, dir.path(), &args, &env);
    assert!(
        resumed.stderr.contains("the last line is incomplete")
            && !resumed.all().contains("--resume:"),
        "{}",
        resumed.all()
    );
    resumed.assert_says("PLAY RECAP");
}

/// Writes `playbook` into `dir` and runs it on the local inventory.
fn play_text(dir: &std::path::Path, playbook: &str) -> common::Outcome {
    let path = dir.join("site.yaml");
    fs::write(&path, playbook).unwrap();
    play_local(path.to_str().unwrap(), dir, &[])
}

#[test]
fn run_level_failures_end_the_run_as_in_ansible() {
    // Recorded from ansible-playbook 2.19.14 (local connections): a host
    // that failed runs no later play; a failed canary play, a batch whose
    // every host failed, max_fail_percentage (checked after each task) and
    // any_errors_fatal each end the whole run.
    let touch = "    - command: touch {{ out_dir }}/{{ play_name }}-{{ inventory_hostname }}\n";
    let play = |hosts: &str, name: &str, keywords: &str, first: &str| {
        format!(
            "- hosts: {hosts}\n  vars: {{play_name: {name}}}\n{keywords}  tasks:\n{first}{touch}"
        )
    };
    let fail_web1 = "    - fail: msg=boom\n      when: inventory_hostname == 'web1'\n";
    let rescued_web1 = format!(
        "    - block:\n    {}      rescue:\n        - debug: msg=rescued\n",
        fail_web1.replace("\n    ", "\n        ")
    );
    let ran = |dir: &std::path::Path| {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains('-'))
            .collect();
        names.sort();
        names
    };
    let cases = [
        // web1 failed in play 1: play 2 runs on web2 and web3 only.
        (
            play("web", "p1", "", fail_web1) + &play("web", "p2", "", ""),
            vec!["p1-web2", "p1-web3", "p2-web2", "p2-web3"],
        ),
        // A canary play whose one host fails ends the run.
        (
            play("web1", "p1", "", fail_web1) + &play("web", "p2", "", ""),
            vec![],
        ),
        // serial 1: the first batch failed whole, nothing else runs.
        (
            play("web", "p1", "  serial: 1\n", fail_web1) + &play("web", "p2", "", ""),
            vec![],
        ),
        // 1 of 3 failed > 10%: the play stops after that task, and the run.
        (
            play("web", "p1", "  max_fail_percentage: 10\n", fail_web1)
                + &play("web", "p2", "", ""),
            vec![],
        ),
        (
            play("web", "p1", "  any_errors_fatal: true\n", fail_web1) + &play("web", "p2", "", ""),
            vec![],
        ),
        // any_errors_fatal in a block with a rescue: every host is rescued
        // and finishes play 1, but only the one that failed runs play 2
        // (the others stay failed, and the run exits 2).
        (
            play("web", "p1", "  any_errors_fatal: true\n", &rescued_web1)
                + &play("web", "p2", "", ""),
            vec!["p1-web1", "p1-web2", "p1-web3", "p2-web1"],
        ),
    ];
    for (playbook, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        let out = play_text(dir.path(), &playbook);
        assert_eq!(out.code, 2, "{playbook}\n{}", out.all());
        assert_eq!(ran(dir.path()), expected, "{playbook}\n{}", out.stdout);
    }
}

#[test]
fn roles_are_found_through_ansible_roles_path() {
    let dir = tempfile::tempdir().unwrap();
    let extra = fixtures().join("local/extra_roles");
    let env = [("ANSIBLE_ROLES_PATH", extra.to_str().unwrap())];
    let playbook = fixtures().join("local/roles_path.yaml");
    let playbook = playbook.to_str().unwrap();
    let out = common::play_local_env(playbook, dir.path(), &[], &env);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout.contains("TASK [extra_role : write the marker]"),
        "{}",
        out.stdout
    );
    let written = fs::read_to_string(dir.path().join("extra-role-web1")).unwrap();
    assert_eq!(written, "extra from extra_role\n");
    // Without the path, the role is not found, and the error lists where
    // rollout looked.
    let out = common::play_local_env(
        playbook,
        dir.path(),
        &[],
        &[("ANSIBLE_ROLES_PATH", "/nonexistent")],
    );
    assert_eq!(out.code, 4, "{}", out.all());
    assert!(
        out.stderr
            .contains("the role 'extra_role' was not found in")
            && out.stderr.contains("/nonexistent:"),
        "{}",
        out.stderr
    );
}
