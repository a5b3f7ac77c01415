//! The journal: every lifecycle transition of every host, appended as a JSON
//! line and synced to disk before the run goes on, under the state
//! directory (`journal/<run>.jsonl`, with `journal/last` naming the latest
//! run). `rollout status` folds it into where each host stands.

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
        }
    }
}

pub struct Journal {
    file: Mutex<std::fs::File>,
    path: PathBuf,
    play: Mutex<Option<String>>,
}

impl Journal {
    /// Starts a new run's journal in `state_dir/journal/`; `playbooks`
    /// names what runs, so `--resume` can tell it is the same rollout.
    pub fn create(state_dir: &Path, playbooks: &str) -> Result<Journal, String> {
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
        std::fs::write(dir.join("last"), format!("{}\n", path.display()))
            .map_err(|e| format!("cannot write {}: {e}", dir.join("last").display()))?;
        let journal = Journal {
            file: Mutex::new(file),
            path,
            play: Mutex::new(None),
        };
        journal.append(&Entry::now("run", playbooks.to_string()));
        Ok(journal)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn append(&self, entry: &Entry) {
        let Ok(line) = serde_json::to_string(entry) else {
            return;
        };
        if let Ok(mut file) = self.file.lock() {
            // Durable before the run moves on: a SIGKILL loses nothing written.
            let _ = writeln!(file, "{line}");
            let _ = file.sync_data();
        }
    }
}

impl EventSink for Journal {
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
    pub play: Option<String>,
    /// Per play key, the hosts that completed it.
    pub completed: BTreeMap<String, BTreeSet<String>>,
    /// Per host, its load balancer target.
    pub targets: BTreeMap<String, Target>,
    pub hosts: BTreeMap<String, HostStatus>,
    pub stopped: Option<String>,
    pub ended: bool,
}

/// Reads a journal; a bad line is an error naming it, never a panic.
pub fn read(path: &Path, text: &str) -> Result<RunStatus, String> {
    let mut status = RunStatus::default();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let entry: Entry = serde_json::from_str(line).map_err(|e| {
            format!(
                "{}:{}: not a journal entry ({e}); the file may be damaged",
                path.display(),
                n + 1
            )
        })?;
        let needs_host = || {
            format!(
                "{}:{}: a {} entry needs a host",
                path.display(),
                n + 1,
                entry.kind
            )
        };
        match entry.kind.as_str() {
            "run" => status.playbooks = Some(entry.detail.clone()),
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
        let journal = Journal::create(dir.path(), "site.yaml").unwrap();
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
    fn damaged_journals_are_errors_with_a_line() {
        let p = Path::new("j.jsonl");
        assert!(
            read(p, "{\"time\":\"t\",\"kind\":\"run_ended\"}\n{oops")
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
