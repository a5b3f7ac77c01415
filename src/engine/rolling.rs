//! The rolling lifecycle around each batch of a play with `load_balancer:`
//! (DESIGN.md section 1): after `pre_tasks`, [`Engine::take_out`] resolves
//! each host's target, checks the remaining capacity, deregisters and waits
//! for the drain; after `tasks` and their handlers, [`Engine::put_back`]
//! confirms the app answers, registers and waits until healthy. A host that
//! fails after leaving rotation stays out (unless `on_failure: restore`),
//! and the play's end names every such host and how to put it back.

use super::{Engine, PlayCtx};
use crate::diag::Diagnostic;
use crate::events::{Event, OutOfRotationHost, Phase};
use crate::http::{self, HttpRequest};
use crate::modules::TaskResult;
use crate::playbook::{Play, Task};
use crate::traffic::config::{DRAIN_MARGIN, LbConfig, Manager, OnFailure};
use crate::traffic::elbv2::{DESCRIBE_BURST, DESCRIBE_GAP, Elbv2, Pace};
use crate::traffic::haproxy::{Address, Haproxy};
use crate::traffic::wait::{self, PollSettings};
use crate::traffic::{Target, TrafficManager};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
enum Change<'a> {
    /// Targets in `already_out` are left as they are.
    Deregister {
        already_out: &'a HashMap<Target, String>,
    },
    Register,
}

/// Used for the drain bound when the manager knows no deregistration delay.
const DEFAULT_DRAIN: Duration = Duration::from_secs(300);
/// Lifecycle progress is shown at most this often per host while waiting.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// A rolling play's load balancer state, for the whole play.
pub(super) struct Rolling {
    config: LbConfig,
    groups: Arc<Vec<Group>>,
    /// Per host, the load balancer section rendered with its variables.
    rendered: HashMap<String, LbConfig>,
    /// Resolved targets, per host.
    targets: HashMap<String, Target>,
    /// Hosts this run took out of rotation and has not put back, and why.
    out: BTreeMap<String, String>,
    /// Hosts out of rotation that nothing changed (their drain did not
    /// finish): they go back even though they failed.
    unchanged: HashSet<String>,
    poll: PollSettings,
}

struct Group {
    manager: Arc<dyn TrafficManager>,
    /// Held while the play runs: one rollout per group at a time.
    _lock: super::lock::GroupLock,
    /// How an operator puts a target back by hand, `{target}` filled in.
    restore: String,
}

impl Rolling {
    /// The longest one host's lifecycle may wait on the load balancer:
    /// the drain bound plus the health bound.
    pub(super) fn bounds(&self) -> Duration {
        self.config
            .drain_timeout
            .unwrap_or(DEFAULT_DRAIN + DRAIN_MARGIN)
            + self.config.healthy_timeout
    }
}

impl Engine {
    /// The play's rolling state, or `None` for a plain play. Errors (a bad
    /// section, an undefined variable) stop the play before anything ran.
    pub(super) async fn rolling_for(
        &self,
        ctx: &PlayCtx<'_>,
        hosts: &[String],
    ) -> Result<Option<Rolling>, Diagnostic> {
        let Some(section) = &ctx.play.load_balancer else {
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
        let Some(config) = hosts.first().and_then(|h| rendered.get(h)).cloned() else {
            return Ok(None);
        };
        let groups = match &config.manager {
            Manager::Haproxy {
                socket,
                via,
                backend,
                ..
            } => {
                let address = Address::parse(socket).map_err(|e| lb_error(ctx.play, e))?;
                let conn = match via {
                    Some(host) => self.connection_for(host),
                    None => self.local.clone(),
                };
                let command = |cmd: &str| match (&address, via) {
                    (Address::Unix(path), Some(host)) => {
                        format!("ssh {host} \"echo '{cmd}' | sudo socat stdio {path}\"")
                    }
                    (Address::Unix(path), None) => format!("echo '{cmd}' | socat stdio {path}"),
                    (Address::Tcp(h, p), _) => format!("echo '{cmd}' | socat stdio tcp:{h}:{p}"),
                };
                let name = format!("haproxy backend {backend}");
                let key = format!(
                    "haproxy-{}-{socket}-{backend}",
                    via.as_deref().unwrap_or("")
                );
                vec![Group {
                    _lock: lock(ctx.play, &name, &key)?,
                    manager: Arc::new(Haproxy::new(conn, address.clone(), backend)),
                    restore: command(&format!("set server {backend}/{{id}} state ready")),
                }]
            }
            Manager::Elbv2 { target_groups, .. } => {
                // One pace for every group of the play: Describe* stays
                // under ELBv2's rate whatever the number of groups.
                let pace = Arc::new(Pace::new(DESCRIBE_GAP, DESCRIBE_BURST));
                let mut groups = Vec::new();
                for name in target_groups {
                    let group = Elbv2::connect(name, pace.clone())
                        .await
                        .map_err(|e| lb_error(ctx.play, e.to_string()))?;
                    let restore = format!(
                        "aws elbv2 register-targets --target-group-arn {} --targets Id={{id}}{{port}}",
                        group.arn()
                    );
                    groups.push(Group {
                        _lock: lock(ctx.play, &group.name(), group.arn())?,
                        manager: Arc::new(group),
                        restore,
                    });
                }
                groups
            }
        };
        let poll = PollSettings {
            interval: config.poll_interval,
            ..PollSettings::default()
        };
        Ok(Some(Rolling {
            config,
            groups: Arc::new(groups),
            rendered,
            targets: HashMap::new(),
            out: BTreeMap::new(),
            unchanged: HashSet::new(),
            poll,
        }))
    }

    /// Takes the batch's hosts out of rotation; returns those that drained.
    /// Hosts that cannot leave safely fail while still in rotation.
    pub(super) async fn take_out(
        &mut self,
        ctx: &PlayCtx<'_>,
        rolling: &mut Rolling,
        hosts: Vec<String>,
    ) -> Vec<String> {
        if hosts.is_empty() {
            return hosts;
        }
        let task = self.lifecycle_task(ctx, rolling, "take out of rotation");
        let hosts = self.resolve_targets(ctx, rolling, &task, hosts).await;
        let leaving: Vec<Target> = hosts.iter().map(|h| rolling.targets[h].clone()).collect();
        for host in &hosts {
            self.progress(
                host,
                Phase::CapacityCheck,
                "checking the other targets' health",
                None,
            );
        }
        let mut capacity = Vec::new();
        // Per group, leaving targets that already take no traffic (a
        // resumed run): they are not deregistered again.
        let mut already_out = Vec::new();
        let groups = rolling.groups.clone();
        for group in groups.iter() {
            let bound = rolling.config.healthy_timeout;
            match wait::capacity_guard(
                &*group.manager,
                &leaving,
                rolling.config.min_healthy,
                bound,
                &rolling.poll,
            )
            .await
            {
                Ok(c) => {
                    capacity.push(format!("{}: {}", group.manager.name(), c.describe()));
                    already_out.push(c.already_out.into_iter().collect::<HashMap<_, _>>());
                }
                Err(why) => {
                    for host in &hosts {
                        self.lifecycle_result(ctx, host, &task, &TaskResult::failed(why.clone()));
                    }
                    return Vec::new();
                }
            }
        }
        let capacity = capacity.join("; ");
        if self.opts.check {
            for host in &hosts {
                let msg = format!("would deregister {} ({capacity})", rolling.targets[host]);
                self.lifecycle_result(ctx, host, &task, &TaskResult::ok().with_msg(msg));
            }
            return hosts;
        }
        let mut drained = hosts.clone();
        let groups = rolling.groups.clone();
        for (group, already_out) in groups.iter().zip(&already_out) {
            let change = Change::Deregister { already_out };
            let waiting = self
                .change_each(ctx, rolling, group, &task, &drained, change)
                .await;
            let bound = match rolling.config.drain_timeout {
                Some(bound) => bound,
                None => match group.manager.drain_delay().await {
                    Ok(Some(delay)) => delay + DRAIN_MARGIN,
                    _ => DEFAULT_DRAIN + DRAIN_MARGIN,
                },
            };
            let outcome = self
                .wait_group(
                    rolling,
                    group,
                    &waiting,
                    bound,
                    Phase::Draining,
                    wait::drain_verdict,
                )
                .await;
            drained = Vec::new();
            for host in waiting {
                let target = rolling.targets[&host].clone();
                let finished = match outcome.get(&target) {
                    Some(Ok(_)) => group
                        .manager
                        .drained(&target)
                        .await
                        .map_err(|e| e.to_string()),
                    Some(Err(why)) => Err(why.clone()),
                    None => Err("no answer from the load balancer".into()),
                };
                match finished {
                    Ok(()) => {
                        self.mark_out(rolling, &host, "taken out for the deploy".into());
                        drained.push(host);
                    }
                    Err(why) => {
                        // Nothing ran on it: it goes back as it was (a
                        // registration cancels the drain), and it fails.
                        let why = format!(
                            "{target} did not drain from {}: {why}; nothing was changed on it, \
                             it goes back into rotation",
                            group.manager.name()
                        );
                        self.mark_out(rolling, &host, why.clone());
                        rolling.unchanged.insert(host.clone());
                        self.lifecycle_result(ctx, &host, &task, &TaskResult::failed(why));
                    }
                }
            }
        }
        for host in &drained {
            let msg = format!("{} drained ({capacity})", rolling.targets[host]);
            self.progress(host, Phase::OutOfRotation, "deploying", None);
            self.lifecycle_result(ctx, host, &task, &TaskResult::changed().with_msg(msg));
        }
        drained
    }

    /// Puts back the batch's hosts that this run took out and that did not
    /// fail (failed ones too with `on_failure: restore`).
    pub(super) async fn put_back(&mut self, ctx: &PlayCtx<'_>, rolling: &mut Rolling) {
        let restore = rolling.config.on_failure == OnFailure::Restore;
        let hosts = self.taken_out(ctx, rolling, |host, f| {
            !f.unreachable && (restore || rolling.unchanged.contains(host) || !f.failed)
        });
        if self.opts.check {
            let task = self.lifecycle_task(ctx, rolling, "back in rotation");
            for host in self.active(&ctx.batch) {
                if let Some(target) = rolling.targets.get(&host) {
                    let msg = format!("would register {target} and wait until healthy");
                    self.lifecycle_result(ctx, &host, &task, &TaskResult::ok().with_msg(msg));
                }
            }
            return;
        }
        if hosts.is_empty() {
            return;
        }
        let task = self.lifecycle_task(ctx, rolling, "back in rotation");
        let hosts = self.check_apps(ctx, rolling, &task, hosts).await;
        let mut healthy = hosts.clone();
        let groups = rolling.groups.clone();
        for group in groups.iter() {
            let waiting = self
                .change_each(ctx, rolling, group, &task, &healthy, Change::Register)
                .await;
            let verdict = wait::healthy_verdict(rolling.config.unhealthy_grace);
            let outcome = self
                .wait_group(
                    rolling,
                    group,
                    &waiting,
                    rolling.config.healthy_timeout,
                    Phase::HealthChecking,
                    verdict,
                )
                .await;
            healthy = Vec::new();
            for host in waiting {
                let target = rolling.targets[&host].clone();
                match outcome.get(&target) {
                    Some(Ok(_)) => healthy.push(host),
                    other => {
                        let why = match other {
                            Some(Err(why)) => why.clone(),
                            _ => "no answer from the load balancer".into(),
                        };
                        // A host that never turned healthy takes no traffic.
                        let _ = group.manager.deregister(&target).await;
                        let _ = group.manager.drained(&target).await;
                        let why = format!(
                            "{target} did not turn healthy in {}: {why}",
                            group.manager.name()
                        );
                        self.mark_out(rolling, &host, why.clone());
                        self.lifecycle_result(ctx, &host, &task, &TaskResult::failed(why));
                    }
                }
            }
        }
        for host in healthy {
            let target = rolling.targets[&host].clone();
            rolling.out.remove(&host);
            self.publish_out(rolling);
            self.progress(&host, Phase::InRotation, &format!("{target} healthy"), None);
            let result = TaskResult::changed().with_msg(format!("{target} registered and healthy"));
            if self.flags.get(&host).is_some_and(|f| f.failed) {
                // A failed host put back (unchanged, or on_failure:
                // restore) stays failed.
                let how = if rolling.unchanged.contains(&host) {
                    "its drain did not finish, so it was put back unchanged"
                } else {
                    "it was restored to rotation (on_failure: restore)"
                };
                self.sink.emit(Event::Warning {
                    message: format!("{host} failed: {how}"),
                });
                continue;
            }
            self.lifecycle_result(ctx, &host, &task, &result);
        }
    }

    /// The batch's hosts this run took out of rotation (with a known
    /// target) whose flags pass `keep`.
    fn taken_out(
        &self,
        ctx: &PlayCtx<'_>,
        rolling: &Rolling,
        keep: impl Fn(&str, &super::HostFlags) -> bool,
    ) -> Vec<String> {
        ctx.batch
            .iter()
            .filter(|h| rolling.out.contains_key(*h) && rolling.targets.contains_key(*h))
            .filter(|h| self.flags.get(*h).is_some_and(|f| keep(h, f)))
            .cloned()
            .collect()
    }

    /// `on_failure: rollback`: the batch's hosts that failed out of
    /// rotation run the play's `rollback` tasks (and their handlers); those
    /// whose rollback succeeds go back if they turn healthy. All of them
    /// stay failed, so the rollout still stops after the batch.
    pub(super) async fn roll_back(&mut self, ctx: &PlayCtx<'_>, rolling: &mut Rolling) {
        if rolling.config.on_failure != OnFailure::Rollback || self.opts.check {
            return;
        }
        let hosts = self.taken_out(ctx, rolling, |_, f| f.failed && !f.unreachable);
        if hosts.is_empty() {
            return;
        }
        self.sink.emit(Event::Warning {
            message: format!(
                "on_failure: rollback: running the play's rollback tasks on {}",
                hosts.join(", ")
            ),
        });
        // The rollback runs even when any_errors_fatal ended the play.
        let end_play = std::mem::take(&mut self.end_play);
        for host in &hosts {
            self.set_failed(host, false);
        }
        let survivors = self.run_list(ctx, &ctx.play.rollback, hosts.clone()).await;
        self.flush_handlers(ctx, &survivors).await;
        // Only the hosts whose rollback did not fail are put back.
        self.put_back(ctx, rolling).await;
        for host in &hosts {
            self.set_failed(host, true);
            if !rolling.out.contains_key(host) {
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

    /// Deregisters or registers each host's target in `group`; returns the
    /// hosts it worked for, the others fail. Every host is out of rotation
    /// afterwards except one whose deregistration was refused.
    async fn change_each(
        &mut self,
        ctx: &PlayCtx<'_>,
        rolling: &mut Rolling,
        group: &Group,
        task: &Task,
        hosts: &[String],
        change: Change<'_>,
    ) -> Vec<String> {
        let (phase, verb, preposition) = match change {
            Change::Deregister { .. } => (Phase::Deregistering, "deregistering", "from"),
            Change::Register => (Phase::Registering, "registering", "in"),
        };
        let name = group.manager.name();
        let mut done = Vec::new();
        for host in hosts {
            let target = rolling.targets[host].clone();
            let result = match change {
                Change::Deregister { already_out } => match already_out.get(&target) {
                    Some(state) => {
                        let detail = format!(
                            "{target} already out of rotation in {name} ({state}): \
                             not deregistered again"
                        );
                        self.progress(host, phase, &detail, None);
                        Ok(())
                    }
                    None => {
                        let detail = format!("{target} {preposition} {name}");
                        self.progress(host, phase, &detail, None);
                        group.manager.deregister(&target).await
                    }
                },
                Change::Register => {
                    self.progress(host, phase, &format!("{target} {preposition} {name}"), None);
                    group.manager.register(&target).await
                }
            };
            let deregistering = matches!(change, Change::Deregister { .. });
            match result {
                Ok(()) => {
                    if deregistering {
                        self.mark_out(rolling, host, "deregistered, not yet drained".into());
                    }
                    done.push(host.clone());
                }
                Err(e) => {
                    let why = format!("{verb} {target} {preposition} {name}: {e}");
                    if !deregistering {
                        self.mark_out(rolling, host, why.clone());
                    }
                    self.lifecycle_result(ctx, host, task, &TaskResult::failed(why));
                }
            }
        }
        done
    }

    /// Tells the operator which hosts the play leaves out of rotation.
    pub(super) fn report_out_of_rotation(&self, rolling: &Rolling) {
        if rolling.out.is_empty() {
            return;
        }
        self.sink.emit(Event::OutOfRotation {
            hosts: out_of_rotation(rolling),
        });
    }

    /// Notes that `host` is out of rotation (and why), where an immediate
    /// stop can still find it.
    fn mark_out(&self, rolling: &mut Rolling, host: &str, why: String) {
        rolling.out.insert(host.to_string(), why);
        self.publish_out(rolling);
    }

    fn publish_out(&self, rolling: &Rolling) {
        self.opts.stop.set_out_of_rotation(out_of_rotation(rolling));
    }

    fn lifecycle_task(&self, ctx: &PlayCtx<'_>, rolling: &Rolling, step: &str) -> Task {
        let names: Vec<String> = rolling.groups.iter().map(|g| g.manager.name()).collect();
        let task = Task::synthetic(
            &format!("load_balancer: {step} ({})", names.join(", ")),
            ctx.play.location.clone(),
        );
        self.sink.emit(Event::TaskStart {
            name: task.display_name(),
            location: Some(task.location.to_string()),
            handler: false,
        });
        task
    }

    /// Each host's target, from its rendered section: the HAProxy server,
    /// or the EC2 instance (the `instance_id` host var, else IMDSv2 read
    /// through the host's connection) with its registered port. Hosts whose
    /// target cannot be known fail, still in rotation.
    async fn resolve_targets(
        &mut self,
        ctx: &PlayCtx<'_>,
        rolling: &mut Rolling,
        task: &Task,
        hosts: Vec<String>,
    ) -> Vec<String> {
        let env = self.task_env(ctx);
        let mut lookups = Vec::new();
        for host in &hosts {
            self.progress(host, Phase::Resolving, "finding the host's target", None);
            let scope = self.scope_in(&env, host, None).into_value();
            let var = |name: &str| {
                scope
                    .get_attr(name)
                    .ok()
                    .filter(|v| !v.is_undefined() && !v.is_none())
                    .map(|v| v.to_string())
            };
            let manager = rolling.rendered.get(host).map(|c| c.manager.clone());
            let conn = self.connection_for(host);
            let (instance_id, endpoint) = (var("instance_id"), var("imds_endpoint"));
            lookups.push(async move {
                match manager {
                    Some(Manager::Haproxy { server, .. }) => Ok((server, None)),
                    Some(Manager::Elbv2 { port, .. }) => {
                        let id = match instance_id {
                            Some(id) => id,
                            None => {
                                let endpoint =
                                    endpoint.as_deref().unwrap_or(crate::imds::DEFAULT_ENDPOINT);
                                crate::imds::instance_id(&*conn, endpoint)
                                    .await
                                    .map_err(|e| format!("finding the instance ID: {e}"))?
                            }
                        };
                        Ok((id, port))
                    }
                    None => Err("no load balancer target".to_string()),
                }
            });
        }
        let found = futures::future::join_all(lookups).await;
        // Targets registered with a port are deregistered with that port.
        let registered = match rolling.groups.first() {
            Some(group) => {
                let bound = rolling.config.healthy_timeout;
                match wait::describe_retrying(&*group.manager, bound, &rolling.poll).await {
                    Ok(health) => health,
                    Err(e) => {
                        let why = format!(
                            "{}: {e}; nothing was taken out of rotation",
                            group.manager.name()
                        );
                        for host in &hosts {
                            self.lifecycle_result(
                                ctx,
                                host,
                                task,
                                &TaskResult::failed(why.clone()),
                            );
                        }
                        return Vec::new();
                    }
                }
            }
            None => HashMap::new(),
        };
        let mut resolved = Vec::new();
        for (host, lookup) in hosts.into_iter().zip(found) {
            match lookup {
                Ok((id, port)) => {
                    // The port: the play's, else the one it is registered
                    // with, else (out of rotation when a killed run is
                    // resumed) the one the journal noted.
                    let resumed = self.opts.resume.as_ref().and_then(|r| r.target(&host));
                    let port = port
                        .or_else(|| registered.keys().find(|t| t.id == id).and_then(|t| t.port))
                        .or_else(|| resumed.filter(|t| t.id == id).and_then(|t| t.port));
                    self.sink.emit(Event::TargetResolved {
                        host: host.clone(),
                        id: id.clone(),
                        port,
                    });
                    rolling.targets.insert(host.clone(), Target { id, port });
                    resolved.push(host);
                }
                Err(why) => {
                    let why = format!("{host}: {why}; nothing was taken out of rotation");
                    self.lifecycle_result(ctx, &host, task, &TaskResult::failed(why));
                }
            }
        }
        resolved
    }

    /// Confirms each host's app answers its `health_url` (from the host)
    /// before it is registered: HAProxy sends traffic on `ready` at once.
    async fn check_apps(
        &mut self,
        ctx: &PlayCtx<'_>,
        rolling: &mut Rolling,
        task: &Task,
        hosts: Vec<String>,
    ) -> Vec<String> {
        let bound = rolling.config.healthy_timeout;
        let interval = rolling.config.poll_interval;
        let mut checks = Vec::new();
        for host in &hosts {
            let Some(url) = rolling
                .rendered
                .get(host)
                .and_then(|c| c.health_url.clone())
            else {
                checks.push(None);
                continue;
            };
            self.progress(host, Phase::AppHealthCheck, &url, Some(bound));
            let conn = self.connection_for(host);
            checks.push(Some(async move {
                wait::until_ok(bound, interval, || {
                    let (conn, url) = (conn.clone(), url.clone());
                    async move {
                        let mut request = HttpRequest::get(&url);
                        request.timeout = Duration::from_secs(5);
                        match http::send_or_curl(&*conn, &request).await {
                            Ok(r) if (200..300).contains(&r.status) => Ok(()),
                            Ok(r) => Err(format!("{url} answered HTTP {}", r.status)),
                            Err(e) => Err(e.to_string()),
                        }
                    }
                })
                .await
            }));
        }
        let results = futures::future::join_all(checks.into_iter().map(|c| async move {
            match c {
                Some(check) => check.await.map(|_| ()),
                None => Ok(()),
            }
        }))
        .await;
        let mut ok = Vec::new();
        for (host, result) in hosts.into_iter().zip(results) {
            match result {
                Ok(()) => ok.push(host),
                Err(why) => {
                    let why = format!("the app's health check failed before registering: {why}");
                    self.mark_out(rolling, &host, why.clone());
                    self.lifecycle_result(ctx, &host, task, &TaskResult::failed(why));
                }
            }
        }
        ok
    }

    /// One wait for `hosts` of a group, showing progress every few seconds.
    async fn wait_group(
        &self,
        rolling: &Rolling,
        group: &Group,
        hosts: &[String],
        bound: Duration,
        phase: Phase,
        judge: impl FnMut(Option<&crate::traffic::Health>, Duration) -> wait::Verdict,
    ) -> HashMap<Target, Result<Duration, String>> {
        if hosts.is_empty() {
            return HashMap::new();
        }
        let by_target: HashMap<Target, String> = hosts
            .iter()
            .map(|h| (rolling.targets[h].clone(), h.clone()))
            .collect();
        let targets: Vec<Target> = by_target.keys().cloned().collect();
        let mut last_shown: Option<Duration> = None;
        let sink = self.sink.clone();
        wait::wait_all(
            &*group.manager,
            &targets,
            bound,
            &rolling.poll,
            judge,
            |round| {
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
            },
        )
        .await
    }

    /// Shows and counts a lifecycle step's result like a task's.
    fn lifecycle_result(
        &mut self,
        ctx: &PlayCtx<'_>,
        host: &str,
        task: &Task,
        result: &TaskResult,
    ) {
        self.sink.emit(Event::HostResult {
            host: host.to_string(),
            status: result.status(),
            item: None,
            result: result.to_json(),
            ignored: false,
            delegated_to: None,
            // The operator sees drain times and the capacity math.
            show_result: true,
        });
        self.record(ctx, host, task, result, None);
    }

    fn progress(&self, host: &str, phase: Phase, detail: &str, bound: Option<Duration>) {
        self.sink.emit(Event::Lifecycle {
            host: host.to_string(),
            phase,
            detail: detail.to_string(),
            remaining: bound.map(|b| b.as_secs()),
        });
    }
}

/// Every host the play has out of rotation, with how to put it back.
fn out_of_rotation(rolling: &Rolling) -> Vec<OutOfRotationHost> {
    let mut hosts = Vec::new();
    for (host, why) in &rolling.out {
        let target = rolling.targets.get(host);
        let groups = rolling.groups.clone();
        for group in groups.iter() {
            hosts.push(OutOfRotationHost {
                host: host.clone(),
                group: group.manager.name(),
                target: target.map(|t| t.to_string()).unwrap_or_default(),
                why: why.clone(),
                restore: restore_command(&group.restore, target),
            });
        }
    }
    hosts
}

/// The manager's restore command for one target (`{id}`, `{port}` filled in).
fn restore_command(template: &str, target: Option<&Target>) -> String {
    let (id, port) = match target {
        Some(t) => (
            t.id.as_str(),
            t.port.map(|p| format!(",Port={p}")).unwrap_or_default(),
        ),
        None => ("?", String::new()),
    };
    template.replace("{id}", id).replace("{port}", &port)
}

fn lock(play: &Play, group: &str, key: &str) -> Result<super::lock::GroupLock, Diagnostic> {
    super::lock::GroupLock::acquire(&super::lock::state_dir(), group, key)
        .map_err(|e| lb_error(play, e))
}

fn lb_error(play: &Play, message: String) -> Diagnostic {
    Diagnostic::new(format!("load_balancer: {message}")).with_location(play.location.clone())
}
