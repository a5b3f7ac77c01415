//! The local fleet of real OpenSSH hosts (`tests/bed`), brought up for one
//! test and torn down (by PID) when the test ends.

use super::{Outcome, rollout};
use serde_json::Value as Json;
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Fleet {
    pub dir: PathBuf,
    pub info: Json,
    _tmp: tempfile::TempDir,
}

impl Fleet {
    /// `slot` keeps fleets of concurrently running tests on distinct ports.
    pub fn up(hosts: usize, slot: u16) -> Fleet {
        Fleet::up_with(hosts, slot, &[])
    }

    /// Like [`Fleet::up`], with more `tests/bed/up` options
    /// (`--no-forwarding host2`).
    pub fn up_with(hosts: usize, slot: u16, extra: &[&str]) -> Fleet {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("fleet");
        let bed = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bed/up");
        let base = 30000 + slot * 20;
        let out = Command::new(bed)
            .args([
                "--hosts",
                &hosts.to_string(),
                "--dir",
                dir.to_str().unwrap(),
            ])
            .args([
                "--base-port",
                &base.to_string(),
                "--imds-base-port",
                &(base + 10).to_string(),
                // Below the ephemeral port range, like the others.
                "--app-base-port",
                &(20000 + slot * 20).to_string(),
            ])
            .args(extra)
            .output()
            .expect("tests/bed/up runs");
        if !out.status.success() {
            // Whatever did start is stopped before the test fails.
            let down = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bed/down");
            let _ = Command::new(down)
                .args(["--dir", dir.to_str().unwrap()])
                .status();
        }
        assert!(
            out.status.success(),
            "fleet up failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let info = serde_json::from_str(&std::fs::read_to_string(dir.join("fleet.json")).unwrap())
            .unwrap();
        Fleet {
            dir,
            info,
            _tmp: tmp,
        }
    }

    pub fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    pub fn host(&self, i: usize) -> &Json {
        &self.info["hosts"][i]
    }

    /// The host's "disk" directory.
    pub fn root(&self, i: usize) -> PathBuf {
        PathBuf::from(self.host(i)["root"].as_str().unwrap())
    }

    pub fn sshd_pid(&self, i: usize) -> i32 {
        self.host(i)["pid"].as_i64().unwrap() as i32
    }

    /// Writes a file (a playbook, an inventory) into the fleet's directory.
    pub fn write(&self, name: &str, text: &str) -> String {
        let path = self.dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    /// `rollout play PLAYBOOK -i INVENTORY --ssh-config <fleet's> ARGS`
    pub fn play_with(&self, inventory: &str, playbook: &str, args: &[&str]) -> Outcome {
        let ssh_config = self.path("ssh_config");
        let mut all = vec![
            "play",
            playbook,
            "-i",
            inventory,
            "--ssh-config",
            &ssh_config,
        ];
        all.extend_from_slice(args);
        rollout(&all)
    }

    /// [`Fleet::play`] with more environment variables (AWS settings).
    pub fn play_env(&self, playbook: &str, args: &[&str], env: &[(&str, &str)]) -> Outcome {
        let ssh_config = self.path("ssh_config");
        let inventory = self.path("inventory");
        let mut all = vec![
            "play",
            playbook,
            "-i",
            &inventory,
            "--ssh-config",
            &ssh_config,
        ];
        all.extend_from_slice(args);
        super::rollout_env(&all, env)
    }

    /// Writes a variant of a project playbook into the fleet's directory,
    /// where it finds the project's `templates/` and `playbooks/release/`.
    pub fn variant(&self, name: &str, text: &str) -> String {
        let dir = self.dir.join("playbooks");
        std::fs::create_dir_all(&dir).unwrap();
        let project = Path::new(env!("CARGO_MANIFEST_DIR"));
        for (link, target) in [
            (self.dir.join("templates"), project.join("templates")),
            (dir.join("release"), project.join("playbooks/release")),
        ] {
            if !link.exists() {
                std::os::unix::fs::symlink(target, link).unwrap();
            }
        }
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    /// Kills the host's sshd and every session under it (SIGKILL, by PID,
    /// parents first so no session can still report an exit status).
    pub fn kill_sshd(&self, i: usize) {
        fn tree(pid: i32, all: &mut Vec<String>) {
            all.push(pid.to_string());
            let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
                .unwrap_or_default();
            for child in children.split_whitespace().filter_map(|c| c.parse().ok()) {
                tree(child, all);
            }
        }
        let mut pids = Vec::new();
        tree(self.sshd_pid(i), &mut pids);
        let status = Command::new("kill").arg("-9").args(&pids).status().unwrap();
        assert!(status.success(), "kill -9 {pids:?}");
    }

    /// `rollout status` for the runs journaled in the fleet's state dir.
    pub fn status(&self) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_rollout"))
            .arg("status")
            .env("ROLLOUT_STATE_DIR", self.dir.join("state"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "rollout status: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The line of `rollout status` about `host`.
    pub fn status_line(&self, host: &str) -> String {
        let shown = self.status();
        shown
            .lines()
            .find(|l| l.starts_with(host))
            .unwrap_or_else(|| panic!("no line for {host} in rollout status:\n{shown}"))
            .to_string()
    }

    /// [`Fleet::play_with`] on the fleet's own inventory.
    pub fn play(&self, playbook: &str, args: &[&str]) -> Outcome {
        self.play_with(&self.path("inventory"), playbook, args)
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        let down = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bed/down");
        let _ = Command::new(down)
            .args(["--dir", self.dir.to_str().unwrap()])
            .status();
    }
}
