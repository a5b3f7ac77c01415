//! Runs the real `rollout` binary and captures what it did.

#![allow(dead_code)]

pub mod debian_root;
pub mod fleet;
pub mod lb;

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// The PLAY RECAP line of a host.
    pub fn recap(&self, host: &str) -> String {
        let after = self.stdout.rsplit("PLAY RECAP").next().unwrap_or_default();
        after
            .lines()
            .find(|l| l.split_whitespace().next() == Some(host))
            .unwrap_or_else(|| panic!("no recap line for {host} in:\n{}", self.stdout))
            .to_string()
    }

    /// Fails, showing stdout, unless stdout contains `text`.
    #[track_caller]
    pub fn assert_says(&self, text: &str) {
        assert!(
            self.stdout.contains(text),
            "no {text:?} in:\n{}",
            self.stdout
        );
    }

    /// Fails, showing stdout, if stdout contains `text`.
    #[track_caller]
    pub fn assert_never_says(&self, text: &str) {
        assert!(!self.stdout.contains(text), "{text:?} in:\n{}", self.stdout);
    }
}

/// Where test runs keep their journals and locks.
pub fn state_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("rollout-state")
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn rollout(args: &[&str]) -> Outcome {
    rollout_env(args, &[])
}

/// [`rollout`] with more environment variables.
pub fn rollout_env(args: &[&str], env: &[(&str, &str)]) -> Outcome {
    rollout_in(Path::new(env!("CARGO_MANIFEST_DIR")), args, env)
}

/// [`rollout_env`] in another working directory (where `./ansible.cfg` is).
pub fn rollout_in(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let out = Command::new(env!("CARGO_BIN_EXE_rollout"))
        .args(args)
        // Journals and locks of test runs stay out of the user's home.
        .env("ROLLOUT_STATE_DIR", state_dir())
        .envs(env.iter().copied())
        .current_dir(cwd)
        .output()
        .expect("the rollout binary runs");
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `rollout ARGS` on a pseudo-terminal (util-linux `script`), with more
/// environment variables, typing `answers` one per line a moment apart (a
/// password prompt discards what was typed before it); None when `script`
/// is missing.
pub fn rollout_on_terminal(
    args: &[&str],
    env: &[(&str, &str)],
    answers: &[&str],
) -> Option<Outcome> {
    use std::io::Write;
    use std::process::Stdio;
    let line = std::iter::once(env!("CARGO_BIN_EXE_rollout"))
        .chain(args.iter().copied())
        .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
        .collect::<Vec<_>>()
        .join(" ");
    let mut child = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env("ROLLOUT_STATE_DIR", state_dir())
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    let mut stdin = child.stdin.take().unwrap();
    for answer in answers {
        std::thread::sleep(std::time::Duration::from_millis(500));
        writeln!(stdin, "{answer}").unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    Some(Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// `rollout play FIXTURE -i local/inventory -e out_dir=TMP EXTRA...`
pub fn play_local(fixture: &str, out_dir: &Path, extra: &[&str]) -> Outcome {
    play_local_env(fixture, out_dir, extra, &[])
}

/// [`play_local`] with more environment variables; `fixture` may be an
/// absolute path.
pub fn play_local_env(
    fixture: &str,
    out_dir: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Outcome {
    let args = local_play_args(fixture, out_dir, extra);
    rollout_env(&args.iter().map(String::as_str).collect::<Vec<_>>(), env)
}

/// `play FIXTURE -i local/inventory -e out_dir=TMP EXTRA...`, as arguments.
pub fn local_play_args(fixture: &str, out_dir: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = vec![
        "play".to_string(),
        fixtures().join(fixture).display().to_string(),
        "-i".into(),
        fixtures().join("local/inventory").display().to_string(),
        "-e".into(),
        format!("out_dir={}", out_dir.display()),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}

/// Waits (at most `bound`) until the file at `path` contains `text`.
pub fn wait_for_text(path: &Path, text: &str, bound: std::time::Duration) {
    let started = std::time::Instant::now();
    while !std::fs::read_to_string(path)
        .unwrap_or_default()
        .contains(text)
    {
        assert!(
            started.elapsed() < bound,
            "'{text}' never appeared in {}: {}",
            path.display(),
            std::fs::read_to_string(path).unwrap_or_default()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
