//! The waits of the rolling lifecycle, shared by every manager: until
//! targets have drained, until they are healthy, until enough other
//! capacity is healthy. Each round makes one `describe` call for the whole
//! group, whatever the number of in-flight targets; rounds are about
//! `interval` apart with jitter (a quarter of it during a wait's first
//! interval), and back off on throttling. Everything is bounded and uses
//! tokio's clock.

use super::{Health, State, Target, TrafficError, TrafficManager};
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;
use tokio::time::{Instant, sleep};

#[derive(Debug, Clone)]
pub struct PollSettings {
    pub interval: Duration,
    /// Throttling doubles the interval up to this.
    pub max_backoff: Duration,
    /// Consecutive non-throttling API errors tolerated before giving up.
    pub max_errors: u32,
}

impl Default for PollSettings {
    fn default() -> Self {
        PollSettings {
            interval: Duration::from_secs(1),
            max_backoff: Duration::from_secs(16),
            max_errors: 5,
        }
    }
}

/// One target's standing after a look at its health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Done,
    Wait(String),
    Fail(String),
}

/// What a round saw, for progress display.
pub struct Round<'a> {
    pub elapsed: Duration,
    pub bound: Duration,
    pub waiting: &'a BTreeMap<Target, String>,
}

/// Polls until every target's verdict is `Done` or `Fail`, or `bound`
/// passes (the rest fail with their last reason). Returns per target the
/// time it took, or why it failed.
pub async fn wait_all(
    manager: &dyn TrafficManager,
    targets: &[Target],
    bound: Duration,
    poll: &PollSettings,
    mut judge: impl FnMut(Option<&Health>, Duration) -> Verdict,
    mut on_round: impl FnMut(&Round<'_>),
) -> HashMap<Target, Result<Duration, String>> {
    let started = Instant::now();
    let mut results = HashMap::new();
    let mut waiting: BTreeMap<Target, String> = targets
        .iter()
        .map(|t| (t.clone(), "no answer yet".to_string()))
        .collect();
    let mut backoff = Backoff::new(poll);
    while !waiting.is_empty() {
        let elapsed = started.elapsed();
        match manager.describe().await {
            Ok(health) => {
                backoff.success();
                waiting.retain(|target, why| match judge(health.get(target), elapsed) {
                    Verdict::Done => {
                        results.insert(target.clone(), Ok(elapsed));
                        false
                    }
                    Verdict::Fail(message) => {
                        results.insert(target.clone(), Err(message));
                        false
                    }
                    Verdict::Wait(reason) => {
                        *why = reason;
                        true
                    }
                });
            }
            Err(e) if backoff.failure(&e) => {
                let why = match &e {
                    TrafficError::Throttled(message) => format!(
                        "throttled ({message}); backing off to {:?}",
                        backoff.interval
                    ),
                    e => format!("{} answered: {e}", manager.name()),
                };
                for reason in waiting.values_mut() {
                    reason.clone_from(&why);
                }
            }
            Err(e) => {
                for (target, _) in std::mem::take(&mut waiting) {
                    results.insert(target, Err(format!("{}: {e}", manager.name())));
                }
                break;
            }
        }
        if waiting.is_empty() {
            break;
        }
        on_round(&Round {
            elapsed,
            bound,
            waiting: &waiting,
        });
        let left = bound.saturating_sub(started.elapsed());
        if left.is_zero() {
            for (target, why) in std::mem::take(&mut waiting) {
                let message = format!("gave up after {}s: {why}", bound.as_secs());
                results.insert(target, Err(message));
            }
            break;
        }
        sleep(backoff.pause(Some(started.elapsed()), left)).await;
    }
    results
}

/// Rounds are `FAST_START` times as frequent during the first interval
/// after a change, unless backing off: a target with no request in flight
/// drains at once and a quick health check passes within a second, so a
/// full interval would mostly be spent waiting on a change already done.
const FAST_START: u32 = 4;

/// One `describe`, retried with back-off while the API throttles or fails
/// transiently (at most `poll.max_errors` failures other than throttling,
/// and never past `bound`).
pub async fn describe_retrying(
    manager: &dyn TrafficManager,
    bound: Duration,
    poll: &PollSettings,
) -> Result<HashMap<Target, Health>, TrafficError> {
    let started = Instant::now();
    let mut backoff = Backoff::new(poll);
    loop {
        let pause = backoff.interval;
        match manager.describe().await {
            Ok(health) => return Ok(health),
            Err(e) if started.elapsed() + pause < bound && backoff.failure(&e) => {
                sleep(pause).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The pace of a polling loop: rounds `interval` apart (jittered), the
/// interval doubling up to `max_backoff` while the API throttles or fails
/// and back to `interval` after a success; more than `max_errors`
/// consecutive failures other than throttling end the loop.
struct Backoff<'a> {
    poll: &'a PollSettings,
    interval: Duration,
    errors: u32,
    jitter: Jitter,
}

impl<'a> Backoff<'a> {
    fn new(poll: &'a PollSettings) -> Backoff<'a> {
        Backoff {
            poll,
            interval: poll.interval,
            errors: 0,
            jitter: Jitter::new(),
        }
    }

    fn success(&mut self) {
        self.interval = self.poll.interval;
        self.errors = 0;
    }

    /// Counts a failed call and backs off; false when the loop must stop
    /// (not a transient error, or one too many).
    fn failure(&mut self, error: &TrafficError) -> bool {
        match error {
            TrafficError::Throttled(_) => {}
            TrafficError::Api(_) | TrafficError::Unreachable(_)
                if self.errors < self.poll.max_errors =>
            {
                self.errors += 1
            }
            _ => return false,
        }
        self.interval = (self.interval * 2).min(self.poll.max_backoff);
        true
    }

    /// How long to sleep before the next round, at most `left`: the
    /// current interval, jittered; a wait that says how long it has run
    /// (`elapsed`) polls `FAST_START` times as often in its first interval.
    fn pause(&mut self, elapsed: Option<Duration>, left: Duration) -> Duration {
        let base = self.poll.interval;
        let interval = match elapsed {
            Some(elapsed) if self.interval == base && elapsed < base => base / FAST_START,
            _ => self.interval,
        };
        self.jitter.spread(interval).min(left)
    }
}

/// Drained: not registered any more, or `unused`.
pub fn drain_verdict(health: Option<&Health>, _elapsed: Duration) -> Verdict {
    match health {
        None => Verdict::Done,
        Some(h) if h.state == State::Unused => Verdict::Done,
        Some(h) if h.state.is_draining() => Verdict::Wait(match h.sessions {
            Some(n) => format!("draining, {n} connection(s) open"),
            None => "draining".into(),
        }),
        Some(h) => Verdict::Wait(format!("still {} after deregistering", h.describe())),
    }
}

/// Healthy, tolerating `unhealthy` for `grace` after registering (the
/// first checks of a freshly started app may fail).
pub fn healthy_verdict(grace: Duration) -> impl FnMut(Option<&Health>, Duration) -> Verdict {
    move |health, elapsed| match health {
        None => Verdict::Wait("not registered yet".into()),
        Some(h) => match h.state {
            State::Healthy => Verdict::Done,
            State::Initial => Verdict::Wait(format!("health checks running: {}", h.describe())),
            State::Unhealthy | State::Unavailable if elapsed >= grace => Verdict::Fail(format!(
                "{} {}s after registering (unhealthy_grace is {}s)",
                h.describe(),
                elapsed.as_secs(),
                grace.as_secs()
            )),
            _ => Verdict::Wait(h.describe()),
        },
    }
}

/// `min_healthy`: a count, or a percentage of the group's other targets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MinHealthy {
    Count(usize),
    Percent(f64),
}

impl MinHealthy {
    /// Healthy targets required among `others` (rounded up).
    pub fn required(self, others: usize) -> usize {
        match self {
            MinHealthy::Count(n) => n,
            MinHealthy::Percent(p) => ((others as f64) * p / 100.0).ceil() as usize,
        }
    }
}

/// The state [`Capacity::already_out`] gives a target the group does not
/// know at all.
pub const NOT_REGISTERED: &str = "not registered";

/// The capacity math, as `--check` and the messages show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capacity {
    pub healthy_others: usize,
    pub others: usize,
    pub required: usize,
    /// Leaving targets that already take no new traffic (draining, unused
    /// or not registered), with their state: a resumed run does not
    /// deregister them again.
    pub already_out: Vec<(Target, String)>,
}

impl Capacity {
    pub fn enough(&self) -> bool {
        self.healthy_others >= self.required
    }

    pub fn describe(&self) -> String {
        format!(
            "{} of {} other target(s) healthy, min_healthy needs {}",
            self.healthy_others, self.others, self.required
        )
    }

    pub fn of(health: &HashMap<Target, Health>, leaving: &[Target], min: MinHealthy) -> Capacity {
        let others: Vec<&Health> = health
            .iter()
            .filter(|(t, _)| !leaving.contains(t))
            .map(|(_, h)| h)
            .collect();
        let already_out = leaving
            .iter()
            .filter_map(|t| match health.get(t) {
                None => Some((t.clone(), NOT_REGISTERED.to_string())),
                Some(h) if h.state.is_draining() || h.state == State::Unused => {
                    Some((t.clone(), h.describe()))
                }
                Some(_) => None,
            })
            .collect();
        Capacity {
            healthy_others: others.iter().filter(|h| h.state == State::Healthy).count(),
            others: others.len(),
            required: min.required(others.len()),
            already_out,
        }
    }
}

/// Waits up to `bound` until enough targets other than `leaving` are
/// healthy; never takes the last healthy capacity out.
pub async fn capacity_guard(
    manager: &dyn TrafficManager,
    leaving: &[Target],
    min: MinHealthy,
    bound: Duration,
    poll: &PollSettings,
) -> Result<Capacity, String> {
    let started = Instant::now();
    let mut backoff = Backoff::new(poll);
    loop {
        let last = match manager.describe().await {
            Ok(health) => {
                backoff.success();
                let capacity = Capacity::of(&health, leaving, min);
                if capacity.enough() {
                    return Ok(capacity);
                }
                capacity.describe()
            }
            Err(e) if backoff.failure(&e) => e.to_string(),
            Err(e) => return Err(format!("{}: {e}", manager.name())),
        };
        let left = bound.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Err(format!(
                "not enough healthy capacity in {} after waiting {}s: {last}; nothing was taken \
                 out of rotation",
                manager.name(),
                bound.as_secs()
            ));
        }
        sleep(backoff.pause(None, left)).await;
    }
}

/// Retries `probe` every `interval` until it succeeds or `bound` passes
/// (the app's own health URL, checked before registering).
pub async fn until_ok<F, Fut>(
    bound: Duration,
    interval: Duration,
    mut probe: F,
) -> Result<Duration, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let started = Instant::now();
    loop {
        let last = match probe().await {
            Ok(()) => return Ok(started.elapsed()),
            Err(why) => why,
        };
        let left = bound.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Err(format!("gave up after {}s: {last}", bound.as_secs()));
        }
        sleep(interval.min(left)).await;
    }
}

/// ±10% jitter so that concurrent rollouts do not poll in lockstep.
struct Jitter(u64);

impl Jitter {
    fn new() -> Jitter {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(0x9e37_79b9);
        Jitter(hasher.finish() | 1)
    }

    fn spread(&mut self, interval: Duration) -> Duration {
        // xorshift64: enough randomness for spreading polls.
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        let factor = 0.9 + (self.0 % 2001) as f64 / 10_000.0;
        interval.mul_f64(factor)
    }
}

#[cfg(test)]
mod tests {
    use super::super::sim::SimGroup;
    use super::*;

    fn t(id: &str) -> Target {
        Target {
            id: id.into(),
            port: None,
        }
    }

    fn quick() -> PollSettings {
        PollSettings::default()
    }

    async fn drain(
        group: &SimGroup,
        targets: &[Target],
        bound: u64,
    ) -> HashMap<Target, Result<Duration, String>> {
        for target in targets {
            group.deregister(target).await.unwrap();
        }
        wait_all(
            group,
            targets,
            Duration::from_secs(bound),
            &quick(),
            drain_verdict,
            |_| {},
        )
        .await
    }

    #[tokio::test(start_paused = true)]
    async fn drain_ends_early_when_no_request_is_in_flight() {
        let group = SimGroup::new(&["a", "b"], Duration::from_secs(300));
        group.set_sessions(&t("a"), 0);
        let results = drain(&group, &[t("a")], 330).await;
        let took = results[&t("a")].clone().unwrap();
        assert!(took <= Duration::from_secs(2), "{took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn drain_waits_for_connections_then_the_bound() {
        let group = SimGroup::new(&["a", "b"], Duration::from_secs(20));
        group.set_sessions(&t("a"), 3);
        group.close_sessions_at(&t("a"), Duration::from_secs(8));
        let took = drain(&group, &[t("a")], 330).await[&t("a")]
            .clone()
            .unwrap();
        assert!((8..=10).contains(&took.as_secs()), "{took:?}");

        // Connections that never close: the deregistration delay ends it.
        let group = SimGroup::new(&["a", "b"], Duration::from_secs(20));
        group.set_sessions(&t("a"), 3);
        let took = drain(&group, &[t("a")], 330).await[&t("a")]
            .clone()
            .unwrap();
        assert!((20..=22).contains(&took.as_secs()), "{took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn drain_bound_reached_fails_with_the_last_state() {
        let group = SimGroup::new(&["a", "b"], Duration::from_secs(600));
        group.set_sessions(&t("a"), 1);
        let started = Instant::now();
        let err = drain(&group, &[t("a")], 30).await[&t("a")]
            .clone()
            .unwrap_err();
        assert!(
            err.contains("gave up after 30s") && err.contains("draining"),
            "{err}"
        );
        assert_eq!(started.elapsed().as_secs(), 30);
    }

    #[tokio::test(start_paused = true)]
    async fn initial_then_healthy_and_one_describe_per_round() {
        let group = SimGroup::new(&["a", "b", "c", "d"], Duration::from_secs(5));
        group.set_check_delay(Duration::from_secs(6));
        let batch = [t("a"), t("b"), t("c")];
        for target in &batch {
            group.deregister(target).await.unwrap();
            group.register(target).await.unwrap();
        }
        let results = wait_all(
            &group,
            &batch,
            Duration::from_secs(60),
            &quick(),
            healthy_verdict(Duration::from_secs(30)),
            |_| {},
        )
        .await;
        for target in &batch {
            let took = results[target].clone().unwrap();
            assert!((6..=8).contains(&took.as_secs()), "{took:?}");
        }
        let calls = group.describe_calls();
        // Three targets in flight, yet one call a round in all: four
        // rounds in the first second, then about one a second.
        assert!((9..=12).contains(&calls.len()), "{calls:?}");
        for pair in calls.windows(2) {
            let gap = pair[1] - pair[0];
            let want = if pair[0] < Duration::from_secs(1) {
                250
            } else {
                1000
            };
            assert!(
                gap.as_millis().abs_diff(want) <= want / 10 + 1,
                "{gap:?} in {calls:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn unhealthy_past_the_grace_period_fails() {
        let group = SimGroup::new(&["a", "b"], Duration::from_secs(5));
        group.set_app_healthy(&t("a"), false);
        group.deregister(&t("a")).await.unwrap();
        group.register(&t("a")).await.unwrap();
        let started = Instant::now();
        let results = wait_all(
            &group,
            &[t("a")],
            Duration::from_secs(300),
            &quick(),
            healthy_verdict(Duration::from_secs(10)),
            |_| {},
        )
        .await;
        let err = results[&t("a")].clone().unwrap_err();
        assert!(
            err.contains("unhealthy") && err.contains("unhealthy_grace is 10s"),
            "{err}"
        );
        let secs = started.elapsed().as_secs();
        assert!(
            (10..=12).contains(&secs),
            "failed at {secs}s, not at the timeout"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_backs_off_then_recovers() {
        let group = SimGroup::new(&["a", "b"], Duration::from_secs(5));
        group.register(&t("a")).await.unwrap();
        group.throttle_next(4);
        let results = wait_all(
            &group,
            &[t("a")],
            Duration::from_secs(120),
            &quick(),
            healthy_verdict(Duration::from_secs(30)),
            |_| {},
        )
        .await;
        assert!(results[&t("a")].is_ok());
        let calls = group.describe_calls();
        let gaps: Vec<u64> = calls
            .windows(2)
            .map(|p| (p[1] - p[0]).as_millis() as u64)
            .collect();
        // 2 s, 4 s, 8 s, 16 s (±10%) while throttled, then back to 1 s.
        for (gap, want) in gaps.iter().zip([2000u64, 4000, 8000, 16000]) {
            assert!(gap.abs_diff(want) <= want / 10 + 1, "{gaps:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn persistent_api_errors_give_up() {
        let group = SimGroup::new(&["a", "b"], Duration::from_secs(5));
        group.fail_next(100);
        let results = wait_all(
            &group,
            &[t("a")],
            Duration::from_secs(600),
            &quick(),
            drain_verdict,
            |_| {},
        )
        .await;
        let err = results[&t("a")].clone().unwrap_err();
        assert!(err.contains("500"), "{err}");
        assert_eq!(group.describe_calls().len(), 6, "five retries, then stop");
    }

    #[tokio::test(start_paused = true)]
    async fn capacity_names_leaving_targets_already_out_of_rotation() {
        let group = SimGroup::new(&["a", "b", "c"], Duration::from_secs(300));
        group.set_sessions(&t("a"), 2);
        group.deregister(&t("a")).await.unwrap();
        let leaving = [t("a"), t("b"), t("gone")];
        let capacity = capacity_guard(
            &group,
            &leaving,
            MinHealthy::Count(1),
            Duration::from_secs(5),
            &quick(),
        )
        .await
        .unwrap();
        assert_eq!(
            capacity.already_out,
            [
                (
                    t("a"),
                    "draining (Target.DeregistrationInProgress)".to_string()
                ),
                (t("gone"), "not registered".to_string())
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn capacity_guard_backs_off_on_api_errors_and_gives_up_on_too_many() {
        let group = SimGroup::new(&["a", "b"], Duration::from_secs(5));
        group.fail_next(3);
        let ok = capacity_guard(
            &group,
            &[t("a")],
            MinHealthy::Count(1),
            Duration::from_secs(60),
            &quick(),
        )
        .await
        .unwrap();
        assert!(ok.enough());
        let calls = group.describe_calls();
        let gaps: Vec<u64> = calls
            .windows(2)
            .map(|p| (p[1] - p[0]).as_millis() as u64)
            .collect();
        // 2 s, 4 s, 8 s (±10%) after each 500, then the answer.
        assert_eq!(gaps.len(), 3, "{gaps:?}");
        for (gap, want) in gaps.iter().zip([2000u64, 4000, 8000]) {
            assert!(gap.abs_diff(want) <= want / 10 + 1, "{gaps:?}");
        }

        let group = SimGroup::new(&["a", "b"], Duration::from_secs(5));
        group.fail_next(100);
        let err = capacity_guard(
            &group,
            &[t("a")],
            MinHealthy::Count(1),
            Duration::from_secs(600),
            &quick(),
        )
        .await
        .unwrap_err();
        assert!(err.contains("500"), "{err}");
        assert_eq!(group.describe_calls().len(), 6, "five retries, then stop");
    }

    #[tokio::test(start_paused = true)]
    async fn capacity_guard_waits_then_refuses() {
        let group = SimGroup::new(&["a", "b", "c"], Duration::from_secs(5));
        group.set_app_healthy(&t("b"), false);
        group.set_app_healthy(&t("c"), false);
        // b turns healthy after 4 s: one other healthy target is enough.
        group.heal_at(&t("b"), Duration::from_secs(4));
        let ok = capacity_guard(
            &group,
            &[t("a")],
            MinHealthy::Count(1),
            Duration::from_secs(30),
            &quick(),
        )
        .await
        .unwrap();
        assert_eq!(
            ok,
            Capacity {
                healthy_others: 1,
                others: 2,
                required: 1,
                already_out: Vec::new(),
            }
        );

        let started = Instant::now();
        let err = capacity_guard(
            &group,
            &[t("a")],
            MinHealthy::Percent(100.0),
            Duration::from_secs(20),
            &quick(),
        )
        .await
        .unwrap_err();
        assert!(
            err.contains("1 of 2 other target(s) healthy, min_healthy needs 2"),
            "{err}"
        );
        assert!(err.contains("nothing was taken out of rotation"), "{err}");
        assert_eq!(started.elapsed().as_secs(), 20);
    }

    #[tokio::test(start_paused = true)]
    async fn until_ok_retries_until_the_app_answers_or_the_bound() {
        let started = Instant::now();
        let mut tries = 0;
        let took = until_ok(Duration::from_secs(30), Duration::from_secs(1), || {
            tries += 1;
            let ok = started.elapsed() >= Duration::from_secs(3);
            async move {
                if ok {
                    Ok(())
                } else {
                    Err("HTTP 503".to_string())
                }
            }
        })
        .await
        .unwrap();
        assert_eq!((took.as_secs(), tries), (3, 4));
        let err = until_ok(Duration::from_secs(5), Duration::from_secs(1), || async {
            Err("refused".to_string())
        })
        .await
        .unwrap_err();
        assert_eq!(err, "gave up after 5s: refused");
    }

    #[tokio::test(start_paused = true)]
    async fn describe_retrying_rides_out_throttling_but_not_forever() {
        let group = SimGroup::new(&["a"], Duration::from_secs(5));
        group.throttle_next(3);
        assert!(
            describe_retrying(&group, Duration::from_secs(60), &quick())
                .await
                .is_ok()
        );
        assert_eq!(group.describe_calls().len(), 4);
        group.fail_next(100);
        let err = describe_retrying(&group, Duration::from_secs(600), &quick())
            .await
            .unwrap_err();
        assert!(matches!(err, TrafficError::Api(_)));
        group.throttle_next(1000);
        let started = Instant::now();
        assert!(
            describe_retrying(&group, Duration::from_secs(30), &quick())
                .await
                .is_err()
        );
        assert!(started.elapsed() <= Duration::from_secs(30));
    }

    #[test]
    fn min_healthy_rounds_up() {
        assert_eq!(MinHealthy::Percent(50.0).required(3), 2);
        assert_eq!(MinHealthy::Percent(0.0).required(3), 0);
        assert_eq!(MinHealthy::Count(2).required(9), 2);
    }
}
