//! `--resume`: continue the last run from its journal. Hosts that completed
//! a play are skipped in it; every other host runs the play again, and its
//! lifecycle first asks the load balancer where the host really is (a
//! target already draining or out is not deregistered twice).

use super::identity::RunIdentity;
use super::journal::{HostStatus, RunStatus};
use crate::traffic::Target;
use serde_json::{Map, Value as Json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Resume {
    /// The journal being resumed.
    pub journal: PathBuf,
    run: RunStatus,
}

impl Resume {
    /// Reads the last run's journal under `state_dir`; refuses one that was
    /// not the same rollout as `current` (the same playbooks, `--limit`,
    /// tags and `extra_vars`), saying what differs.
    pub fn load(
        state_dir: &Path,
        current: &RunIdentity,
        extra_vars: &Map<String, Json>,
    ) -> Result<Resume, String> {
        let (path, run) = super::last_run(state_dir)
            .map_err(|e| format!("--resume: {e}; run without --resume"))?;
        let differences = match (&run.identity, &run.playbooks) {
            (Some(then), _) => then.differences(current, extra_vars),
            // A journal of an older version: only its playbooks are known.
            (None, Some(p)) if *p == current.playbooks => Vec::new(),
            (None, other) => vec![format!(
                "it was of {}, not of {}",
                other.as_deref().unwrap_or("an unknown playbook"),
                current.playbooks
            )],
        };
        if !differences.is_empty() {
            return Err(format!(
                "--resume: the last run ({}) is not this rollout: {}; resume it with the same \
                 playbooks, --limit, --tags/--skip-tags and -e, or run without --resume",
                path.display(),
                differences.join("; ")
            ));
        }
        Ok(Resume { journal: path, run })
    }

    /// What reading the journal forgave (a torn last line).
    pub fn warnings(&self) -> &[String] {
        &self.run.warnings
    }

    /// The hosts that completed the play `key` in the resumed run.
    pub fn completed(&self, key: &str) -> BTreeSet<String> {
        self.run.completed.get(key).cloned().unwrap_or_default()
    }

    /// Where the resumed run left `host`, if it touched it.
    pub fn last_seen(&self, host: &str) -> Option<&HostStatus> {
        self.run.hosts.get(host)
    }

    /// The target the resumed run found for `host`.
    pub fn target(&self, host: &str) -> Option<&Target> {
        self.run.targets.get(host)
    }

    /// Plays the journal completed hosts for that are not among `keys`:
    /// the playbook changed, and their hosts will not be skipped.
    pub fn unknown_plays<'a>(&'a self, keys: &[String]) -> Vec<&'a str> {
        self.run
            .completed
            .keys()
            .filter(|k| !keys.contains(k))
            .map(String::as_str)
            .collect()
    }
}

/// How a run names its playbooks in the journal: their absolute paths.
pub fn playbooks_id(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| {
            std::fs::canonicalize(p)
                .unwrap_or_else(|_| p.clone())
                .display()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A play's key in the journal: its playbook, position and name. Editing
/// tasks keeps it; adding, moving or renaming plays does not.
pub fn play_key(playbook: &Path, index: usize, name: &str) -> String {
    let file = std::fs::canonicalize(playbook).unwrap_or_else(|_| playbook.to_path_buf());
    format!("{}#{} {name}", file.display(), index + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Event, EventSink};
    use crate::state::journal::Journal;

    fn of(playbooks: &str) -> RunIdentity {
        RunIdentity::new(playbooks.into(), None, &[], &[], &Map::new())
    }

    #[test]
    fn resume_reads_the_completed_hosts_of_the_same_playbooks_only() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            Resume::load(dir.path(), &of("site.yaml"), &Map::new())
                .unwrap_err()
                .contains("no run journal")
        );
        let journal = Journal::create(dir.path(), &of("/p/site.yaml")).unwrap();
        let key = play_key(Path::new("/p/site.yaml"), 0, "Roll");
        journal.emit(Event::HostsCompleted {
            play: key.clone(),
            hosts: vec!["a".into(), "b".into()],
        });
        journal.emit(Event::TargetResolved {
            host: "c".into(),
            id: "i-1".into(),
            port: Some(8080),
        });
        let resume = Resume::load(dir.path(), &of("/p/site.yaml"), &Map::new()).unwrap();
        assert_eq!(resume.target("c").and_then(|t| t.port), Some(8080));
        assert_eq!(resume.completed(&key).len(), 2);
        assert!(resume.completed("/p/site.yaml#2 Other").is_empty());
        assert_eq!(resume.unknown_plays(std::slice::from_ref(&key)).len(), 0);
        assert_eq!(resume.unknown_plays(&[]), [key.as_str()]);
        let err = Resume::load(dir.path(), &of("/p/other.yaml"), &Map::new()).unwrap_err();
        assert!(
            err.contains("was of /p/site.yaml, not of /p/other.yaml"),
            "{err}"
        );
        let limited = RunIdentity::new(
            "/p/site.yaml".into(),
            Some("web1".into()),
            &[],
            &[],
            &Map::new(),
        );
        let err = Resume::load(dir.path(), &limited, &Map::new()).unwrap_err();
        assert!(err.contains("--limit was none, now web1"), "{err}");
    }
}
