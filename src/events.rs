//! The typed events the engine emits. The engine never prints: the console
//! output, JSON lines and (later) the journal are consumers of these events.

use crate::diag::Location;
use serde::Serialize;
use serde_json::Value as Json;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Changed,
    Skipped,
    Failed,
    Unreachable,
}

/// Per-host counters shown in the PLAY RECAP.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct HostStats {
    pub ok: u32,
    pub changed: u32,
    pub unreachable: u32,
    pub failed: u32,
    pub skipped: u32,
    pub rescued: u32,
    pub ignored: u32,
}

/// One host's result for a task (or for one loop item of it), as every
/// output shows or records it. Serialized flat inside its event.
#[derive(Debug, Clone, Serialize)]
pub struct HostResult {
    pub host: String,
    pub status: Status,
    /// Set for a loop item's result; the label shown as `(item=...)`.
    pub item: Option<String>,
    /// The result, already censored when `no_log` is set.
    pub result: Json,
    pub ignored: bool,
    pub delegated_to: Option<String>,
    /// The `debug` module's output is shown without `-v`.
    pub show_result: bool,
    /// The task ran with `diff` on (`--diff` or the `diff:` keyword): its
    /// `diff` is shown.
    pub show_diff: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    PlayStart {
        name: String,
        hosts: Vec<String>,
    },
    /// The hosts of a play matched nothing (after `--limit`).
    NoHostsMatched {
        play: String,
    },
    /// A batch of a `serial` play (Ansible starts each with the play's
    /// banner again).
    BatchStart {
        play: String,
        index: usize,
        count: usize,
        hosts: Vec<String>,
    },
    TaskStart {
        name: String,
        location: Option<String>,
        handler: bool,
    },
    /// `include_tasks` entered for a host.
    Included {
        host: String,
        file: String,
    },
    /// One host's result for a task (or for one loop item of it).
    HostResult(HostResult),
    /// An `until` attempt failed and will be retried.
    Retrying {
        host: String,
        task: String,
        retries_left: u32,
        result: Json,
    },
    Warning {
        message: String,
    },
    /// An async job (`async:` with `poll > 0`) was checked and still runs.
    AsyncPoll {
        host: String,
        jid: String,
    },
    /// A polled async job is over: `failed` as the task's result.
    AsyncDone {
        host: String,
        jid: String,
        failed: bool,
    },
    /// The play stopped early (all hosts failed, max_fail_percentage…).
    PlayAborted {
        reason: String,
    },
    /// Where a host stands in the rolling lifecycle (resolving, draining,
    /// health-checking…), for progress display.
    Lifecycle {
        host: String,
        phase: Phase,
        detail: String,
        /// Seconds left before the wait's bound, when waiting.
        remaining: Option<u64>,
    },
    /// Hosts this run took out of rotation and did not put back, and how
    /// to put each back by hand.
    OutOfRotation {
        hosts: Vec<OutOfRotationHost>,
    },
    /// A rolling play found the host's load balancer target (journaled:
    /// a resumed run registers it with the same port).
    TargetResolved {
        host: String,
        id: String,
        port: Option<u16>,
    },
    /// Hosts that went through every section of a play without failing
    /// (journaled, so `--resume` skips them); `play` is the play's key.
    HostsCompleted {
        play: String,
        hosts: Vec<String>,
    },
    Recap {
        hosts: Vec<(String, HostStats)>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Resolving,
    CapacityCheck,
    Deregistering,
    Draining,
    Deploying,
    AppHealthCheck,
    Registering,
    HealthChecking,
    InRotation,
    OutOfRotation,
}

impl Phase {
    pub fn label(self) -> &'static str {
        match self {
            Phase::Resolving => "resolving",
            Phase::CapacityCheck => "capacity check",
            Phase::Deregistering => "deregistering",
            Phase::Draining => "draining",
            Phase::Deploying => "deploying",
            Phase::AppHealthCheck => "checking the app",
            Phase::Registering => "registering",
            Phase::HealthChecking => "health-checking",
            Phase::InRotation => "in rotation",
            Phase::OutOfRotation => "out of rotation",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutOfRotationHost {
    pub host: String,
    /// `haproxy backend app`, `target group web`.
    pub group: String,
    pub target: String,
    pub why: String,
    /// A command that puts the host back once it is fixed.
    pub restore: String,
}

impl Event {
    pub fn location_text(location: &Location) -> String {
        location.to_string()
    }
}

/// Where events go. Implementations must be cheap and never block for long.
pub trait EventSink: Send + Sync {
    fn emit(&self, event: Event);

    /// Why this sink can no longer keep its promise, if it cannot (the
    /// journal failed to write: `--resume` would lose track). The engine
    /// stops before its next batch or lifecycle step when one says so.
    fn broken(&self) -> Option<String> {
        None
    }
}

pub type Sink = Arc<dyn EventSink>;

/// Where a play adds subscribers to the run's outputs (its
/// `notify_webhook`), so the engine needs no output of its own.
pub trait Subscriptions: Send + Sync + std::fmt::Debug {
    /// Adds `url` (once); the error says why it cannot be used.
    fn subscribe(&self, url: &str) -> Result<(), String>;
}

/// Collects events in memory (tests, `--list-*` helpers).
#[derive(Default)]
pub struct Collector(pub std::sync::Mutex<Vec<Event>>);

impl EventSink for Collector {
    fn emit(&self, event: Event) {
        if let Ok(mut events) = self.0.lock() {
            events.push(event);
        }
    }
}

/// Sends every event to several sinks.
pub struct Fanout(pub Vec<Sink>);

impl EventSink for Fanout {
    fn emit(&self, event: Event) {
        for sink in &self.0 {
            sink.emit(event.clone());
        }
    }

    fn broken(&self) -> Option<String> {
        self.0.iter().find_map(|sink| sink.broken())
    }
}

/// Masks every value vault decrypted (see [`crate::vault::redact`])
/// before passing events on: wraps all of a run's outputs, so the
/// console, JSON lines, the journal and webhooks never see them.
pub struct Redacted(pub Sink);

impl EventSink for Redacted {
    fn emit(&self, mut event: Event) {
        if crate::vault::redact::active() {
            redact(&mut event);
        }
        self.0.emit(event);
    }

    fn broken(&self) -> Option<String> {
        self.0.broken()
    }
}

fn redact(event: &mut Event) {
    use crate::vault::redact::{json, text};
    let mask = |s: &mut String| *s = text(s);
    match event {
        Event::PlayStart { name, .. } | Event::BatchStart { play: name, .. } => mask(name),
        Event::NoHostsMatched { play } => mask(play),
        Event::TaskStart { name, .. } => mask(name),
        Event::Included { file, .. } => mask(file),
        Event::HostResult(result) => {
            json(&mut result.result);
            if let Some(item) = &mut result.item {
                mask(item);
            }
        }
        Event::Retrying { task, result, .. } => {
            mask(task);
            json(result);
        }
        Event::Warning { message } => mask(message),
        Event::PlayAborted { reason } => mask(reason),
        Event::Lifecycle { detail, .. } => mask(detail),
        Event::OutOfRotation { hosts } => {
            for host in hosts {
                mask(&mut host.why);
                mask(&mut host.restore);
            }
        }
        Event::AsyncPoll { .. }
        | Event::AsyncDone { .. }
        | Event::TargetResolved { .. }
        | Event::HostsCompleted { .. }
        | Event::Recap { .. } => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_result_serializes_flat_inside_its_event() {
        let event = Event::HostResult(HostResult {
            host: "web1".into(),
            status: Status::Changed,
            item: None,
            result: serde_json::json!({"changed": true}),
            ignored: false,
            delegated_to: None,
            show_result: false,
            show_diff: false,
        });
        assert_eq!(
            serde_json::to_string(&event).unwrap(),
            r#"{"event":"host_result","host":"web1","status":"changed","item":null,"result":{"changed":true},"ignored":false,"delegated_to":null,"show_result":false,"show_diff":false}"#
        );
    }
}
