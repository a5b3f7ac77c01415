//! The rolling lifecycle around each batch of a play with `load_balancer:`.
//!
//! After `pre_tasks`, [`Lifecycle::take_out`] resolves each host's target,
//! checks that enough other capacity stays healthy, deregisters and waits
//! for the drain; after `tasks` and their handlers, [`Lifecycle::put_back`]
//! confirms the app answers, registers and waits until healthy. A host that
//! fails after leaving rotation stays out (unless `on_failure: restore`, or
//! a `rollback` that heals it), and the play's end names every such host
//! with the command that puts it back ([`records`]).
//!
//! The lifecycle knows the load balancer only through
//! [`TrafficManager`]s, the hosts only through a [`HostProbe`], and the
//! operator only through the event sink: the engine calls it between a
//! batch's sections and counts the results it returns like task results.
//! Its tests run on a paused clock against `traffic::sim`.

mod put_back;
mod records;
mod take_out;
#[cfg(test)]
mod tests;

use crate::events::{Event, Phase, Sink};
use crate::traffic::config::{DRAIN_MARGIN, LbConfig, OnFailure};
use crate::traffic::wait::{self, PollSettings};
use crate::traffic::{Health, Target, TrafficManager};
use async_trait::async_trait;
use records::Records;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

pub use records::Publish;

/// Used for the drain bound when the manager knows no deregistration delay.
const DEFAULT_DRAIN: Duration = Duration::from_secs(300);
/// Progress is shown at most this often per host while waiting.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// What the lifecycle needs from a host, through its own connection.
#[async_trait]
pub trait HostProbe: Send + Sync {
    /// The host's EC2 instance ID (its `instance_id` variable, else
    /// IMDSv2 read through its connection).
    /// Returns the ID and where it came from, for messages.
    async fn instance_id(&self, host: &str) -> Result<(String, String), String>;

    /// One try of the app's health URL, from the host: `Ok` on a 2xx.
    async fn check_url(&self, host: &str, url: &str) -> Result<(), String>;
}

/// One host's result of a lifecycle step, counted like a task's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepResult {
    Ok(String),
    Changed(String),
    Failed(String),
}

/// What a step did: the hosts that got through it, and every result to
/// count, in the order they came.
#[derive(Debug, Default)]
pub struct StepReport {
    pub passed: Vec<String>,
    pub results: Vec<(String, StepResult)>,
}

impl StepReport {
    fn result(&mut self, host: &str, result: StepResult) {
        self.results.push((host.to_string(), result));
    }

    fn fail(&mut self, host: &str, why: String) {
        self.result(host, StepResult::Failed(why));
    }
}

/// A batch host as the engine counts it when the host's turn comes to go
/// back.
#[derive(Debug, Clone)]
pub struct BatchHost {
    pub name: String,
    pub failed: bool,
    pub unreachable: bool,
    /// `meta: end_host` / `end_play`: done for this play without failing.
    pub ended: bool,
}

/// What the lifecycle is told about the run.
pub struct Settings {
    /// `--check`: say what would happen, change nothing.
    pub check: bool,
    /// `--resume`: the targets the last run resolved (their ports, for
    /// targets it left deregistered).
    pub resumed: HashMap<String, Target>,
    /// `--resume`: the hosts the last run left out of rotation (their
    /// targets may be unknown to the group: this rollout took them out).
    pub resumed_out: HashSet<String>,
    /// The play's location, shown with the lifecycle's steps.
    pub location: String,
}

/// A rolling play's load balancer state, for the whole play.
pub struct Lifecycle {
    /// The section rendered for the play's first host: bounds and policy.
    config: LbConfig,
    /// Per host, the section rendered with its variables (its target).
    rendered: HashMap<String, LbConfig>,
    groups: Vec<Arc<dyn TrafficManager>>,
    /// Resolved targets, per host.
    targets: HashMap<String, Target>,
    /// Where each host's target ID came from, for messages.
    sources: HashMap<String, String>,
    records: Records,
    poll: PollSettings,
    sink: Sink,
    settings: Settings,
}

impl Lifecycle {
    /// `rendered` holds every host's section (at least one); `groups`
    /// the managers the section names; `publish` hears every change of
    /// the hosts out of rotation (an immediate stop names them).
    pub fn new(
        rendered: HashMap<String, LbConfig>,
        first_host: &str,
        groups: Vec<Arc<dyn TrafficManager>>,
        sink: Sink,
        settings: Settings,
        publish: Publish,
    ) -> Option<Lifecycle> {
        let config = rendered.get(first_host)?.clone();
        let poll = PollSettings {
            interval: config.poll_interval,
            ..PollSettings::default()
        };
        Some(Lifecycle {
            config,
            rendered,
            groups,
            targets: HashMap::new(),
            sources: HashMap::new(),
            records: Records::new(publish),
            poll,
            sink,
            settings,
        })
    }

    /// The longest one host's lifecycle may wait on the load balancer:
    /// the drain bound plus the health bound.
    pub fn bounds(&self) -> Duration {
        self.config
            .drain_timeout
            .unwrap_or(DEFAULT_DRAIN + DRAIN_MARGIN)
            + self.config.healthy_timeout
    }

    /// Whether failed hosts run the play's `rollback` tasks.
    pub fn rolls_back(&self) -> bool {
        self.config.on_failure == OnFailure::Rollback && !self.settings.check
    }

    /// The hosts of `batch` that failed out of rotation and can run the
    /// `rollback` tasks (unreachable ones cannot).
    pub fn rollback_candidates(&self, batch: &[BatchHost]) -> Vec<String> {
        self.taken_out(batch, |_, h| h.failed && !h.unreachable)
    }

    /// Whether `host` is out of rotation because of this run.
    pub fn is_out(&self, host: &str) -> bool {
        self.records.is_out(host)
    }

    /// Emits the hosts this play leaves out of rotation, if any.
    pub fn report_out_of_rotation(&self) {
        let hosts = self.records.hosts(&self.groups, &self.targets);
        if !hosts.is_empty() {
            self.sink.emit(Event::OutOfRotation { hosts });
        }
    }

    /// The batch's hosts this run took out of rotation (with a known
    /// target) that pass `keep`.
    fn taken_out(
        &self,
        batch: &[BatchHost],
        keep: impl Fn(&Lifecycle, &BatchHost) -> bool,
    ) -> Vec<String> {
        batch
            .iter()
            .filter(|h| self.records.is_out(&h.name) && self.targets.contains_key(&h.name))
            .filter(|h| keep(self, h))
            .map(|h| h.name.clone())
            .collect()
    }

    /// Notes that `host` is out of rotation (and why), where an immediate
    /// stop can still find it.
    fn mark_out(&mut self, host: &str, why: String) {
        self.records
            .mark_out(host, why, &self.groups, &self.targets);
    }

    fn mark_in(&mut self, host: &str) {
        self.records.mark_in(host, &self.groups, &self.targets);
    }

    /// Announces a step as the console shows a task.
    fn start_step(&self, step: &str) {
        let names: Vec<String> = self.groups.iter().map(|g| g.name()).collect();
        self.sink.emit(Event::TaskStart {
            name: format!("load_balancer: {step} ({})", names.join(", ")),
            location: Some(self.settings.location.clone()),
            handler: false,
        });
    }

    fn progress(&self, host: &str, phase: Phase, detail: &str, bound: Option<Duration>) {
        self.sink.emit(Event::Lifecycle {
            host: host.to_string(),
            phase,
            detail: detail.to_string(),
            remaining: bound.map(|b| b.as_secs()),
        });
    }

    /// One wait for `hosts` of a group, showing progress every few seconds.
    async fn wait_group(
        &self,
        group: &dyn TrafficManager,
        hosts: &[String],
        bound: Duration,
        phase: Phase,
        judge: impl FnMut(Option<&Health>, Duration) -> wait::Verdict,
    ) -> HashMap<Target, Result<Duration, String>> {
        if hosts.is_empty() {
            return HashMap::new();
        }
        let by_target: HashMap<Target, String> = hosts
            .iter()
            .map(|h| (self.targets[h].clone(), h.clone()))
            .collect();
        let targets: Vec<Target> = by_target.keys().cloned().collect();
        let mut last_shown: Option<Duration> = None;
        let sink = self.sink.clone();
        wait::wait_all(group, &targets, bound, &self.poll, judge, |round| {
            if last_shown.is_some_and(|t| round.elapsed < t + PROGRESS_EVERY) {
                return;
            }
            last_shown = Some(round.elapsed);
            for (target, why) in round.waiting {
                if let Some(host) = by_target.get(target) {
                    sink.emit(Event::Lifecycle {
                        host: host.clone(),
                        phase,
                        detail: why.clone(),
                        remaining: Some(round.bound.saturating_sub(round.elapsed).as_secs()),
                    });
                }
            }
        })
        .await
    }
}
