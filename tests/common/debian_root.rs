//! A disposable Debian root entered over real SSH (`tests/bed/debian-root`,
//! `tests/bed/debian-root-sshd`): one cached debootstrap, an overlay per
//! test, sshd inside its own mount and PID namespaces, and a local apt
//! repository of small packages (`tests/bed/debian-repo`). Package tests
//! run there and never touch this machine's root. `up_systemd` boots real
//! systemd as the namespace's PID 1 instead (`tests/bed/debian-root-systemd`),
//! with sshd one of its units, for the service tests.

use super::{Outcome, rollout};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct DebianRoot {
    pub dir: PathBuf,
    pub address: String,
    pub port: u16,
    /// The bed script (`unshare`): its one child is the namespace's PID 1.
    launcher: Child,
    /// Booted by `up_systemd`: its cgroups are removed when it ends.
    systemd: bool,
    _tmp: tempfile::TempDir,
}

/// Which bed script runs the root, and how long its sshd may take to listen.
#[derive(Clone, Copy)]
enum Init {
    Sshd,
    Systemd,
}

impl Init {
    fn script(self) -> &'static str {
        match self {
            Init::Sshd => "debian-root-sshd",
            Init::Systemd => "debian-root-systemd",
        }
    }

    fn boot_time(self) -> Duration {
        match self {
            Init::Sshd => Duration::from_secs(15),
            Init::Systemd => Duration::from_secs(60),
        }
    }
}

fn bed(script: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/bed")
        .join(script)
}

/// Where the root is built once and reused by every test.
pub fn cache() -> PathBuf {
    let tmpdir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmpdir.parent().unwrap_or(tmpdir).join("debian-root-cache")
}

fn skip(why: &str) -> Option<DebianRoot> {
    eprintln!("SKIPPED: no disposable Debian root: {why}");
    println!("SKIPPED: no disposable Debian root: {why}");
    None
}

fn write(path: &Path, text: &str, mode: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

impl DebianRoot {
    /// Starts a fresh root on 127.0.0.`slot` port `port`; None, after
    /// printing why, where it cannot run (not root, no unshare, no
    /// debootstrap or no mirror).
    pub fn up(slot: u8, port: u16) -> Option<DebianRoot> {
        Self::start(slot, port, Init::Sshd)
    }

    /// As `up`, but with real systemd as PID 1 and sshd started by it; None,
    /// after printing why, where systemd cannot boot.
    pub fn up_systemd(slot: u8, port: u16) -> Option<DebianRoot> {
        Self::start(slot, port, Init::Systemd)
    }

    fn start(slot: u8, port: u16, init: Init) -> Option<DebianRoot> {
        if !Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
        {
            return skip("the tests do not run as root");
        }
        if Command::new("unshare").arg("--version").output().is_err() {
            return skip("unshare (util-linux) is missing");
        }
        let built = Command::new(bed("debian-root"))
            .arg(cache())
            .output()
            .unwrap();
        if !built.status.success() {
            return skip(String::from_utf8_lossy(&built.stderr).trim());
        }
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let key = dir.join("id_ed25519");
        let keygen = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key)
            .status()
            .unwrap();
        assert!(keygen.success(), "ssh-keygen");
        let prepared = Command::new(bed("debian-root-prepare"))
            .arg(&dir)
            .arg(key.with_extension("pub"))
            .status()
            .unwrap();
        assert!(prepared.success(), "tests/bed/debian-root-prepare");

        let address = format!("127.0.0.{slot}");
        let host_key = std::fs::read_to_string(cache().join("etc/ssh/ssh_host_ed25519_key.pub"))
            .expect("the root has an ed25519 host key");
        let blob: Vec<&str> = host_key.split_whitespace().take(2).collect();
        write(
            &dir.join("known_hosts"),
            &format!("[{address}]:{port} {}\n", blob.join(" ")),
            0o644,
        );
        write(
            &dir.join("ssh_config"),
            &format!(
                "Host debian\n  HostName {address}\n  Port {port}\n\nHost *\n  User root\n  \
                 IdentityFile {key}\n  IdentitiesOnly yes\n  UserKnownHostsFile {kh}\n  \
                 GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  LogLevel ERROR\n",
                key = key.display(),
                kh = dir.join("known_hosts").display(),
            ),
            0o644,
        );
        write(
            &dir.join("inventory"),
            &format!(
                "debian ansible_host={address} ansible_port={port} ansible_user=root \
                 ansible_ssh_private_key_file={}\n",
                key.display()
            ),
            0o644,
        );
        let log = std::fs::File::create(dir.join("sshd.log")).unwrap();
        let launcher = Command::new(bed(init.script()))
            .arg(cache())
            .arg(&dir)
            .args([&address, &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut root = DebianRoot {
            dir,
            address,
            port,
            launcher,
            systemd: matches!(init, Init::Systemd),
            _tmp: tmp,
        };
        match root.wait_listening(init.boot_time()) {
            Ok(()) => Some(root),
            // The bed script gave up (no cgroup hierarchy, systemd could not
            // boot): a reason to skip, which its log gives.
            Err(log) if matches!(init, Init::Systemd) => {
                skip(&format!("real systemd did not boot in it: {}", log.trim()))
            }
            Err(log) => panic!("sshd in the Debian root never listened: {log}"),
        }
    }

    /// Waits until sshd listens; Err with the bed's log when the launcher
    /// exits first or the time is up.
    fn wait_listening(&mut self, limit: Duration) -> Result<(), String> {
        let started = Instant::now();
        let target = format!("{}:{}", self.address, self.port);
        let log = |dir: &Path| std::fs::read_to_string(dir.join("sshd.log")).unwrap_or_default();
        while std::net::TcpStream::connect(&target).is_err() {
            if started.elapsed() > limit || self.launcher.try_wait().is_ok_and(|s| s.is_some()) {
                return Err(format!("{target}: {}", log(&self.dir)));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// The PID (in this machine's namespace) of the root's PID 1: sshd, or
    /// systemd for `up_systemd`.
    pub fn pid1(&self) -> Option<u32> {
        let pid = self.launcher.id();
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .ok()?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }

    /// Runs a shell line in the root over OpenSSH; its stdout (fails on a
    /// non-zero exit).
    pub fn sh(&self, line: &str) -> String {
        let out = self.ssh(line).output().unwrap();
        assert!(
            out.status.success(),
            "{line}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `ssh debian LINE`, to spawn.
    pub fn ssh(&self, line: &str) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.arg("-F")
            .arg(self.dir.join("ssh_config"))
            .args(["debian", line]);
        cmd
    }

    /// The installed version of a package, if it is installed.
    pub fn version(&self, package: &str) -> Option<String> {
        let out = self
            .ssh(&format!(
                "dpkg-query -W -f='${{db:Status-Abbrev}} ${{Version}}' {package}"
            ))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut words = text.split_whitespace();
        (words.next() == Some("ii")).then(|| words.next().unwrap_or_default().to_string())
    }

    /// Writes a playbook into the root's directory and runs it on the root.
    pub fn play(&self, name: &str, playbook: &str, args: &[&str]) -> Outcome {
        let path = self.dir.join(name);
        std::fs::write(&path, playbook).unwrap();
        let (path, inventory) = (path.display().to_string(), self.path("inventory"));
        let ssh_config = self.path("ssh_config");
        let mut all = vec!["play", &path, "-i", &inventory, "--ssh-config", &ssh_config];
        all.extend_from_slice(args);
        rollout(&all)
    }

    /// Holds dpkg's frontend lock (an fcntl lock, as apt takes it) for
    /// `secs` seconds from inside the root's mount namespace; returns once
    /// it is held.
    pub fn hold_dpkg_lock(&self, secs: u32) -> Child {
        let pid1 = self.pid1().expect("the root runs").to_string();
        let lock = self.dir.join("merged/var/lib/dpkg/lock-frontend");
        let script = format!(
            "import fcntl, sys, time\nf = open({lock:?}, 'a')\nfcntl.lockf(f, fcntl.LOCK_EX)\n\
             print('held', flush=True)\ntime.sleep({secs})\n",
            lock = lock.display().to_string()
        );
        let mut child = Command::new("nsenter")
            .args(["--target", &pid1, "--mount", "python3", "-c", &script])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        use std::io::BufRead;
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "held", "the dpkg lock was not taken");
        child
    }

    pub fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
}

impl Drop for DebianRoot {
    /// Killing the namespace's PID 1 (by its PID) kills every process in
    /// it; the launcher then reaps it and exits, and the namespace's mounts
    /// go with them. systemd's cgroups outlive it: the bed script removes them.
    fn drop(&mut self) {
        if let Some(pid1) = self.pid1() {
            let _ = Command::new("kill")
                .args(["-KILL", &pid1.to_string()])
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.launcher.try_wait().is_ok_and(|s| s.is_none()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.launcher.kill();
        let _ = self.launcher.wait();
        if self.systemd {
            let cleaned = Command::new(bed("debian-root-systemd"))
                .arg("--cleanup")
                .arg(&self.dir)
                .output();
            if let Ok(out) = cleaned
                && !out.status.success()
            {
                eprintln!("{}", String::from_utf8_lossy(&out.stderr));
            }
        }
    }
}
