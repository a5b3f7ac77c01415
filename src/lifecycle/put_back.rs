//! Putting a batch back: which hosts go back (the keep-out / restore
//! decision), the app's own health check from the host, register, wait
//! until healthy. A host that never turns healthy is taken out again and
//! stays out.

use super::{BatchHost, HostProbe, Lifecycle, StepReport, StepResult};
use crate::events::{Event, Phase};
use crate::traffic::config::OnFailure;
use crate::traffic::{TrafficManager, wait};
use std::sync::Arc;

impl Lifecycle {
    /// Puts back the batch's hosts that this run took out and that did
    /// not fail; failed ones too with `on_failure: restore`, and those
    /// whose drain never finished (nothing ran on them).
    pub async fn put_back(&mut self, batch: &[BatchHost], probe: &dyn HostProbe) -> StepReport {
        let mut report = StepReport::default();
        if self.settings.check {
            self.start_step("back in rotation");
            for host in batch.iter().filter(|h| h.active()) {
                if let Some(target) = self.targets.get(&host.name) {
                    let msg = format!("would register {target} and wait until healthy");
                    report.result(&host.name, StepResult::Ok(msg));
                }
            }
            return report;
        }
        let restore = self.config.on_failure == OnFailure::Restore;
        let hosts = self.taken_out(batch, |lifecycle, h| {
            !h.unreachable
                && (restore || lifecycle.records.unchanged(&h.name).is_some() || !h.failed)
        });
        if hosts.is_empty() {
            return report;
        }
        self.start_step("back in rotation");
        let hosts = self.check_apps(hosts, probe, &mut report).await;
        let mut healthy = hosts;
        let groups = self.groups.clone();
        for (index, group) in groups.iter().enumerate() {
            let waiting = self
                .change_each(&**group, &healthy, None, &mut report)
                .await;
            // Refused by this group: out of the earlier ones again too.
            for host in healthy.iter().filter(|h| !waiting.contains(h)) {
                self.take_back_out(&groups[..index], host).await;
            }
            let verdict = wait::healthy_verdict(self.config.unhealthy_grace);
            let bound = self.config.healthy_timeout;
            let outcome = self
                .wait_group(&**group, &waiting, bound, Phase::HealthChecking, verdict)
                .await;
            healthy = Vec::new();
            for host in waiting {
                let target = self.targets[&host].clone();
                match outcome.get(&target) {
                    Some(Ok(_)) => healthy.push(host),
                    other => {
                        let why = match other {
                            Some(Err(why)) => why.clone(),
                            _ => "no answer from the load balancer".into(),
                        };
                        // A host that never turned healthy takes no traffic,
                        // from this group nor from those it is back in.
                        self.take_back_out(&groups[..=index], &host).await;
                        let why =
                            format!("{target} did not turn healthy in {}: {why}", group.name());
                        self.mark_out(&host, why.clone());
                        report.fail(&host, why);
                    }
                }
            }
        }
        let failed_before: Vec<&str> = batch
            .iter()
            .filter(|h| h.failed)
            .map(|h| h.name.as_str())
            .collect();
        for host in healthy {
            let target = self.targets[&host].clone();
            self.mark_in(&host);
            self.progress(&host, Phase::InRotation, &format!("{target} healthy"), None);
            if failed_before.contains(&host.as_str()) {
                // A failed host put back (unchanged, or on_failure:
                // restore) stays failed.
                let how = match self.records.unchanged(&host) {
                    Some(why) => format!("{why}, so it was put back unchanged"),
                    None => "it was restored to rotation (on_failure: restore)".into(),
                };
                self.sink.emit(Event::Warning {
                    message: format!("{host} failed: {how}"),
                });
                continue;
            }
            let msg = format!("{target} registered and healthy");
            report.result(&host, StepResult::Changed(msg));
            report.passed.push(host);
        }
        report
    }

    /// Deregisters `host` again from `groups` (it failed on its way back),
    /// best effort: it is reported out of rotation either way.
    async fn take_back_out(&self, groups: &[Arc<dyn TrafficManager>], host: &str) {
        let target = &self.targets[host];
        for group in groups {
            let _ = group.deregister(target).await;
            let _ = group.drained(target).await;
        }
    }

    /// Confirms each host's app answers its `health_url` (from the host)
    /// before it is registered: HAProxy sends traffic on `ready` at once.
    async fn check_apps(
        &mut self,
        hosts: Vec<String>,
        probe: &dyn HostProbe,
        report: &mut StepReport,
    ) -> Vec<String> {
        let bound = self.config.healthy_timeout;
        let interval = self.config.poll_interval;
        let mut checks = Vec::new();
        for host in &hosts {
            let url = self.rendered.get(host).and_then(|c| c.health_url.clone());
            if let Some(url) = &url {
                self.progress(host, Phase::AppHealthCheck, url, Some(bound));
            }
            checks.push(async move {
                let Some(url) = url else { return Ok(()) };
                wait::until_ok(bound, interval, || probe.check_url(host, &url))
                    .await
                    .map(|_| ())
            });
        }
        let results = futures::future::join_all(checks).await;
        let mut ok = Vec::new();
        for (host, result) in hosts.into_iter().zip(results) {
            match result {
                Ok(()) => ok.push(host),
                Err(why) => {
                    let why = format!("the app's health check failed before registering: {why}");
                    self.mark_out(&host, why.clone());
                    report.fail(&host, why);
                }
            }
        }
        ok
    }
}

impl BatchHost {
    fn active(&self) -> bool {
        !self.failed && !self.unreachable && !self.ended
    }
}
