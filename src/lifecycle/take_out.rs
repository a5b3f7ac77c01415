//! Taking a batch out of rotation: resolve each host's target, check the
//! capacity that stays, deregister, wait for the drain. A host that cannot
//! leave safely fails while still in rotation; one whose drain does not
//! finish goes back unchanged (nothing ran on it) and fails.

use super::{HostProbe, Lifecycle, StepReport, StepResult};
use crate::events::Phase;
use crate::traffic::config::{DRAIN_MARGIN, Manager};
use crate::traffic::wait;
use crate::traffic::{Target, TrafficManager};
use std::collections::HashMap;

impl Lifecycle {
    /// Takes `hosts` out of rotation; the report's `passed` are those
    /// that drained (in `--check`, all whose target is known).
    pub async fn take_out(&mut self, hosts: Vec<String>, probe: &dyn HostProbe) -> StepReport {
        let mut report = StepReport::default();
        if hosts.is_empty() {
            return report;
        }
        self.start_step("take out of rotation");
        let hosts = self.resolve_targets(hosts, probe, &mut report).await;
        let leaving: Vec<Target> = hosts.iter().map(|h| self.targets[h].clone()).collect();
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
        for group in &self.groups {
            let bound = self.config.healthy_timeout;
            let min = self.config.min_healthy;
            match wait::capacity_guard(&**group, &leaving, min, bound, &self.poll).await {
                Ok(c) => {
                    capacity.push(format!("{}: {}", group.name(), c.describe()));
                    already_out.push(c.already_out.into_iter().collect::<HashMap<_, _>>());
                }
                Err(why) => {
                    for host in &hosts {
                        report.fail(host, why.clone());
                    }
                    return report;
                }
            }
        }
        let hosts = self.confirm_membership(hosts, &already_out, &mut report);
        let capacity = capacity.join("; ");
        if self.settings.check {
            for host in &hosts {
                let msg = format!("would deregister {} ({capacity})", self.targets[host]);
                report.result(host, StepResult::Ok(msg));
            }
            report.passed = hosts;
            return report;
        }
        let mut drained = hosts;
        for (group, already_out) in self.groups.clone().iter().zip(&already_out) {
            let waiting = self
                .change_each(&**group, &drained, Some(already_out), &mut report)
                .await;
            let bound = match self.config.drain_timeout {
                Some(bound) => bound,
                None => match group.drain_delay().await {
                    Ok(Some(delay)) => delay + DRAIN_MARGIN,
                    _ => super::DEFAULT_DRAIN + DRAIN_MARGIN,
                },
            };
            let outcome = self
                .wait_group(
                    &**group,
                    &waiting,
                    bound,
                    Phase::Draining,
                    wait::drain_verdict,
                )
                .await;
            drained = Vec::new();
            for host in waiting {
                let target = self.targets[&host].clone();
                let finished = match outcome.get(&target) {
                    Some(Ok(_)) => group.drained(&target).await.map_err(|e| e.to_string()),
                    Some(Err(why)) => Err(why.clone()),
                    None => Err("no answer from the load balancer".into()),
                };
                match finished {
                    Ok(()) => {
                        self.mark_out(&host, "taken out for the deploy".into());
                        drained.push(host);
                    }
                    Err(why) => {
                        // Nothing ran on it: it goes back as it was (a
                        // registration cancels the drain), and it fails.
                        let why = format!(
                            "{target} did not drain from {}: {why}; nothing was changed on it, \
                             it goes back into rotation",
                            group.name()
                        );
                        self.mark_out(&host, why.clone());
                        self.records
                            .mark_unchanged(&host, "its drain did not finish");
                        report.fail(&host, why);
                    }
                }
            }
        }
        for host in &drained {
            let msg = format!("{} drained ({capacity})", self.targets[host]);
            self.progress(host, Phase::OutOfRotation, "deploying", None);
            report.result(host, StepResult::Changed(msg));
        }
        report.passed = drained;
        report
    }

    /// Keeps the hosts whose target every group knows: one a group does not
    /// know (a replaced instance, a stale `instance_id`, a misspelt server)
    /// cannot be taken out, so it fails before anything runs on it, unless
    /// the run being resumed took it out.
    fn confirm_membership(
        &self,
        hosts: Vec<String>,
        already_out: &[HashMap<Target, String>],
        report: &mut StepReport,
    ) -> Vec<String> {
        let mut known = Vec::new();
        for host in hosts {
            let target = &self.targets[&host];
            let missing: Vec<String> = (self.groups.iter().zip(already_out))
                .filter(|(_, out)| out.get(target).is_some_and(|s| s == wait::NOT_REGISTERED))
                .map(|(group, _)| group.name())
                .collect();
            if missing.is_empty() || self.settings.resumed_out.contains(&host) {
                known.push(host);
                continue;
            }
            let source = self.sources.get(&host).map(String::as_str).unwrap_or("?");
            report.fail(
                &host,
                format!(
                    "{target} (from {source}) is not registered in {}: its membership cannot \
                     be confirmed, so it is not taken out and nothing runs on it; check the \
                     host's target (a replaced instance? a stale instance_id?)",
                    missing.join(", ")
                ),
            );
        }
        known
    }

    /// Each host's target, from its rendered section: the HAProxy server,
    /// or the EC2 instance with its registered port. Hosts whose target
    /// cannot be known fail, still in rotation.
    async fn resolve_targets(
        &mut self,
        hosts: Vec<String>,
        probe: &dyn HostProbe,
        report: &mut StepReport,
    ) -> Vec<String> {
        let mut lookups = Vec::new();
        for host in &hosts {
            self.progress(host, Phase::Resolving, "finding the host's target", None);
            let manager = self.rendered.get(host).map(|c| c.manager.clone());
            lookups.push(async move {
                match manager {
                    Some(Manager::Haproxy { server, .. }) => Ok((
                        server,
                        None,
                        "the load_balancer's haproxy.server".to_string(),
                    )),
                    Some(Manager::Elbv2 { port, .. }) => {
                        let (id, source) = probe
                            .instance_id(host)
                            .await
                            .map_err(|e| format!("finding the instance ID: {e}"))?;
                        Ok((id, port, source))
                    }
                    None => Err("no load balancer target".to_string()),
                }
            });
        }
        let found = futures::future::join_all(lookups).await;
        // Targets registered with a port are deregistered with that port.
        let registered = match self.groups.first() {
            Some(group) => {
                let bound = self.config.healthy_timeout;
                match wait::describe_retrying(&**group, bound, &self.poll).await {
                    Ok(health) => health,
                    Err(e) => {
                        let why =
                            format!("{}: {e}; nothing was taken out of rotation", group.name());
                        for host in &hosts {
                            report.fail(host, why.clone());
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
                Ok((id, port, source)) => {
                    // The port: the play's, else the one it is registered
                    // with, else (out of rotation when a killed run is
                    // resumed) the one the journal noted.
                    let resumed = self.settings.resumed.get(&host);
                    let port = port
                        .or_else(|| registered.keys().find(|t| t.id == id).and_then(|t| t.port))
                        .or_else(|| resumed.filter(|t| t.id == id).and_then(|t| t.port));
                    self.sink.emit(crate::events::Event::TargetResolved {
                        host: host.clone(),
                        id: id.clone(),
                        port,
                    });
                    self.targets.insert(host.clone(), Target { id, port });
                    self.sources.insert(host.clone(), source);
                    resolved.push(host);
                }
                Err(why) => {
                    let why = format!("{host}: {why}; nothing was taken out of rotation");
                    report.fail(&host, why);
                }
            }
        }
        resolved
    }

    /// Deregisters (`already_out` given: those targets are left as they
    /// are) or registers each host's target in `group`; returns the hosts
    /// it worked for, the others fail. Every host is out of rotation
    /// afterwards except one whose deregistration was refused.
    pub(super) async fn change_each(
        &mut self,
        group: &dyn TrafficManager,
        hosts: &[String],
        already_out: Option<&HashMap<Target, String>>,
        report: &mut StepReport,
    ) -> Vec<String> {
        let deregistering = already_out.is_some();
        let (phase, verb, preposition) = match already_out {
            Some(_) => (Phase::Deregistering, "deregistering", "from"),
            None => (Phase::Registering, "registering", "in"),
        };
        let name = group.name();
        let mut done = Vec::new();
        for host in hosts {
            let target = self.targets[host].clone();
            let result = match already_out.map(|out| out.get(&target)) {
                Some(Some(state)) => {
                    let detail = format!(
                        "{target} already out of rotation in {name} ({state}): \
                         not deregistered again"
                    );
                    self.progress(host, phase, &detail, None);
                    Ok(())
                }
                Some(None) => {
                    self.progress(host, phase, &format!("{target} {preposition} {name}"), None);
                    // Named before the call: a run stopped while it is in
                    // flight still reports the host.
                    let was_out = self.records.is_out(host);
                    self.mark_out(host, format!("deregistration from {name} in flight"));
                    let result = group.deregister(&target).await;
                    if result.is_err() && !was_out {
                        self.mark_in(host);
                    }
                    result
                }
                None => {
                    self.progress(host, phase, &format!("{target} {preposition} {name}"), None);
                    group.register(&target).await
                }
            };
            match result {
                Ok(()) => {
                    if deregistering {
                        self.mark_out(host, "deregistered, not yet drained".into());
                    }
                    done.push(host.clone());
                }
                Err(e) => {
                    let why = format!("{verb} {target} {preposition} {name}: {e}");
                    if !deregistering {
                        self.mark_out(host, why.clone());
                    } else if self.records.is_out(host) {
                        // Out of an earlier group, refused by this one:
                        // nothing ran on it, so it goes back everywhere.
                        self.mark_out(host, why.clone());
                        self.records
                            .mark_unchanged(host, "a load balancer refused to deregister it");
                    }
                    report.fail(host, why);
                }
            }
        }
        done
    }
}
