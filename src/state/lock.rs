//! One rollout per load balancer group at a time: a lock file per target
//! group or HAProxy backend in the state directory, holding the owner's
//! PID. A lock whose PID no longer runs has expired and is taken over, so a
//! killed rollout never blocks the next one. (The lock is per controller
//! machine: two operators on different machines are not stopped by it.)

use std::io::Write;
use std::path::{Path, PathBuf};

pub struct GroupLock {
    path: PathBuf,
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

impl GroupLock {
    /// Takes the lock for `group` (`target group web`) identified by `key`
    /// (its ARN, or socket and backend), or says who holds it.
    pub fn acquire(dir: &Path, group: &str, key: &str) -> Result<GroupLock, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create the state directory {}: {e}", dir.display()))?;
        let name: String = key
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let path = dir.join(format!("lock-{name}"));
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut file) => {
                    let _ = writeln!(
                        file,
                        "{} {}",
                        std::process::id(),
                        chrono::Local::now().to_rfc3339()
                    );
                    return Ok(GroupLock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let text = std::fs::read_to_string(&path).unwrap_or_default();
                    let mut fields = text.split_whitespace();
                    let pid = fields.next().and_then(|p| p.parse::<u32>().ok());
                    let since = fields.next().unwrap_or("?");
                    match pid {
                        Some(pid) if pid != std::process::id() && alive(pid) => {
                            return Err(format!(
                                "another rollout (pid {pid}, since {since}) is rolling through {group}; \
                                 wait for it to finish (its lock is {})",
                                path.display()
                            ));
                        }
                        // Its holder is gone: the lock has expired.
                        _ => {
                            let _ = std::fs::remove_file(&path);
                        }
                    }
                }
                Err(e) => return Err(format!("cannot create the lock {}: {e}", path.display())),
            }
        }
        Err(format!("could not take the lock {}", path.display()))
    }
}

impl Drop for GroupLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_locks_refuse_and_dead_ones_expire() {
        let dir = tempfile::tempdir().unwrap();
        // A live holder: PID 1 always runs.
        std::fs::write(dir.path().join("lock-tg"), "1 2026-12-02T01:00:00Z\n").unwrap();
        let err = GroupLock::acquire(dir.path(), "target group tg", "tg")
            .err()
            .unwrap();
        assert!(err.contains("another rollout (pid 1"), "{err}");
        // A dead holder's lock is taken over.
        std::fs::write(dir.path().join("lock-tg"), "4194999 2026-12-02T01:00:00Z\n").unwrap();
        let lock = GroupLock::acquire(dir.path(), "target group tg", "tg").unwrap();
        let text = std::fs::read_to_string(dir.path().join("lock-tg")).unwrap();
        assert!(text.starts_with(&std::process::id().to_string()));
        drop(lock);
        assert!(!dir.path().join("lock-tg").exists(), "released on drop");
    }
}
