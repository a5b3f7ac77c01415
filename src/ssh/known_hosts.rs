//! Server host key verification against OpenSSH `known_hosts` files.
//!
//! Supports plain and comma-separated host lists, wildcards and negation,
//! `[host]:port`, hashed `|1|salt|hash` entries and the `@revoked` marker.
//! `@cert-authority` lines are skipped: rollout does not accept host
//! certificates, so a CA line can never vouch for a plain key.

use super::config::host_matches;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{KeyInit, Mac};
use russh::Preferred;
use russh::keys::{Algorithm, HashAlg, PublicKey};
use std::io::Write;
use std::path::{Path, PathBuf};

/// What to do with a host whose key is not in any known_hosts file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HostKeyPolicy {
    /// Refuse unknown keys.
    #[default]
    Strict,
    /// Record unknown keys in the first user known_hosts file.
    AcceptNew,
    /// Accept unknown keys without recording them. A changed or revoked key
    /// is still refused: that is never a benign situation to ignore silently.
    Off,
}

impl HostKeyPolicy {
    /// Parses the CLI spelling and OpenSSH's `StrictHostKeyChecking` values.
    pub fn parse(value: &str) -> Option<Self> {
        match value.to_ascii_lowercase().as_str() {
            "strict" | "yes" | "ask" => Some(HostKeyPolicy::Strict),
            "accept-new" => Some(HostKeyPolicy::AcceptNew),
            "off" | "no" | "false" => Some(HostKeyPolicy::Off),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyStatus {
    Match,
    Unknown,
    Changed { file: PathBuf, line: usize },
    Revoked { file: PathBuf, line: usize },
}

/// The name known_hosts files use for a host: `host`, or `[host]:port` off 22.
pub fn host_entry_name(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

/// `SHA256:base64`, as `ssh-keygen -l` prints it.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// Looks `key` up for `host:port` in `files` (missing files are skipped).
pub fn check(files: &[PathBuf], host: &str, port: u16, key: &PublicKey) -> HostKeyStatus {
    let name = host_entry_name(host, port);
    let mut status = HostKeyStatus::Unknown;
    for file in files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for (index, line) in text.lines().enumerate() {
            let Some(entry) = Entry::parse(line) else {
                continue;
            };
            if entry.marker == Some("@cert-authority") || !entry.matches(&name) {
                continue;
            }
            let Some(known) = entry.key() else { continue };
            let at = || (file.clone(), index + 1);
            let same = known.key_data() == key.key_data();
            if entry.marker == Some("@revoked") {
                if same {
                    let (file, line) = at();
                    return HostKeyStatus::Revoked { file, line };
                }
            } else if same {
                status = HostKeyStatus::Match;
            } else if known.algorithm() == key.algorithm() && status == HostKeyStatus::Unknown {
                let (file, line) = at();
                status = HostKeyStatus::Changed { file, line };
            }
        }
    }
    status
}

/// The host key algorithms to offer `host:port`: those of the keys
/// known_hosts holds for it first, then the rest, each group in russh's
/// order (as OpenSSH orders them), so that a host known only by its RSA
/// or ECDSA key is not asked for an Ed25519 key nobody can check.
pub fn host_key_preference(files: &[PathBuf], host: &str, port: u16) -> Vec<Algorithm> {
    let name = host_entry_name(host, port);
    let mut known: Vec<Algorithm> = Vec::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for entry in text.lines().filter_map(Entry::parse) {
            if entry.marker.is_none()
                && entry.matches(&name)
                && let Some(key) = entry.key()
            {
                known.push(key.algorithm());
            }
        }
    }
    let rsa = |a: &Algorithm| matches!(a, Algorithm::Rsa { .. });
    let same_family = |a: &Algorithm, b: &Algorithm| a == b || (rsa(a) && rsa(b));
    let (mut first, rest): (Vec<Algorithm>, Vec<Algorithm>) = Preferred::DEFAULT
        .key
        .iter()
        .cloned()
        .partition(|a| known.iter().any(|k| same_family(a, k)));
    first.extend(rest);
    first
}

/// Applies `policy` and explains a refusal. `user_file` is where accept-new
/// records a new key.
pub fn verify(
    policy: HostKeyPolicy,
    files: &[PathBuf],
    user_file: Option<&Path>,
    host: &str,
    port: u16,
    key: &PublicKey,
) -> Result<(), String> {
    let print = fingerprint(key);
    let algorithm = key.algorithm().to_string();
    match check(files, host, port, key) {
        HostKeyStatus::Match => Ok(()),
        HostKeyStatus::Changed { file, line } => Err(format!(
            "host key verification failed for {host}:{port}: the {algorithm} host key has CHANGED \
             (now {print}); it no longer matches {}:{line}. This may be a man-in-the-middle \
             attack, or the host was reinstalled. If you trust the new key, remove the old \
             one with `ssh-keygen -R {} -f {}` and connect again.",
            file.display(),
            shell_word(&host_entry_name(host, port)),
            file.display(),
        )),
        HostKeyStatus::Revoked { file, line } => Err(format!(
            "host key verification failed for {host}:{port}: the {algorithm} key {print} is \
             marked @revoked in {}:{line}",
            file.display()
        )),
        HostKeyStatus::Unknown => match (policy, user_file) {
            (HostKeyPolicy::Off, _) => Ok(()),
            (HostKeyPolicy::AcceptNew, Some(file)) => append(file, host, port, key).map_err(|e| {
                format!(
                    "cannot record the host key of {host}:{port} in {}: {e}",
                    file.display()
                )
            }),
            _ => Err(format!(
                "host key verification failed for {host}:{port}: the host is not known \
                 ({algorithm} key {print}). After checking the fingerprint, trust it with \
                 `ssh-keyscan -p {port} {host} >> {}` or run with `--host-key-checking accept-new`.",
                user_file
                    .map(|f| f.display().to_string())
                    .unwrap_or_else(|| "~/.ssh/known_hosts".to_string()),
            )),
        },
    }
}

/// Appends a plain entry for the key (creating the file and its directory),
/// as one write under an exclusive `flock` on the file: concurrent first
/// connections (threads or other rollouts) never interleave their lines,
/// and a host another one recorded meanwhile is not recorded twice.
pub fn append(file: &Path, host: &str, port: u16, key: &PublicKey) -> std::io::Result<()> {
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let openssh = key
        .to_openssh()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    // Drop the comment: known_hosts lines are `host type base64`.
    let mut parts = openssh.split_whitespace();
    let (kind, data) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)?;
    out.lock()?;
    if check(&[file.to_path_buf()], host, port, key) == HostKeyStatus::Match {
        return Ok(());
    }
    let text = std::fs::read(file)?;
    // A file edited by hand may lack its last newline.
    let sep = if text.last().is_some_and(|b| *b != b'\n') {
        "\n"
    } else {
        ""
    };
    let line = format!("{sep}{} {kind} {data}\n", host_entry_name(host, port));
    out.write_all(line.as_bytes())
}

/// One non-comment known_hosts line.
struct Entry<'a> {
    marker: Option<&'a str>,
    hosts: &'a str,
    kind: &'a str,
    data: &'a str,
}

impl<'a> Entry<'a> {
    fn parse(line: &'a str) -> Option<Self> {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        let mut fields = line.split_whitespace();
        let mut first = fields.next()?;
        let marker = if first.starts_with('@') {
            let m = first;
            first = fields.next()?;
            Some(m)
        } else {
            None
        };
        Some(Entry {
            marker,
            hosts: first,
            kind: fields.next()?,
            data: fields.next()?,
        })
    }

    fn key(&self) -> Option<PublicKey> {
        PublicKey::from_openssh(&format!("{} {}", self.kind, self.data)).ok()
    }

    fn matches(&self, name: &str) -> bool {
        if let Some(hashed) = self.hosts.strip_prefix("|1|") {
            return hashed_matches(hashed, name);
        }
        // `[host]:port` contains no wildcard, so glob matching covers it too.
        host_matches(&[self.hosts.to_string()], name)
    }
}

/// `salt|hash`, both base64: HMAC-SHA1 of the name keyed with the salt.
fn hashed_matches(hashed: &str, name: &str) -> bool {
    let Some((salt, hash)) = hashed.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (B64.decode(salt), B64.decode(hash)) else {
        return false;
    };
    let Ok(mut mac) = hmac::Hmac::<sha1::Sha1>::new_from_slice(&salt) else {
        return false;
    };
    mac.update(name.as_bytes());
    mac.verify_slice(&hash).is_ok()
}

/// Hashes a host name the way `ssh-keygen -H` does (used by tests and by
/// anyone who wants hashed entries).
pub fn hash_host_name(name: &str, salt: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(salt).expect("HMAC takes any key size");
    mac.update(name.as_bytes());
    format!(
        "|1|{}|{}",
        B64.encode(salt),
        B64.encode(mac.finalize().into_bytes())
    )
}

fn shell_word(word: &str) -> String {
    crate::core::shell_quote(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED_A: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEj/gYuIOg3OngcOt1sgM2Q3n0zSruwYjG3IUWeE10ui";
    const ED_B: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ4xA3FEsb82Peoa1QBXTrvM9edA/MGrHfUYif//D+bD";

    fn key(text: &str) -> PublicKey {
        PublicKey::from_openssh(text).unwrap()
    }

    fn file_with(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_hosts");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn plain_lists_ports_and_changes() {
        let text = format!("# comment\nother,web1,10.0.0.1 {ED_A}\n[web2]:2222 {ED_A}\n");
        let (_d, path) = file_with(&text);
        let files = [path.clone()];
        assert_eq!(check(&files, "web1", 22, &key(ED_A)), HostKeyStatus::Match);
        assert_eq!(
            check(&files, "10.0.0.1", 22, &key(ED_A)),
            HostKeyStatus::Match
        );
        assert_eq!(
            check(&files, "web2", 2222, &key(ED_A)),
            HostKeyStatus::Match
        );
        assert_eq!(
            check(&files, "web2", 22, &key(ED_A)),
            HostKeyStatus::Unknown
        );
        assert_eq!(
            check(&files, "web2", 2222, &key(ED_B)),
            HostKeyStatus::Changed {
                file: path.clone(),
                line: 3
            }
        );
    }

    #[test]
    fn hashed_entries_and_markers() {
        let hashed = hash_host_name("[db]:2200", b"0123456789abcdefghij");
        let text = format!("{hashed} {ED_A}\n@revoked * {ED_B}\n@cert-authority *.corp {ED_B}\n");
        let (_d, path) = file_with(&text);
        let files = [path.clone()];
        assert_eq!(check(&files, "db", 2200, &key(ED_A)), HostKeyStatus::Match);
        assert_eq!(check(&files, "db", 22, &key(ED_A)), HostKeyStatus::Unknown);
        assert_eq!(
            check(&files, "x.corp", 22, &key(ED_B)),
            HostKeyStatus::Revoked {
                file: path,
                line: 2
            }
        );
    }

    #[test]
    fn hash_matches_openssh() {
        // Produced by `ssh-keygen -H` for "[db]:2200".
        let hashed = "|1|tlLUqFYnRkjWsvRznv0YlGErGHE=|52k2EQfJuQ2zqsKLJeF3FuROxkQ=";
        let (_d, path) = file_with(&format!("{hashed} {ED_A}\n"));
        assert_eq!(check(&[path], "db", 2200, &key(ED_A)), HostKeyStatus::Match);
        let salt = B64.decode("tlLUqFYnRkjWsvRznv0YlGErGHE=").unwrap();
        assert_eq!(hash_host_name("[db]:2200", &salt), hashed);
    }

    #[test]
    fn known_key_types_are_offered_first() {
        let rsa = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDDyZ3uGmBdCvOqxqhKLXFp+d3nmcJb+U2CjVbLVT39SdwZ5/0ABbkLWNuRRakr8XNkhJGPBO3dMpEDd4TQ9ZUfxvdBx3rqeGhM7NCMQ+vQX2VPSdsMnTrBqAcs8z08i1cJBLQpJZ5C9ZrZBJXRD6TiaSPUJ+9KUfPsyQbIJxRQAw==";
        let (_d, path) = file_with(&format!("[db]:2200 {rsa}\n* {ED_A}x\n"));
        let order = host_key_preference(std::slice::from_ref(&path), "db", 2200);
        assert!(
            order[..3]
                .iter()
                .all(|a| matches!(a, Algorithm::Rsa { .. })),
            "{order:?}"
        );
        assert_eq!(order.len(), Preferred::DEFAULT.key.len());
        let order = host_key_preference(&[path], "other", 22);
        assert_eq!(
            order,
            Preferred::DEFAULT.key.to_vec(),
            "nothing known: the default"
        );
    }

    #[test]
    fn concurrent_appends_write_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("known_hosts");
        // A hand-edited file without its last newline.
        std::fs::write(&file, format!("old {ED_B}")).unwrap();
        let barrier = std::sync::Barrier::new(16);
        std::thread::scope(|s| {
            for t in 0..16 {
                let (file, barrier) = (&file, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    for i in 0..40 {
                        append(file, &format!("host-{t}-{i}"), 2200, &key(ED_A)).unwrap();
                    }
                    // Recorded by another connection meanwhile: not again.
                    append(file, "host-0-0", 2200, &key(ED_A)).unwrap();
                });
            }
        });
        let text = std::fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1 + 16 * 40, "{text}");
        assert_eq!(lines[0], format!("old {ED_B}"));
        for line in &lines[1..] {
            let (name, key_text) = line.split_once(' ').unwrap();
            assert!(
                name.starts_with("[host-") && name.ends_with("]:2200"),
                "{line}"
            );
            assert_eq!(key_text, ED_A, "{line}");
        }
        for t in 0..16 {
            for i in 0..40 {
                let host = format!("host-{t}-{i}");
                let files = [file.clone()];
                assert_eq!(check(&files, &host, 2200, &key(ED_A)), HostKeyStatus::Match);
            }
        }
    }

    #[test]
    fn policies() {
        let dir = tempfile::tempdir().unwrap();
        let user = dir.path().join("sub/known_hosts");
        let files = [user.clone()];
        let err = verify(
            HostKeyPolicy::Strict,
            &files,
            Some(&user),
            "h",
            2022,
            &key(ED_A),
        )
        .unwrap_err();
        assert!(err.contains(&fingerprint(&key(ED_A))), "{err}");
        assert!(err.contains("ssh-keyscan -p 2022 h"), "{err}");
        assert!(err.contains("--host-key-checking accept-new"), "{err}");
        verify(
            HostKeyPolicy::Off,
            &files,
            Some(&user),
            "h",
            2022,
            &key(ED_A),
        )
        .unwrap();
        assert!(!user.exists());
        verify(
            HostKeyPolicy::AcceptNew,
            &files,
            Some(&user),
            "h",
            2022,
            &key(ED_A),
        )
        .unwrap();
        assert_eq!(check(&files, "h", 2022, &key(ED_A)), HostKeyStatus::Match);
        for policy in [
            HostKeyPolicy::Off,
            HostKeyPolicy::AcceptNew,
            HostKeyPolicy::Strict,
        ] {
            let err = verify(policy, &files, Some(&user), "h", 2022, &key(ED_B)).unwrap_err();
            assert!(err.contains("CHANGED") && err.contains(":1."), "{err}");
        }
    }
}
