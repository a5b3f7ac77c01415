//! A throwaway OpenSSH server on 127.0.0.1 for the SSH transport tests:
//! its own host key, authorized client keys, and a login user with a plain
//! /bin/sh (root's shell startup is slow on these machines).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const USER: &str = "rollout-sshtest";
pub const PASSPHRASE: &str = "correct horse";

pub struct Sshd {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
}

/// Client keys shared by every test (generating RSA keys is slow).
pub struct Keys {
    pub ed25519: PathBuf,
    pub encrypted: PathBuf,
    pub rsa: PathBuf,
    /// Not in authorized_keys.
    pub stranger: PathBuf,
    dir: PathBuf,
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn keygen(path: &Path, kind: &str, passphrase: &str) {
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", kind, "-N", passphrase, "-C", "test", "-f"])
        .arg(path));
}

/// Creates the login user once (the tests run as root).
fn ensure_user() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let exists = Command::new("id")
            .arg(USER)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !exists.is_ok_and(|s| s.success()) {
            run(Command::new("useradd").args(["-m", "-s", "/bin/sh", USER]));
        }
        // '*' = no password, but not a locked account (sshd refuses locked ones).
        run(Command::new("usermod").args(["-p", "*", USER]));
        std::fs::create_dir_all("/run/sshd").expect("mkdir /run/sshd");
    });
}

pub fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        // Cargo's scratch dir for integration tests: inside target/, reused
        // (keys are regenerated) rather than left behind in /tmp per run.
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("ssh-test-keys");
        std::fs::create_dir_all(&dir).unwrap();
        let keys = Keys {
            ed25519: dir.join("id_ed25519"),
            encrypted: dir.join("id_encrypted"),
            rsa: dir.join("id_rsa"),
            stranger: dir.join("id_stranger"),
            dir,
        };
        for path in [&keys.ed25519, &keys.encrypted, &keys.rsa, &keys.stranger] {
            let _ = std::fs::remove_file(path);
            let _ = std::fs::remove_file(path.with_extension("pub"));
        }
        keygen(&keys.ed25519, "ed25519", "");
        keygen(&keys.encrypted, "ed25519", PASSPHRASE);
        keygen(&keys.rsa, "rsa", "");
        keygen(&keys.stranger, "ed25519", "");
        keys
    })
}

impl Keys {
    fn authorized(&self) -> String {
        [&self.ed25519, &self.encrypted, &self.rsa]
            .iter()
            .map(|k| std::fs::read_to_string(k.with_extension("pub")).unwrap())
            .collect()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Sshd {
    pub fn start() -> Sshd {
        ensure_user();
        let keys = keys();
        let dir = tempfile::tempdir().unwrap();
        // sshd reads authorized_keys as the login user.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let d = dir.path();
        keygen(&d.join("host_ed25519"), "ed25519", "");
        std::fs::write(d.join("authorized_keys"), keys.authorized()).unwrap();
        let port = free_port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_ed25519\nPidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\nUsePAM no\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
             PermitRootLogin no\nAllowTcpForwarding yes\nAllowStreamLocalForwarding yes\n\
             MaxStartups 100\nLogLevel ERROR\n",
            d = d.display()
        );
        std::fs::write(d.join("sshd_config"), config).unwrap();
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("start sshd (apt-get install -y openssh-server)");
        let sshd = Sshd {
            dir,
            port,
            child: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "sshd did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        sshd
    }

    /// The host's public key as `type base64`.
    pub fn host_key(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("host_ed25519.pub")).unwrap();
        text.split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A known_hosts file trusting this server under the given names.
    pub fn known_hosts(&self, names: &[&str]) -> PathBuf {
        let path = self.dir.path().join("known_hosts");
        let lines: String = names
            .iter()
            .map(|n| format!("[{n}]:{} {}\n", self.port, self.host_key()))
            .collect();
        std::fs::write(&path, lines).unwrap();
        path
    }

    /// Kills the server and every session process it started (by pid).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            for pid in descendants(child.id()) {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The pids of all descendants of `root`, read from /proc.
fn descendants(root: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            // The fields after the parenthesised command name: state, ppid.
            let ppid = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some((pid, ppid))
        })
        .collect();
    let mut found = vec![];
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for &(pid, ppid) in &parents {
            if ppid == parent && !found.contains(&pid) {
                found.push(pid);
                frontier.push(pid);
            }
        }
    }
    found
}
