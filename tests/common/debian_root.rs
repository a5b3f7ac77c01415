//! A disposable Debian root entered over real SSH (`tests/bed/debian-root`,
//! `tests/bed/debian-root-sshd`): one cached debootstrap, an overlay per
//! test, sshd inside its own mount and PID namespaces, and a local apt
//! repository of small packages (`tests/bed/debian-repo`). Package tests
//! run there and never touch this machine's root.

use super::{Outcome, rollout};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct DebianRoot {
    pub dir: PathBuf,
    pub address: String,
    pub port: u16,
    sshd: Child,
    _tmp: tempfile::TempDir,
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
        let sshd = Command::new(bed("debian-root-sshd"))
            .arg(cache())
            .arg(&dir)
            .args([&address, &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let root = DebianRoot {
            dir,
            address,
            port,
            sshd,
            _tmp: tmp,
        };
        root.wait_listening();
        Some(root)
    }

    fn wait_listening(&self) {
        let started = Instant::now();
        let target = format!("{}:{}", self.address, self.port);
        while std::net::TcpStream::connect(&target).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "sshd in the Debian root never listened on {target}: {}",
                std::fs::read_to_string(self.dir.join("sshd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
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
        let children = std::fs::read_to_string(format!(
            "/proc/{pid}/task/{pid}/children",
            pid = self.sshd.id()
        ))
        .unwrap();
        let sshd = children.split_whitespace().next().expect("sshd runs");
        let lock = self.dir.join("merged/var/lib/dpkg/lock-frontend");
        let script = format!(
            "import fcntl, sys, time\nf = open({lock:?}, 'a')\nfcntl.lockf(f, fcntl.LOCK_EX)\n\
             print('held', flush=True)\ntime.sleep({secs})\n",
            lock = lock.display().to_string()
        );
        let mut child = Command::new("nsenter")
            .args(["--target", sshd, "--mount", "python3", "-c", &script])
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
    /// Killing the launcher kills sshd (PID 1 of its namespace) and so
    /// every session; the namespace's mounts go with it.
    fn drop(&mut self) {
        let _ = self.sshd.kill();
        let _ = self.sshd.wait();
    }
}
