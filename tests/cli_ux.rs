//! The command line around a run, on the real binary: colour (forced, on a
//! terminal, in a pipe), `--step` on a terminal, `--start-at-task` that
//! names no task, shell completions and `play --help`'s groups. Terminals
//! are real pseudo-terminals, made by util-linux `script`.

mod common;

use common::fleet::Fleet;
use common::lb::{haproxy_transitions, served_version};
use common::{Outcome, local_play_args, play_local_env, rollout, rollout_on_terminal};
use std::path::Path;
use std::process::Command;

/// Any colour of ansible-playbook's palette (SGR `0;3x` / `1;3x`).
fn coloured(text: &str) -> bool {
    text.contains("\x1b[0;3") || text.contains("\x1b[1;3")
}

/// `rollout play cliux.yaml` on a pseudo-terminal of a colour terminal
/// (no colour setting inherited), `answers` typed into it.
fn play_on_terminal(
    out_dir: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
    answers: &[&str],
) -> Outcome {
    let args = local_play_args("local/cliux.yaml", out_dir, extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut all = vec![
        ("TERM", "xterm-256color"),
        ("NO_COLOR", ""),
        ("ANSIBLE_NOCOLOR", ""),
        ("ANSIBLE_FORCE_COLOR", ""),
    ];
    all.extend_from_slice(env);
    rollout_on_terminal(&args, &all, answers).expect("util-linux script runs")
}

#[test]
fn forced_colour_paints_each_outcome_as_ansible_playbook() {
    let dir = tempfile::tempdir().unwrap();
    let out = play_local_env(
        "local/cliux.yaml",
        dir.path(),
        &[],
        // FORCE_COLOR wins over NO_COLOR and a pipe, as in Ansible.
        &[("ANSIBLE_FORCE_COLOR", "1"), ("NO_COLOR", "1")],
    );
    assert_eq!(out.code, 0, "{}", out.all());
    out.assert_says("\x1b[0;32mok: [web1] => {\x1b[0m");
    out.assert_says("\x1b[0;33mchanged: [web1]\x1b[0m");
    out.assert_says("\x1b[0;36mskipping: [web1]\x1b[0m");
    out.assert_says("\x1b[0;31mfatal: [web1]: FAILED! => {");
    out.assert_says("\x1b[0;36m...ignoring\x1b[0m");
    out.assert_says("\x1b[0;33mweb1\x1b[0m                       : \x1b[0;32mok=6   \x1b[0m");
    // Banners stay plain, as ansible-playbook's.
    out.assert_says("\nTASK [ok task] ***");
}

#[test]
fn no_colour_in_a_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let out = play_local_env(
        "local/cliux.yaml",
        dir.path(),
        &[],
        &[("ANSIBLE_FORCE_COLOR", "0"), ("TERM", "xterm-256color")],
    );
    assert_eq!(out.code, 0, "{}", out.all());
    out.assert_says("changed: [web1]");
    assert!(!coloured(&out.all()), "{:?}", out.all());
}

#[test]
fn colour_on_a_terminal_unless_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let out = play_on_terminal(dir.path(), &[], &[], &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    out.assert_says("\x1b[0;33mchanged: [web1]\x1b[0m");
    for off in [
        ("NO_COLOR", "1"),
        ("ANSIBLE_NOCOLOR", "true"),
        ("TERM", "dumb"),
    ] {
        let out = play_on_terminal(dir.path(), &[], &[off], &[]);
        assert_eq!(out.code, 0, "{off:?}: {}", out.all());
        out.assert_says("changed: [web1]");
        assert!(!coloured(&out.stdout), "{off:?}: {:?}", out.stdout);
    }
}

#[test]
fn step_asks_before_each_task_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    // Tasks: no, yes, (empty: no), yes; the handler: continue, so the
    // post_tasks run unasked; the next play asks again (yes), as Ansible
    // makes its strategy anew for each play.
    let answers = ["n", "y", "", "y", "c", "y"];
    let out = play_on_terminal(dir.path(), &["--step"], &[("NO_COLOR", "1")], &answers);
    assert_eq!(out.code, 0, "{}", out.all());
    let asked = |what: &str| {
        out.stdout
            .contains(&format!("Perform task: {what} (N)o/(y)es/(c)ontinue: "))
    };
    for task in ["ok task", "changed task", "skipped task", "failing task"] {
        assert!(asked(&format!("TASK: {task}")), "{task}: {}", out.stdout);
    }
    assert!(asked("HANDLER: note change"), "{}", out.stdout);
    assert!(
        !asked("TASK: last task"),
        "continue stops asking: {}",
        out.stdout
    );
    assert!(asked("TASK: second play task"), "{}", out.stdout);
    // The question again as a banner, as ansible-playbook shows it.
    out.assert_says("Perform task: TASK: ok task (N)o/(y)es/(c)ontinue: *****");
    out.assert_never_says("TASK [ok task]");
    out.assert_never_says("TASK [skipped task]");
    out.assert_says("TASK [failing task]");
    for file in ["changed", "handled", "last", "second"] {
        assert!(dir.path().join(file).exists(), "{file}: {}", out.stdout);
    }
}

#[test]
fn step_without_a_terminal_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = play_local_env("local/cliux.yaml", dir.path(), &["--step"], &[]);
    assert_eq!(out.code, 5, "{}", out.all());
    assert!(
        out.stderr
            .contains("--step asks before each task, but stdin is not a terminal"),
        "{}",
        out.all()
    );
    out.assert_never_says("TASK [");
    assert!(!dir.path().join("changed").exists());
}

#[test]
fn start_at_task_that_names_no_task_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    for pattern in ["no such task", "xyz*"] {
        let out = play_local_env(
            "local/cliux.yaml",
            dir.path(),
            &["--start-at-task", pattern],
            &[],
        );
        assert_eq!(out.code, 5, "{}", out.all());
        assert!(
            out.stderr
                .contains(&format!("--start-at-task: no task is named '{pattern}'")),
            "{}",
            out.all()
        );
        assert!(out.stderr.contains("cliux.yaml"), "{}", out.all());
    }
    // A task the tags leave out is no start either.
    let out = play_local_env(
        "local/cliux.yaml",
        dir.path(),
        &["--start-at-task", "last task", "--tags", "other"],
        &[],
    );
    assert_eq!(out.code, 5, "{}", out.all());
    assert!(!dir.path().join("changed").exists());
}

#[test]
fn start_at_task_in_a_later_play_takes_no_host_out_of_rotation() {
    let fleet = Fleet::up_with(2, 110, &["--haproxy"]);
    let site = Path::new(env!("CARGO_MANIFEST_DIR")).join("playbooks/site-haproxy.yaml");
    let later = "\n- name: After the rollout\n  hosts: web\n  gather_facts: false\n  \
                 tasks:\n    - name: report\n      debug: msg=done\n";
    let text = std::fs::read_to_string(site).unwrap() + later;
    let pb = fleet.variant("then-report.yaml", &text);
    let out = fleet.play(&pb, &["-e", "version=2.0", "--start-at-task", "report"]);
    assert_eq!(out.code, 0, "{}", out.all());
    out.assert_says("TASK [report]");
    // The rolling play ran nothing: no host was drained for nothing.
    assert!(
        haproxy_transitions(&fleet).is_empty(),
        "{:?}",
        haproxy_transitions(&fleet)
    );
    out.assert_never_says("take out of rotation");
    assert_eq!(served_version(&fleet, 0), "host1 1.0");
}

#[test]
fn start_at_a_post_task_leaves_the_first_batch_in_rotation() {
    let fleet = Fleet::up_with(2, 111, &["--haproxy"]);
    let site = Path::new(env!("CARGO_MANIFEST_DIR")).join("playbooks/site-haproxy.yaml");
    let site = site.display().to_string();
    // The smoke test (post_tasks) on host1 checks what it serves, 1.0.
    let out = fleet.play(
        &site,
        &["-e", "version=1.0", "--start-at-task", "Smoke test"],
    );
    assert_eq!(out.code, 0, "{}", out.all());
    // host1 only ran the smoke test, in rotation; host2 (the next batch)
    // ran the whole play, out of rotation and back.
    let t = haproxy_transitions(&fleet);
    assert!(
        !t.is_empty() && t.iter().all(|l| l.starts_with("host2")),
        "{t:?}"
    );
}

#[test]
fn bash_completes_pl_to_play() {
    let script = r#"source <("$0" completions bash) && complete -p rollout &&
        COMP_WORDS=(rollout pl) COMP_CWORD=1 && _rollout rollout pl rollout &&
        echo "reply: ${COMPREPLY[*]}" &&
        COMP_WORDS=(rollout play --start-at) COMP_CWORD=2 && _rollout rollout --start-at play &&
        echo "reply: ${COMPREPLY[*]}""#;
    let out = Command::new("bash")
        .args(["-c", script, env!("CARGO_BIN_EXE_rollout")])
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("-F _rollout rollout"), "{stdout}");
    assert!(stdout.contains("reply: play\n"), "{stdout}");
    assert!(stdout.contains("reply: --start-at-task\n"), "{stdout}");
}

#[test]
fn zsh_and_fish_completions() {
    let zsh = rollout(&["completions", "zsh"]);
    assert_eq!(zsh.code, 0, "{}", zsh.all());
    assert!(zsh.stdout.starts_with("#compdef rollout"), "{}", zsh.stdout);
    let fish = rollout(&["completions", "fish"]);
    assert_eq!(fish.code, 0, "{}", fish.all());
    assert!(
        fish.stdout.contains("complete -c rollout"),
        "{}",
        fish.stdout
    );
    assert!(fish.stdout.contains("start-at-task"), "{}", fish.stdout);
    let bad = rollout(&["completions", "cmd.exe"]);
    assert_eq!(bad.code, 5, "{}", bad.all());
}

#[test]
fn play_help_groups_options_as_ansible_playbook() {
    let out = rollout(&["play", "--help"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let at = |text: &str| {
        out.stdout
            .find(text)
            .unwrap_or_else(|| panic!("no {text:?} in:\n{}", out.stdout))
    };
    let connection = at("\nConnection Options:\n");
    let privilege = at("\nPrivilege Escalation Options:\n");
    for general in ["--list-tags", "--start-at-task <NAME>", "--step", "--check"] {
        assert!(at(general) < connection, "{general} is a general option");
    }
    assert!((connection..privilege).contains(&at("--ssh-config")));
    assert!(at("--become-user") > privilege);
    assert!(at("-b, --become ") > privilege);
}
