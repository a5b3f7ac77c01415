//! The lifecycle on a paused clock against `traffic::sim`, a target group
//! that moves through ELBv2's states, with every event collected.

use super::*;
use crate::events::{Collector, OutOfRotationHost};
use crate::traffic::config::Manager;
use crate::traffic::sim::SimGroup;
use crate::traffic::wait::MinHealthy;
use std::sync::Mutex;
use tokio::time::Instant;

fn target(id: &str) -> Target {
    Target {
        id: id.into(),
        port: None,
    }
}

fn config(on_failure: OnFailure) -> LbConfig {
    LbConfig {
        manager: Manager::Elbv2 {
            target_groups: vec!["sim".into()],
            port: None,
        },
        min_healthy: MinHealthy::Count(1),
        drain_timeout: Some(Duration::from_secs(20)),
        healthy_timeout: Duration::from_secs(60),
        unhealthy_grace: Duration::from_secs(10),
        health_url: None,
        poll_interval: Duration::from_secs(1),
        on_failure,
    }
}

/// Host `hN` runs on instance `iN`.
struct Probe;

#[async_trait]
impl HostProbe for Probe {
    async fn instance_id(&self, host: &str) -> Result<(String, String), String> {
        match host.strip_prefix('h') {
            Some(n) => Ok((format!("i{n}"), "the test's probe".into())),
            None => Err(format!("no instance for {host}")),
        }
    }

    async fn check_url(&self, _host: &str, _url: &str) -> Result<(), String> {
        Ok(())
    }
}

/// A lifecycle over hosts h1..h3 (instances i1..i3) in one simulated group.
struct Bed {
    sim: Arc<SimGroup>,
    events: Arc<Collector>,
    published: Arc<Mutex<Vec<OutOfRotationHost>>>,
    lifecycle: Lifecycle,
}

fn bed(config: LbConfig, dereg_delay: u64) -> Bed {
    bed_with(config, dereg_delay, |_| {}, &[])
}

/// The group every bed has: i1..i3, registered and healthy.
fn sim_group(dereg_delay: u64) -> SimGroup {
    SimGroup::new(&["i1", "i2", "i3"], Duration::from_secs(dereg_delay))
}

/// [`bed`], with the run's settings changed by `tweak` and `more` groups
/// after the first.
fn bed_with(
    config: LbConfig,
    dereg_delay: u64,
    tweak: impl FnOnce(&mut Settings),
    more: &[Arc<SimGroup>],
) -> Bed {
    let sim = Arc::new(sim_group(dereg_delay));
    let mut groups = vec![sim.clone() as Arc<dyn TrafficManager>];
    groups.extend(more.iter().map(|g| g.clone() as Arc<dyn TrafficManager>));
    let events = Arc::new(Collector::default());
    let published = Arc::new(Mutex::new(Vec::new()));
    let rendered = ["h1", "h2", "h3", "h9"]
        .iter()
        .map(|h| (h.to_string(), config.clone()))
        .collect();
    let seen = published.clone();
    let publish: Publish = Arc::new(move |hosts| *seen.lock().unwrap() = hosts);
    let mut settings = Settings {
        check: false,
        resumed: HashMap::new(),
        resumed_out: HashSet::new(),
        location: "site.yaml:1:3".into(),
    };
    tweak(&mut settings);
    let lifecycle = Lifecycle::new(rendered, "h1", groups, events.clone(), settings, publish)
        .expect("h1 has a section");
    Bed {
        sim,
        events,
        published,
        lifecycle,
    }
}

fn host(name: &str, failed: bool) -> BatchHost {
    BatchHost {
        name: name.into(),
        failed,
        unreachable: false,
        ended: false,
    }
}

fn failures(report: &StepReport) -> Vec<(String, String)> {
    report
        .results
        .iter()
        .filter_map(|(h, r)| match r {
            StepResult::Failed(why) => Some((h.clone(), why.clone())),
            _ => None,
        })
        .collect()
}

impl Bed {
    /// Takes `host` out and drops the run 5 s in (a second Ctrl-C drops
    /// the run's future wherever it is); returns the one host published
    /// out of rotation, which must be `host`.
    async fn stopped_taking_out(&mut self, host: &str) -> OutOfRotationHost {
        let stopped = tokio::time::timeout(
            Duration::from_secs(5),
            self.lifecycle.take_out(vec![host.into()], &Probe),
        )
        .await;
        assert!(stopped.is_err(), "the take-out was still running");
        let published = self.published.lock().unwrap().clone();
        assert_eq!(published.len(), 1, "{published:?}");
        assert_eq!(published[0].host, host);
        published[0].clone()
    }

    /// h1, taken out and failed, goes back into rotation, is not counted as
    /// passing, and a warning says why (`warning`).
    async fn assert_back_yet_failed(&mut self, warning: &str) {
        let back = self.lifecycle.put_back(&[host("h1", true)], &Probe).await;
        assert!(back.passed.is_empty(), "a failed host stays failed");
        assert!(!self.lifecycle.is_out("h1"));
        assert_eq!(self.sim.log(), vec!["deregister i1", "register i1"]);
        assert!(
            self.warnings().iter().any(|w| w.contains(warning)),
            "{:?}",
            self.warnings()
        );
    }

    /// What `pick` takes from each event collected so far.
    fn collected<T>(&self, pick: impl Fn(&Event) -> Option<Vec<T>>) -> Vec<T> {
        let events = self.events.0.lock().unwrap();
        events.iter().filter_map(pick).flatten().collect()
    }

    fn warnings(&self) -> Vec<String> {
        self.collected(|e| match e {
            Event::Warning { message } => Some(vec![message.clone()]),
            _ => None,
        })
    }

    fn out_of_rotation_reported(&self) -> Vec<OutOfRotationHost> {
        self.collected(|e| match e {
            Event::OutOfRotation { hosts } => Some(hosts.clone()),
            _ => None,
        })
    }
}

#[tokio::test(start_paused = true)]
async fn a_drain_that_finishes_takes_the_host_out_and_put_back_returns_it() {
    let mut bed = bed(config(OnFailure::KeepOut), 300);
    let started = Instant::now();
    let out = bed.lifecycle.take_out(vec!["h1".into()], &Probe).await;
    assert_eq!(out.passed, vec!["h1"]);
    assert!(
        matches!(&out.results[..], [(h, StepResult::Changed(msg))] if h == "h1" && msg.contains("i1 drained")),
        "{:?}",
        out.results
    );
    // Nothing in flight: ELBv2 completes the drain at once, and the
    // first rounds of a wait are fast.
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(bed.lifecycle.is_out("h1"));
    assert_eq!(bed.published.lock().unwrap()[0].host, "h1");

    let back = bed.lifecycle.put_back(&[host("h1", false)], &Probe).await;
    assert_eq!(back.passed, vec!["h1"]);
    assert!(failures(&back).is_empty(), "{:?}", back.results);
    assert!(!bed.lifecycle.is_out("h1"));
    assert!(bed.published.lock().unwrap().is_empty());
    assert_eq!(bed.sim.log(), vec!["deregister i1", "register i1"]);
    bed.lifecycle.report_out_of_rotation();
    assert!(bed.out_of_rotation_reported().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_drain_that_never_finishes_fails_the_host_and_puts_it_back_unchanged() {
    let mut bed = bed(config(OnFailure::KeepOut), 300);
    bed.sim.set_sessions(&target("i1"), 1);
    let started = Instant::now();
    let out = bed.lifecycle.take_out(vec!["h1".into()], &Probe).await;
    let took = started.elapsed();
    assert!(out.passed.is_empty());
    let failed = failures(&out);
    assert_eq!(failed.len(), 1);
    assert!(failed[0].1.contains("did not drain"), "{}", failed[0].1);
    assert!(failed[0].1.contains("nothing was changed on it"));
    // drain_timeout bounds the wait, not the 300 s deregistration delay.
    assert!(took >= Duration::from_secs(20) && took < Duration::from_secs(22));

    // Failed, yet nothing ran on it: it goes back as it was.
    bed.assert_back_yet_failed("h1 failed: its drain did not finish")
        .await;
}

#[tokio::test(start_paused = true)]
async fn health_that_never_passes_within_the_grace_keeps_the_host_out() {
    let mut bed = bed(config(OnFailure::KeepOut), 300);
    bed.lifecycle.take_out(vec!["h2".into()], &Probe).await;
    bed.sim.set_app_healthy(&target("i2"), false);
    let started = Instant::now();
    let back = bed.lifecycle.put_back(&[host("h2", false)], &Probe).await;
    let took = started.elapsed();
    let failed = failures(&back);
    assert_eq!(failed.len(), 1, "{:?}", back.results);
    assert!(
        failed[0].1.contains("did not turn healthy"),
        "{}",
        failed[0].1
    );
    assert!(
        failed[0].1.contains("unhealthy_grace is 10s"),
        "{}",
        failed[0].1
    );
    // The checks take 2 s to give a verdict, then 10 s of grace.
    assert!(took >= Duration::from_secs(10) && took < Duration::from_secs(13));
    // Taken out again: a host that never turned healthy takes no traffic.
    assert_eq!(
        bed.sim.log(),
        vec!["deregister i2", "register i2", "deregister i2"]
    );
    assert!(bed.lifecycle.is_out("h2"));
    bed.lifecycle.report_out_of_rotation();
    let reported = bed.out_of_rotation_reported();
    assert_eq!(reported.len(), 1);
    assert_eq!(reported[0].host, "h2");
    assert_eq!(reported[0].target, "i2");
    assert_eq!(reported[0].restore, "sim register i2");
}

#[tokio::test(start_paused = true)]
async fn throttling_slows_the_polls_but_the_drain_still_completes() {
    let mut bed = bed(config(OnFailure::KeepOut), 300);
    bed.sim.set_sessions(&target("i1"), 1);
    bed.sim
        .close_sessions_at(&target("i1"), Duration::from_secs(6));
    let out = {
        let take_out = bed.lifecycle.take_out(vec!["h1".into()], &Probe);
        tokio::pin!(take_out);
        // Throttle from the third Describe on, once the drain is waited for.
        tokio::select! {
            report = &mut take_out => report,
            () = async {
                tokio::time::sleep(Duration::from_millis(600)).await;
                bed.sim.throttle_next(4);
                std::future::pending::<()>().await
            } => unreachable!(),
        }
    };
    assert_eq!(out.passed, vec!["h1"], "{:?}", out.results);
    let calls = bed.sim.describe_calls();
    let gaps: Vec<Duration> = calls.windows(2).map(|w| w[1] - w[0]).collect();
    // Backing off doubles the pause: some gap is at least twice the interval.
    assert!(
        gaps.iter().any(|g| *g >= Duration::from_millis(1800)),
        "{gaps:?}"
    );
    assert!(calls.len() < 15, "{} calls", calls.len());
}

#[tokio::test(start_paused = true)]
async fn a_capacity_guard_that_blocks_takes_nothing_out() {
    let mut config = config(OnFailure::KeepOut);
    config.min_healthy = MinHealthy::Count(3);
    config.healthy_timeout = Duration::from_secs(30);
    let mut bed = bed(config, 300);
    let started = Instant::now();
    let out = bed.lifecycle.take_out(vec!["h1".into()], &Probe).await;
    let took = started.elapsed();
    assert!(out.passed.is_empty());
    let failed = failures(&out);
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0].1.contains("not enough healthy capacity"),
        "{}",
        failed[0].1
    );
    assert!(
        failed[0]
            .1
            .contains("2 of 2 other target(s) healthy, min_healthy needs 3")
    );
    assert!(took >= Duration::from_secs(30) && took < Duration::from_secs(32));
    assert!(bed.sim.log().is_empty(), "nothing deregistered");
    assert!(!bed.lifecycle.is_out("h1"));
}

#[tokio::test(start_paused = true)]
async fn a_host_failed_in_its_tasks_stays_out_under_keep_out() {
    let mut bed = bed(config(OnFailure::KeepOut), 300);
    bed.lifecycle
        .take_out(vec!["h1".into(), "h2".into()], &Probe)
        .await;
    let batch = [host("h1", true), host("h2", false)];
    assert!(!bed.lifecycle.rolls_back());
    let back = bed.lifecycle.put_back(&batch, &Probe).await;
    assert_eq!(back.passed, vec!["h2"]);
    assert!(bed.lifecycle.is_out("h1"));
    assert!(!bed.sim.log().contains(&"register i1".to_string()));
}

#[tokio::test(start_paused = true)]
async fn a_host_failed_in_its_tasks_goes_back_under_restore_and_stays_failed() {
    let mut bed = bed(config(OnFailure::Restore), 300);
    bed.lifecycle.take_out(vec!["h1".into()], &Probe).await;
    bed.assert_back_yet_failed("restored to rotation (on_failure: restore)")
        .await;
}

#[tokio::test(start_paused = true)]
async fn rollback_picks_the_failed_hosts_out_of_rotation_and_returns_those_that_heal() {
    let mut bed = bed(config(OnFailure::Rollback), 300);
    bed.lifecycle
        .take_out(vec!["h1".into(), "h2".into()], &Probe)
        .await;
    let unreachable = BatchHost {
        unreachable: true,
        ..host("h2", true)
    };
    let batch = [host("h1", true), unreachable];
    assert!(bed.lifecycle.rolls_back());
    // An unreachable host cannot run the rollback tasks.
    assert_eq!(bed.lifecycle.rollback_candidates(&batch), vec!["h1"]);
    // Failed hosts stay out until their rollback succeeded...
    bed.lifecycle.put_back(&batch, &Probe).await;
    assert!(bed.lifecycle.is_out("h1") && bed.lifecycle.is_out("h2"));
    // ...then the engine clears h1's failure and it goes back.
    let healed = [host("h1", false), batch[1].clone()];
    let back = bed.lifecycle.put_back(&healed, &Probe).await;
    assert_eq!(back.passed, vec!["h1"]);
    assert!(!bed.lifecycle.is_out("h1") && bed.lifecycle.is_out("h2"));
}

#[tokio::test(start_paused = true)]
async fn a_stop_in_the_middle_of_a_drain_still_names_the_host_out_of_rotation() {
    let mut bed = bed(config(OnFailure::KeepOut), 300);
    bed.sim.set_sessions(&target("i3"), 2);
    let published = bed.stopped_taking_out("h3").await;
    assert_eq!(published.why, "deregistered, not yet drained");
    assert_eq!(published.restore, "sim register i3");
    assert_eq!(bed.sim.log(), vec!["deregister i3"]);
}

#[tokio::test(start_paused = true)]
async fn check_mode_shows_the_capacity_math_and_changes_nothing() {
    let mut bed = bed(config(OnFailure::KeepOut), 300);
    bed.lifecycle.settings.check = true;
    let out = bed.lifecycle.take_out(vec!["h1".into()], &Probe).await;
    assert_eq!(out.passed, vec!["h1"]);
    assert!(
        matches!(&out.results[..], [(_, StepResult::Ok(msg))]
            if msg.contains("would deregister i1") && msg.contains("2 of 2 other target(s) healthy")),
        "{:?}",
        out.results
    );
    let back = bed.lifecycle.put_back(&[host("h1", false)], &Probe).await;
    assert!(
        matches!(&back.results[..], [(_, StepResult::Ok(msg))] if msg.contains("would register i1"))
    );
    assert!(bed.sim.log().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_target_the_group_does_not_know_fails_its_host_before_anything_runs() {
    let mut bed = bed(config(OnFailure::KeepOut), 300);
    // h9 runs on i9, which is not in the group (a replaced instance).
    let out = bed
        .lifecycle
        .take_out(vec!["h1".into(), "h9".into()], &Probe)
        .await;
    assert_eq!(out.passed, vec!["h1"]);
    let failed = failures(&out);
    assert_eq!(failed.len(), 1, "{:?}", out.results);
    assert_eq!(failed[0].0, "h9");
    assert!(
        failed[0]
            .1
            .contains("i9 (from the test's probe) is not registered in target group sim"),
        "{}",
        failed[0].1
    );
    assert_eq!(bed.sim.log(), vec!["deregister i1"], "i9 untouched");
    assert!(!bed.lifecycle.is_out("h9"));

    // Resumed after this rollout took it out, the same target goes on.
    let resumed = |s: &mut Settings| {
        s.resumed_out.insert("h9".into());
    };
    let mut bed = bed_with(config(OnFailure::KeepOut), 300, resumed, &[]);
    let out = bed.lifecycle.take_out(vec!["h9".into()], &Probe).await;
    assert_eq!(out.passed, vec!["h9"], "{:?}", out.results);
}

#[tokio::test(start_paused = true)]
async fn a_host_unhealthy_in_its_second_group_is_taken_out_of_the_first_again() {
    let second = Arc::new(sim_group(300).named("second"));
    let mut bed = bed_with(
        config(OnFailure::KeepOut),
        300,
        |_| {},
        std::slice::from_ref(&second),
    );
    bed.lifecycle.take_out(vec!["h1".into()], &Probe).await;
    // Healthy behind the first group's checks, not behind the second's.
    bed.sim.set_app_healthy(&target("i1"), true);
    second.set_app_healthy(&target("i1"), false);
    let back = bed.lifecycle.put_back(&[host("h1", false)], &Probe).await;
    let failed = failures(&back);
    assert_eq!(failed.len(), 1, "{:?}", back.results);
    assert!(
        failed[0]
            .1
            .contains("did not turn healthy in target group second")
    );
    assert_eq!(
        bed.sim.log(),
        vec!["deregister i1", "register i1", "deregister i1"],
        "out of the first group again"
    );
    assert!(bed.lifecycle.is_out("h1"));
    bed.lifecycle.report_out_of_rotation();
    let groups: Vec<String> = (bed.out_of_rotation_reported().iter())
        .map(|h| h.group.clone())
        .collect();
    assert_eq!(groups, vec!["target group sim", "target group second"]);
}

#[tokio::test(start_paused = true)]
async fn a_deregistration_refused_by_the_second_group_puts_the_host_back_in_the_first() {
    let second = Arc::new(sim_group(300).named("second"));
    second.refuse_changes(1);
    let mut bed = bed_with(
        config(OnFailure::KeepOut),
        300,
        |_| {},
        std::slice::from_ref(&second),
    );
    let out = bed.lifecycle.take_out(vec!["h1".into()], &Probe).await;
    assert!(out.passed.is_empty());
    assert!(
        failures(&out)[0]
            .1
            .contains("deregistering i1 from target group second")
    );
    // Nothing ran on it: it goes back where it was taken out.
    bed.assert_back_yet_failed("h1 failed: a load balancer refused to deregister it")
        .await;
    assert!(second.log().iter().all(|l| l != "deregister i1"));
}

#[tokio::test(start_paused = true)]
async fn a_stop_while_a_deregistration_is_in_flight_names_the_host() {
    let mut bed = bed(config(OnFailure::KeepOut), 300);
    bed.sim.hold_changes(Duration::from_secs(30));
    let published = bed.stopped_taking_out("h2").await;
    assert_eq!(
        published.why,
        "deregistration from target group sim in flight"
    );
}
