//! The engine's side of a rolling play: it renders the `load_balancer:`
//! section per host, has the managers made and locked, and calls the
//! [`Lifecycle`] between a batch's sections, counting the results it
//! returns like task results. The lifecycle itself lives in
//! [`crate::lifecycle`].

use super::{Engine, PlayCtx};
use crate::connection::Connection;
use crate::error::Error;
use crate::events::{Event, HostResult};
use crate::http::{self, HttpRequest};
use crate::lifecycle::{BatchHost, HostProbe, Lifecycle, Settings, StepReport, StepResult};
use crate::modules::TaskResult;
use crate::playbook::{LoadBalancerSection, Task};
use crate::state::lock::GroupLock;
use crate::traffic::TrafficError;
use crate::traffic::config::Manager;
use crate::traffic::factory::{LiveManagers, ManagerFactory};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// A rolling play: its lifecycle, and the locks held while it runs (one
/// rollout per group at a time).
pub(super) struct RollingPlay {
    pub(super) lifecycle: Lifecycle,
    _locks: Vec<GroupLock>,
}

/// How the lifecycle reaches the hosts of a batch: through their
/// connections, with their `instance_id` and `imds_endpoint` variables.
struct BatchProbe {
    hosts: HashMap<String, ProbeHost>,
}

struct ProbeHost {
    conn: Arc<dyn Connection>,
    instance_id: Option<String>,
    imds_endpoint: Option<String>,
}

impl BatchProbe {
    fn host(&self, host: &str) -> Result<&ProbeHost, String> {
        self.hosts
            .get(host)
            .ok_or_else(|| format!("{host} is not in the batch"))
    }
}

#[async_trait]
impl HostProbe for BatchProbe {
    async fn instance_id(&self, host: &str) -> Result<(String, String), String> {
        let host = self.host(host)?;
        if let Some(id) = &host.instance_id {
            return Ok((id.clone(), "the host's instance_id variable".into()));
        }
        let endpoint = (host.imds_endpoint.as_deref()).unwrap_or(crate::imds::DEFAULT_ENDPOINT);
        let id = crate::imds::instance_id(&*host.conn, endpoint)
            .await
            .map_err(|e| e.to_string())?;
        Ok((id, format!("IMDSv2 at {endpoint}")))
    }

    async fn check_url(&self, host: &str, url: &str) -> Result<(), String> {
        let host = self.host(host)?;
        let mut request = HttpRequest::get(url);
        request.timeout = Duration::from_secs(5);
        match http::send_or_curl(&*host.conn, &request).await {
            Ok(r) if (200..300).contains(&r.status) => Ok(()),
            Ok(r) => Err(format!("{url} answered HTTP {}", r.status)),
            Err(e) => Err(e.to_string()),
        }
    }
}

impl Engine {
    /// The play's rolling state, or `None` for a plain play. Errors (a bad
    /// section, an undefined variable, a group that does not exist or is
    /// locked) stop the play before anything ran.
    pub(super) async fn rolling_for(
        &self,
        ctx: &PlayCtx<'_>,
        hosts: &[String],
    ) -> Result<Option<RollingPlay>, Error> {
        let Some(section) = &ctx.play.load_balancer else {
            return Ok(None);
        };
        let Some(first) = hosts.first() else {
            return Ok(None);
        };
        let env = self.task_env(ctx);
        let mut rendered = HashMap::new();
        for host in hosts {
            let scope = self.scope_in(&env, host, None).into_value();
            let value = self
                .templar
                .render_value(section.raw(), &scope)
                .map_err(|e| section.error(format!("{e} (rendering it for {host})")))?;
            let config = section.resolve(&value)?;
            rendered.insert(host.clone(), config);
        }
        let config = &rendered[first];
        let via = match &config.manager {
            Manager::Haproxy {
                via: Some(host), ..
            } => Some(self.connection_for(host)),
            _ => None,
        };
        let factory = LiveManagers {
            local: self.local.clone(),
            via,
        };
        let groups = factory
            .managers(&config.manager)
            .await
            .map_err(|e| manager_error(section, e, self.opts.verbosity))?;
        let mut locks = Vec::new();
        for group in &groups {
            let lock =
                GroupLock::acquire(&crate::state::state_dir(), &group.name(), &group.lock_key())
                    .map_err(|e| Error::Locked(section.error(e)))?;
            locks.push(lock);
        }
        let settings = Settings {
            check: self.opts.check,
            resumed: match &self.opts.resume {
                Some(resume) => hosts
                    .iter()
                    .filter_map(|h| resume.target(h).map(|t| (h.clone(), t.clone())))
                    .collect(),
                None => HashMap::new(),
            },
            resumed_out: match &self.opts.resume {
                Some(resume) => (hosts.iter())
                    .filter(|h| resume.last_seen(h).is_some_and(|l| !l.in_rotation))
                    .cloned()
                    .collect(),
                None => Default::default(),
            },
            location: ctx.play.location.to_string(),
        };
        let stop = self.opts.stop.clone();
        let publish = Arc::new(move |hosts| stop.set_out_of_rotation(hosts));
        let lifecycle = Lifecycle::new(
            rendered,
            first,
            groups,
            self.sink.clone(),
            settings,
            publish,
        );
        Ok(lifecycle.map(|lifecycle| RollingPlay {
            lifecycle,
            _locks: locks,
        }))
    }

    /// Takes the batch's `hosts` out of rotation; returns those that
    /// drained. Hosts that cannot leave safely fail, still in rotation.
    pub(super) async fn take_out(
        &mut self,
        ctx: &PlayCtx<'_>,
        rolling: &mut RollingPlay,
        hosts: Vec<String>,
    ) -> Vec<String> {
        let probe = self.batch_probe(ctx, &hosts);
        let report = rolling.lifecycle.take_out(hosts, &probe).await;
        self.count_step(ctx, "take out of rotation", report)
    }

    /// Puts back the batch's hosts the lifecycle lets go back.
    pub(super) async fn put_back(&mut self, ctx: &PlayCtx<'_>, rolling: &mut RollingPlay) {
        let probe = self.batch_probe(ctx, &ctx.batch);
        let batch = self.batch_hosts(&ctx.batch);
        let report = rolling.lifecycle.put_back(&batch, &probe).await;
        self.count_step(ctx, "back in rotation", report);
    }

    /// `on_failure: rollback`: the batch's hosts that failed out of
    /// rotation run the play's `rollback` tasks (and their handlers); those
    /// whose rollback succeeds go back if they turn healthy. All of them
    /// stay failed, so the rollout still stops after the batch.
    pub(super) async fn roll_back(&mut self, ctx: &PlayCtx<'_>, rolling: &mut RollingPlay) {
        if !rolling.lifecycle.rolls_back() {
            return;
        }
        let hosts = rolling
            .lifecycle
            .rollback_candidates(&self.batch_hosts(&ctx.batch));
        if hosts.is_empty() {
            return;
        }
        self.sink.emit(Event::Warning {
            message: format!(
                "on_failure: rollback: running the play's rollback tasks on {}",
                hosts.join(", ")
            ),
        });
        // The rollback runs even when max_fail_percentage ended the play.
        let end_play = std::mem::take(&mut self.end_play);
        for host in &hosts {
            self.set_failed(host, false);
        }
        let survivors = self.run_list(ctx, &ctx.play.rollback, hosts.clone()).await;
        self.flush_handlers(ctx, &survivors, false).await;
        // Only the hosts whose rollback did not fail are put back.
        self.put_back(ctx, rolling).await;
        for host in &hosts {
            self.set_failed(host, true);
            if !rolling.lifecycle.is_out(host) {
                self.sink.emit(Event::Warning {
                    message: format!(
                        "{host} was rolled back and is healthy in rotation again; it still \
                         counts as failed"
                    ),
                });
            }
        }
        self.end_play |= end_play;
    }

    /// The batch's hosts as the lifecycle's decisions need them.
    fn batch_hosts(&self, batch: &[String]) -> Vec<BatchHost> {
        batch
            .iter()
            .map(|h| {
                let flags = self.flags_of(h).copied().unwrap_or_default();
                BatchHost {
                    name: h.clone(),
                    failed: flags.failed,
                    unreachable: flags.unreachable,
                    ended: flags.ended,
                }
            })
            .collect()
    }

    fn batch_probe(&self, ctx: &PlayCtx<'_>, hosts: &[String]) -> BatchProbe {
        let env = self.task_env(ctx);
        let hosts = hosts
            .iter()
            .map(|host| {
                let scope = self.scope_in(&env, host, None).into_value();
                let var = |name: &str| {
                    scope
                        .get_attr(name)
                        .ok()
                        .filter(|v| !v.is_undefined() && !v.is_none())
                        .map(|v| v.to_string())
                };
                let probe = ProbeHost {
                    conn: self.connection_for(host),
                    instance_id: var("instance_id"),
                    imds_endpoint: var("imds_endpoint"),
                };
                (host.clone(), probe)
            })
            .collect();
        BatchProbe { hosts }
    }

    /// Shows and counts a lifecycle step's results like a task's; returns
    /// the hosts that got through it.
    fn count_step(&mut self, ctx: &PlayCtx<'_>, step: &str, report: StepReport) -> Vec<String> {
        let task = Task::synthetic(&format!("load_balancer: {step}"), ctx.play.location.clone());
        for (host, result) in report.results {
            let result = match result {
                StepResult::Ok(msg) => TaskResult::ok().with_msg(msg),
                StepResult::Changed(msg) => TaskResult::changed().with_msg(msg),
                StepResult::Failed(msg) => TaskResult::failed(msg),
            };
            self.sink.emit(Event::HostResult(HostResult {
                host: host.clone(),
                status: result.status(),
                item: None,
                result: result.to_json(),
                ignored: false,
                delegated_to: None,
                // The operator sees drain times and the capacity math.
                show_result: true,
                show_diff: false,
            }));
            self.record(ctx, &host, &task, &result, None);
        }
        report.passed
    }
}

/// A group the section names does not exist (the input is wrong), or its
/// API cannot be used (the load balancer or the credentials are). The
/// SDK's own words are shown at `-vvv`.
fn manager_error(section: &LoadBalancerSection, error: TrafficError, verbosity: u8) -> Error {
    let diagnostic = section.error(&error);
    let diagnostic = match error.raw() {
        Some(raw) if verbosity >= 3 => diagnostic.with_help(format!("the AWS SDK said: {raw}")),
        _ => diagnostic,
    };
    match error {
        TrafficError::NotFound(_) | TrafficError::InvalidTarget(_) => Error::Load(diagnostic),
        TrafficError::Throttled(_)
        | TrafficError::Api(_)
        | TrafficError::Unreachable(_)
        | TrafficError::Setup(_) => Error::LoadBalancer(diagnostic),
    }
}
