//! `vars_prompt` asked for real: the binary runs on a pseudo-terminal (a
//! small python3 `pty` harness answers each prompt as a user would), and
//! without a terminal it says how to pass the value.

use std::path::Path;
use std::process::{Command, Stdio};

const PLAYBOOK: &str = r#"
- name: Deploy
  hosts: web1
  gather_facts: false
  vars_prompt:
    - name: release
      prompt: Which release?
      private: false
    - name: password
      prompt: Password
      confirm: true
    - name: region
      prompt: Region
      default: eu
  tasks:
    - copy:
        dest: "{{ out_dir }}/answers"
        content: "{{ release }} {{ password | length }} {{ password == 'Secret-42' }} {{ region }}\n"
    - debug:
        msg: "the password is {{ password }}"
"#;

/// Runs the binary on a pty; for each (expected text, answer) pair waits
/// for the text past what was already matched, then types the answer (a
/// null answer types nothing; a private one waits until echo is off).
/// Prints everything the terminal showed, then
/// `EXIT <code>`.
const HARNESS: &str = r#"
import os, pty, select, sys, json, termios, time
argv, steps = json.loads(sys.argv[1]), json.loads(sys.argv[2])
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)
seen, at, deadline = b"", 0, time.time() + 60
def more():
    global seen
    if not select.select([fd], [], [], max(0, deadline - time.time()))[0]:
        return False
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        return False
    seen += chunk
    return bool(chunk)
for text, answer, private in steps:
    while seen.find(text.encode(), at) < 0:
        if not more():
            os.kill(pid, 9)
            sys.stdout.write(seen.decode(errors="replace"))
            sys.exit("no %r on the terminal" % text)
    at = seen.find(text.encode(), at) + len(text)
    # A private prompt turns echo off after printing itself: type only then.
    while private and termios.tcgetattr(fd)[3] & termios.ECHO and time.time() < deadline:
        time.sleep(0.01)
    if answer is not None:
        os.write(fd, answer.encode() + b"\r")
while more():
    pass
_, status = os.waitpid(pid, 0)
sys.stdout.write(seen.decode(errors="replace"))
print("EXIT %d" % os.waitstatus_to_exitcode(status))
"#;

fn project(dir: &Path) {
    std::fs::write(dir.join("site.yml"), PLAYBOOK).unwrap();
    std::fs::write(
        dir.join("inventory"),
        "[web]\nweb1\n\n[all:vars]\nansible_connection=local\n",
    )
    .unwrap();
}

#[test]
fn prompts_on_a_terminal_with_confirmation_and_default() {
    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let argv = serde_json::json!([
        env!("CARGO_BIN_EXE_rollout"),
        "play",
        dir.path().join("site.yml"),
        "-i",
        dir.path().join("inventory"),
        "-e",
        format!("out_dir={}", out_dir.display()),
    ]);
    let steps = serde_json::json!([
        ["Which release?: ", "2.1", false],
        ["Password: ", "Secret-42", true],
        ["confirm Password: ", "typo", true],
        ["VALUES ENTERED DO NOT MATCH", null, false],
        ["Password: ", "Secret-42", true],
        ["confirm Password: ", "Secret-42", true],
        ["Region [eu]: ", "", false],
    ]);
    let run = Command::new("python3")
        .args(["-c", HARNESS, &argv.to_string(), &steps.to_string()])
        .env("ROLLOUT_STATE_DIR", dir.path().join("state"))
        .stdin(Stdio::null())
        .output()
        .expect("python3 runs");
    let shown = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{shown}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(shown.contains("EXIT 0"), "{shown}");
    let answers = std::fs::read_to_string(out_dir.join("answers")).unwrap();
    // The visible answer, the private one (confirmed on the second try),
    // and the default taken for an empty answer.
    assert_eq!(answers, "2.1 9 True eu\n");
    // What a user types for a private prompt is never echoed...
    assert!(shown.contains("2.1"), "{shown}");
    assert!(!shown.contains("Secret-42"), "{shown}");
    // Nor is it shown when a task prints it: it is masked like a vault value.
    assert!(shown.contains("the password is ********"), "{shown}");
}

#[test]
fn without_a_terminal_a_prompt_without_default_says_how_to_pass_it() {
    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    let rollout = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_rollout"))
            .current_dir(dir.path())
            .args(["play", "site.yml", "-i", "inventory", "-e", "out_dir=."])
            .args(extra)
            .env("ROLLOUT_STATE_DIR", dir.path().join("state"))
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let out = rollout(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(
        stderr.contains("vars_prompt 'release' needs an answer, but stdin is not a terminal"),
        "{stderr}"
    );
    assert!(stderr.contains("site.yml:6"), "{stderr}");
    assert!(stderr.contains("-e release=..."), "{stderr}");
    // Given with -e, nothing is asked; the default is taken, with a warning.
    let out = rollout(&["-e", "release=3.0", "-e", "password=pw"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("Not prompting as we are not in interactive mode"),
        "{stderr}"
    );
    let answers = std::fs::read_to_string(dir.path().join("answers")).unwrap();
    assert_eq!(answers, "3.0 2 False eu\n");
}
