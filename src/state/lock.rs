//! One rollout per load balancer group at a time: an OS lock (`flock(2)`)
//! on a file per target group or HAProxy backend in the state directory,
//! held for as long as the play runs. The kernel releases it when its
//! holder exits, however it dies, so a killed rollout never blocks the
//! next one and no PID has to be checked. The file is never deleted (a
//! deleted file could be locked by one process and recreated by another);
//! its content, the holder's PID and start time, only names the holder in
//! the refusal. (The lock is per controller machine: two operators on
//! different machines are not stopped by it.)

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// A held group lock; dropping it (or exiting) releases it.
pub struct GroupLock {
    _file: File,
}

/// The lock file of the group identified by `key` under `dir`.
pub fn lock_path(dir: &Path, key: &str) -> PathBuf {
    let name: String = key
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    dir.join(format!("lock-{name}"))
}

impl GroupLock {
    /// Takes the lock for `group` (`target group web`) identified by `key`
    /// (its ARN, or socket and backend), or says who holds it.
    pub fn acquire(dir: &Path, group: &str, key: &str) -> Result<GroupLock, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create the state directory {}: {e}", dir.display()))?;
        let path = lock_path(dir, key);
        let cannot = |e: std::io::Error| format!("cannot use the lock {}: {e}", path.display());
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(cannot)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                let mut fields = text.split_whitespace();
                let pid = fields.next().unwrap_or("?");
                let since = fields.next().unwrap_or("?");
                return Err(format!(
                    "another rollout (pid {pid}, since {since}) is rolling through {group}; \
                     wait for it to finish (its lock is {})",
                    path.display()
                ));
            }
            Err(TryLockError::Error(e)) => return Err(cannot(e)),
        }
        // Only the holder writes, and only after taking the lock: the new
        // line overwrites the old one from the start, then the rest is cut.
        let line = format!(
            "{} {}\n",
            std::process::id(),
            chrono::Local::now().to_rfc3339()
        );
        file.rewind()
            .and_then(|()| file.write_all(line.as_bytes()))
            .and_then(|()| file.set_len(line.len() as u64))
            .map_err(cannot)?;
        Ok(GroupLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    /// Set in the children the race tests start (this test binary again).
    const CHILD: &str = "ROLLOUT_LOCK_TEST_CHILD";

    fn take(dir: &Path) -> Result<GroupLock, String> {
        GroupLock::acquire(dir, "target group tg", "tg")
    }

    /// This test binary, running only `child` with `mode` in [`CHILD`].
    fn spawn_child(dir: &Path, mode: &str) -> Command {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args(["--exact", "state::lock::tests::child", "--nocapture"])
            .env(CHILD, format!("{mode} {}", dir.display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        cmd
    }

    /// The child side of the race tests; a no-op in a normal test run.
    /// `race DIR`: take the lock 20 times, and while holding it, own a
    /// marker no other holder may own at the same time. `hold DIR`: take
    /// it, say so, and wait to be killed.
    #[test]
    fn child() {
        let Ok(spec) = std::env::var(CHILD) else {
            return;
        };
        let (mode, dir) = spec.split_once(' ').unwrap();
        let dir = Path::new(dir);
        let marker = dir.join("holder");
        if mode == "hold" {
            let _lock = take(dir).unwrap();
            println!("held");
            std::thread::sleep(std::time::Duration::from_secs(60));
            return;
        }
        let mut taken = 0;
        while taken < 20 {
            let Ok(lock) = take(dir) else {
                std::thread::yield_now();
                continue;
            };
            std::fs::File::create_new(&marker).expect("the lock was held twice at once");
            std::thread::sleep(std::time::Duration::from_micros(200));
            std::fs::remove_file(&marker).unwrap();
            drop(lock);
            taken += 1;
        }
    }

    #[test]
    fn racing_processes_hold_the_lock_one_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let children: Vec<_> = (0..8)
            .map(|_| spawn_child(dir.path(), "race").spawn().unwrap())
            .collect();
        for c in children {
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success(), "a racing child failed: {out:?}");
        }
        assert!(dir.path().join("lock-tg").exists(), "the file stays");
    }

    #[test]
    fn a_killed_holders_lock_is_free_at_once() {
        use std::io::BufRead;
        let dir = tempfile::tempdir().unwrap();
        let mut holder = spawn_child(dir.path(), "hold").spawn().unwrap();
        // The test harness talks first; wait for the child's own word.
        let mut out = std::io::BufReader::new(holder.stdout.take().unwrap());
        let mut line = String::new();
        while !line.contains("held") {
            line.clear();
            assert!(out.read_line(&mut line).unwrap() > 0, "the holder died");
        }
        let err = take(dir.path()).err().unwrap();
        assert!(
            err.contains(&format!("another rollout (pid {},", holder.id())),
            "{err}"
        );
        holder.kill().unwrap();
        holder.wait().unwrap();
        let _lock = take(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join("lock-tg")).unwrap();
        assert!(
            text.starts_with(&format!("{} ", std::process::id())),
            "{text}"
        );
    }

    #[test]
    fn the_file_names_the_holder_but_only_the_os_lock_counts() {
        let dir = tempfile::tempdir().unwrap();
        // A file naming a live process (PID 1) without its lock: free.
        std::fs::write(
            dir.path().join("lock-tg"),
            "1 2026-12-02T01:00:00Z and a longer tail\n",
        )
        .unwrap();
        let lock = take(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join("lock-tg")).unwrap();
        assert!(
            text.starts_with(&format!("{} ", std::process::id())),
            "{text}"
        );
        assert_eq!(text.lines().count(), 1, "{text}");
        // Held, even by this same process: refused, naming the holder.
        let err = take(dir.path()).err().unwrap();
        assert!(
            err.contains(&format!("another rollout (pid {}", std::process::id())),
            "{err}"
        );
        drop(lock);
        assert!(dir.path().join("lock-tg").exists(), "never deleted");
        drop(take(dir.path()).unwrap());
    }
}
