//! The journal: every lifecycle transition of every host, appended as a JSON
//! line and synced to disk before the run goes on, under the state
//! directory (`journal/<run>.jsonl`, with `journal/last` naming the latest
//! run). `rollout status` folds it into where each host stands.
//!
//! A write that fails is remembered ([`EventSink::broken`]): the engine
//! stops before its next batch or lifecycle step, since `--resume` could
//! not continue from a journal with a hole in it. Reading forgives only
//! what a power loss leaves: a torn last line.

use super::identity::RunIdentity;
use crate::events::{Event, EventSink, Phase};
use crate::traffic::Target;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub time: String,
    /// `run` (the playbooks, first line), `run_started` (a play),
    /// `lifecycle`, `completed` (a host done with a play; `detail` is the
    /// play's key), `play_stopped`, `run_ended`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub play: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// `target`: the port the host's target is registered with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// `run`: what `--resume` must find the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<RunIdentity>,
}

impl Entry {
    /// An entry of `kind` stamped now, about no play, host or phase.
    fn now(kind: &str, detail: String) -> Entry {
        Entry {
            time: chrono::Local::now().to_rfc3339(),
            kind: kind.to_string(),
            play: None,
            host: None,
            phase: None,
            detail,
            port: None,
            identity: None,
        }
    }
}

pub struct Journal {
    file: Mutex<std::fs::File>,
    path: PathBuf,
    play: Mutex<Option<String>>,
    /// The first write that failed: no more are tried.
    broken: Mutex<Option<String>>,
}

impl Journal {
    /// Starts a new run's journal in `state_dir/journal/`; `identity`
    /// says what runs, so `--resume` can tell it is the same rollout.
    pub fn create(state_dir: &Path, identity: &RunIdentity) -> Result<Journal, String> {
        let dir = state_dir.join("journal");
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create the journal directory {}: {e}", dir.display()))?;
        let run = format!(
            "{}-{}",
            chrono::Local::now().format("%Y%m%dT%H%M%S"),
            std::process::id()
        );
        let path = dir.join(format!("{run}.jsonl"));
        let file = std::fs::OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(|e| format!("cannot create the journal {}: {e}", path.display()))?;
        let journal = Journal {
            file: Mutex::new(file),
            path,
            play: Mutex::new(None),
            broken: Mutex::new(None),
        };
        let mut first = Entry::now("run", identity.playbooks.clone());
        first.identity = Some(identity.clone());
        journal.append(&first);
        if let Some(why) = journal.broken() {
            return Err(why);
        }
        point_last(&dir, &journal.path)?;
        Ok(journal)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes one line and syncs it: durable before the run moves on, so
    /// a SIGKILL loses nothing written. A failure is kept for
    /// [`EventSink::broken`], and later entries are not tried (a hole in
    /// the middle would make the journal unreadable).
    fn append(&self, entry: &Entry) {
        let Ok(mut broken) = self.broken.lock() else {
            return;
        };
        if broken.is_some() {
            return;
        }
        let written = serde_json::to_string(entry)
            .map_err(std::io::Error::other)
            .and_then(|line| {
                let mut file = self
                    .file
                    .lock()
                    .map_err(|_| std::io::Error::other("poisoned"))?;
                file.write_all(format!("{line}\n").as_bytes())?;
                file.sync_data()
            });
        if let Err(e) = written {
            *broken = Some(format!(
                "cannot write the run journal {}: {e}; the rollout stops here, because --resume \
                 could not continue from an incomplete journal (free space or fix the state \
                 directory, then run the same command with --resume)",
                self.path.display()
            ));
        }
    }
}

/// Points `journal/last` at `path` atomically: a temporary file, synced,
/// renamed over it, so a reader sees the old pointer or the new, never half.
fn point_last(dir: &Path, path: &Path) -> Result<(), String> {
    let last = dir.join("last");
    let tmp = dir.join(format!("last.tmp-{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(format!("{}\n", path.display()).as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, &last)?;
        // The rename itself survives a power loss once the directory is synced.
        std::fs::File::open(dir)?.sync_all()
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot write {}: {e}", last.display())
    })
}

impl EventSink for Journal {
    fn broken(&self) -> Option<String> {
        self.broken.lock().ok().and_then(|b| b.clone())
    }

    fn emit(&self, event: Event) {
        let play = self.play.lock().ok().and_then(|p| p.clone());
        let entry = |kind: &str, host: Option<&str>, phase: Option<Phase>, detail: String| Entry {
            play: play.clone(),
            host: host.map(str::to_string),
            phase,
            ..Entry::now(kind, detail)
        };
        match &event {
            Event::PlayStart { name, hosts } => {
                if let Ok(mut p) = self.play.lock() {
                    *p = Some(name.clone());
                }
                let mut e = entry("run_started", None, None, hosts.join(","));
                e.play = Some(name.clone());
                self.append(&e);
            }
            Event::Lifecycle {
                host,
                phase,
                detail,
                ..
            } => self.append(&entry(
                "lifecycle",
                Some(host),
                Some(*phase),
                detail.clone(),
            )),
            Event::OutOfRotation { hosts } => {
                for h in hosts {
                    let detail = format!("{}; put back: {}", h.why, h.restore);
                    self.append(&entry(
                        "lifecycle",
                        Some(&h.host),
                        Some(Phase::OutOfRotation),
                        detail,
                    ));
                }
            }
            Event::PlayAborted { reason } => {
                self.append(&entry("play_stopped", None, None, reason.clone()))
            }
            Event::TargetResolved { host, id, port } => {
                let mut e = entry("target", Some(host), None, id.clone());
                e.port = *port;
                self.append(&e);
            }
            Event::HostsCompleted { play, hosts } => {
                for h in hosts {
                    self.append(&entry("completed", Some(h), None, play.clone()));
                }
            }
            Event::Recap { .. } => self.append(&entry("run_ended", None, None, String::new())),
            _ => {}
        }
    }
}

/// Where a host stands, folded from the journal.
#[derive(Debug, Clone, PartialEq)]
pub struct HostStatus {
    pub phase: Phase,
    pub in_rotation: bool,
    pub detail: String,
    pub time: String,
}

/// A run read back from its journal.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunStatus {
    /// The playbooks the run was of.
    pub playbooks: Option<String>,
    /// What the run was of, with its options (journals of older versions
    /// have only `playbooks`).
    pub identity: Option<RunIdentity>,
    /// What reading forgave (a torn last line).
    pub warnings: Vec<String>,
    pub play: Option<String>,
    /// Per play key, the hosts that completed it.
    pub completed: BTreeMap<String, BTreeSet<String>>,
    /// Per host, its load balancer target.
    pub targets: BTreeMap<String, Target>,
    pub hosts: BTreeMap<String, HostStatus>,
    pub stopped: Option<String>,
    pub ended: bool,
}

/// Reads a journal; a bad line is an error naming it, never a panic. The
/// last line alone may be torn (a power loss during its write): it is
/// skipped with a warning in [`RunStatus::warnings`].
pub fn read(path: &Path, text: &str) -> Result<RunStatus, String> {
    let mut status = RunStatus::default();
    let is_blank = |line: &str| {
        line.trim_matches(|c: char| c.is_whitespace() || c == '\0')
            .is_empty()
    };
    let last = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !is_blank(l))
        .last()
        .map(|(n, _)| n);
    for (n, line) in text.lines().enumerate() {
        if is_blank(line) {
            continue;
        }
        let entry: Entry = match serde_json::from_str(line) {
            Ok(entry) => entry,
            Err(_) if Some(n) == last => {
                status.warnings.push(format!(
                    "{}:{}: the last line is incomplete (the run was cut off while writing \
                     it); it is skipped",
                    path.display(),
                    n + 1
                ));
                break;
            }
            Err(e) => {
                return Err(format!(
                    "{}:{}: not a journal entry ({e}); the file is damaged in the middle, so \
                     --resume cannot trust it: run without --resume",
                    path.display(),
                    n + 1
                ));
            }
        };
        let needs_host = || {
            format!(
                "{}:{}: a {} entry needs a host",
                path.display(),
                n + 1,
                entry.kind
            )
        };
        match entry.kind.as_str() {
            "run" => {
                status.playbooks = Some(entry.detail.clone());
                status.identity = entry.identity.clone();
            }
            "run_started" => status.play = entry.play.clone(),
            "target" => {
                let host = entry.host.clone().ok_or_else(needs_host)?;
                let target = Target {
                    id: entry.detail.clone(),
                    port: entry.port,
                };
                status.targets.insert(host, target);
            }
            "completed" => {
                let host = entry.host.clone().ok_or_else(needs_host)?;
                status
                    .completed
                    .entry(entry.detail.clone())
                    .or_default()
                    .insert(host);
            }
            "play_stopped" => status.stopped = Some(entry.detail.clone()),
            "run_ended" => status.ended = true,
            "lifecycle" => {
                let (Some(host), Some(phase)) = (entry.host.clone(), entry.phase) else {
                    return Err(format!("{} and a phase", needs_host()));
                };
                let was_in = status.hosts.get(&host).is_none_or(|h| h.in_rotation);
                let in_rotation = match phase {
                    Phase::Deregistering
                    | Phase::Draining
                    | Phase::OutOfRotation
                    | Phase::Deploying
                    | Phase::AppHealthCheck
                    | Phase::Registering
                    | Phase::HealthChecking => false,
                    Phase::InRotation => true,
                    Phase::Resolving | Phase::CapacityCheck => was_in,
                };
                status.hosts.insert(
                    host,
                    HostStatus {
                        phase,
                        in_rotation,
                        detail: entry.detail.clone(),
                        time: entry.time.clone(),
                    },
                );
            }
            other => {
                return Err(format!(
                    "{}:{}: unknown journal entry kind '{other}'",
                    path.display(),
                    n + 1
                ));
            }
        }
    }
    Ok(status)
}

/// `rollout status`: the last run, per host.
pub fn render(path: &Path, status: &RunStatus) -> String {
    let mut out = format!("last run: {}\n", path.display());
    if let Some(play) = &status.play {
        out.push_str(&format!("play: {play}\n"));
    }
    let state = match (&status.stopped, status.ended) {
        (Some(why), _) => format!("stopped: {why}"),
        (None, true) => "finished".to_string(),
        (None, false) => "did not finish (interrupted or killed)".to_string(),
    };
    out.push_str(&format!("state: {state}\n"));
    for (host, h) in &status.hosts {
        out.push_str(&format!(
            "{host:<24} {:<16} {:<16} {}\n",
            if h.in_rotation {
                "in rotation"
            } else {
                "OUT OF ROTATION"
            },
            h.phase.label(),
            h.detail
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_fold_into_where_each_host_stands() {
        let dir = tempfile::tempdir().unwrap();
        let identity = RunIdentity::new("site.yaml".into(), None, &[], &[], &Default::default());
        let journal = Journal::create(dir.path(), &identity).unwrap();
        journal.emit(Event::PlayStart {
            name: "Roll out 2.0".into(),
            hosts: vec!["a".into(), "b".into()],
        });
        for (host, phase) in [
            ("a", Phase::Deregistering),
            ("a", Phase::InRotation),
            ("b", Phase::Draining),
        ] {
            journal.emit(Event::Lifecycle {
                host: host.into(),
                phase,
                detail: "d".into(),
                remaining: None,
            });
        }
        journal.emit(Event::HostsCompleted {
            play: "site.yaml#1".into(),
            hosts: vec!["a".into()],
        });
        let text = std::fs::read_to_string(journal.path()).unwrap();
        let status = read(journal.path(), &text).unwrap();
        assert_eq!(status.playbooks.as_deref(), Some("site.yaml"));
        assert_eq!(status.play.as_deref(), Some("Roll out 2.0"));
        assert_eq!(
            status.completed["site.yaml#1"],
            BTreeSet::from(["a".to_string()])
        );
        assert!(status.hosts["a"].in_rotation);
        assert!(!status.hosts["b"].in_rotation);
        assert!(!status.ended);
        let shown = render(journal.path(), &status);
        assert!(
            shown.contains("did not finish") && shown.contains("OUT OF ROTATION"),
            "{shown}"
        );
        let last = std::fs::read_to_string(dir.path().join("journal/last")).unwrap();
        assert_eq!(last.trim(), journal.path().display().to_string());
    }

    #[test]
    fn a_failed_write_breaks_the_journal_and_names_it() {
        let path = PathBuf::from("/dev/full");
        let journal = Journal {
            file: Mutex::new(
                std::fs::OpenOptions::new()
                    .append(true)
                    .open(&path)
                    .unwrap(),
            ),
            path,
            play: Mutex::new(None),
            broken: Mutex::new(None),
        };
        assert_eq!(journal.broken(), None);
        journal.emit(Event::HostsCompleted {
            play: "p".into(),
            hosts: vec!["a".into()],
        });
        let why = journal.broken().expect("the write failed");
        assert!(
            why.contains("cannot write the run journal /dev/full") && why.contains("--resume"),
            "{why}"
        );
        // Through the outputs' fan-out, as the engine asks.
        let fanout = crate::events::Fanout(vec![std::sync::Arc::new(journal)]);
        assert_eq!(fanout.broken(), Some(why));
    }

    #[test]
    fn a_journal_that_cannot_start_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        // The state directory is a file: no journal can be created in it.
        let blocked = dir.path().join("blocked");
        std::fs::write(&blocked, "").unwrap();
        let identity = RunIdentity::new("p".into(), None, &[], &[], &Default::default());
        let err = Journal::create(&blocked, &identity).err().unwrap();
        assert!(err.contains("blocked/journal"), "{err}");
    }

    #[test]
    fn the_last_run_pointer_is_never_seen_half_written() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (
            dir.path().join("a".repeat(200)),
            dir.path().join("b".repeat(200)),
        );
        point_last(dir.path(), &a).unwrap();
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                for i in 0..300 {
                    point_last(dir.path(), if i % 2 == 0 { &b } else { &a }).unwrap();
                }
                done.store(true, std::sync::atomic::Ordering::SeqCst);
            });
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                let text = std::fs::read_to_string(dir.path().join("last")).unwrap();
                let named = PathBuf::from(text.trim_end_matches('\n'));
                assert!(named == a || named == b, "read {text:?}");
            }
        });
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file is left: {left:?}");
    }

    #[test]
    fn a_torn_last_line_is_skipped_with_a_warning() {
        let p = Path::new("j.jsonl");
        let good = "{\"time\":\"t\",\"kind\":\"run\",\"detail\":\"site.yaml\"}\n";
        let torn = "{\"time\":\"t\",\"kind\":\"comple";
        let status = read(p, &format!("{good}{torn}")).unwrap();
        assert_eq!(status.playbooks.as_deref(), Some("site.yaml"));
        assert_eq!(status.warnings.len(), 1);
        assert!(status.warnings[0].contains("j.jsonl:2: the last line is incomplete"));
        // What a power loss leaves after it: zeroes, blank lines.
        let status = read(p, &format!("{good}{torn}\0\0\n\n")).unwrap();
        assert_eq!(status.warnings.len(), 1);
        // A complete journal warns of nothing.
        assert!(read(p, good).unwrap().warnings.is_empty());
        // Torn in the middle: damaged, with its line number.
        let err = read(p, &format!("{good}{torn}\n{good}")).unwrap_err();
        assert!(err.contains("j.jsonl:2: not a journal entry"), "{err}");
    }

    #[test]
    fn damaged_journals_are_errors_with_a_line() {
        let p = Path::new("j.jsonl");
        assert!(
            read(p, "{\"time\":\"t\",\"kind\":\"run_ended\"}\n{oops\n{}")
                .unwrap_err()
                .contains("j.jsonl:2")
        );
        assert!(
            read(p, "{\"time\":\"t\",\"kind\":\"lifecycle\"}")
                .unwrap_err()
                .contains("needs a host")
        );
    }
}
