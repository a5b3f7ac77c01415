//! A simulated ELBv2 target group for the paused-clock tests of
//! [`super::wait`] and the lifecycle. It behaves as a real one does:
//! registration goes `initial` → `healthy` (or `unhealthy`) once the first
//! health checks ran; deregistration goes `draining` → gone when no
//! connection is left or the deregistration delay passes; the API can be
//! made to throttle or fail, and every describe call is timed.

use super::{Health, State, Target, TrafficError, TrafficManager};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone)]
struct SimTarget {
    registered_at: Option<Instant>,
    deregistered_at: Option<Instant>,
    app_healthy: bool,
    heal_at: Option<Instant>,
    sessions: u64,
    close_sessions_at: Option<Instant>,
}

#[derive(Debug)]
struct Inner {
    targets: HashMap<Target, SimTarget>,
    check_delay: Duration,
    throttle: u32,
    fail: u32,
    /// Register/deregister calls to refuse, then to hold for a while.
    refuse_changes: u32,
    hold_changes: Option<Duration>,
    calls: Vec<Duration>,
    log: Vec<String>,
}

pub struct SimGroup {
    name: String,
    started: Instant,
    dereg_delay: Duration,
    inner: Mutex<Inner>,
}

impl SimGroup {
    /// A group whose `ids` are registered and healthy.
    pub fn new(ids: &[&str], dereg_delay: Duration) -> SimGroup {
        let now = Instant::now();
        let long_ago = now.checked_sub(Duration::from_secs(3600)).unwrap_or(now);
        let targets = ids
            .iter()
            .map(|id| {
                let target = Target {
                    id: id.to_string(),
                    port: None,
                };
                let state = SimTarget {
                    registered_at: Some(long_ago),
                    deregistered_at: None,
                    app_healthy: true,
                    heal_at: None,
                    sessions: 0,
                    close_sessions_at: None,
                };
                (target, state)
            })
            .collect();
        SimGroup {
            name: "sim".into(),
            started: now,
            dereg_delay,
            inner: Mutex::new(Inner {
                targets,
                check_delay: Duration::from_secs(2),
                throttle: 0,
                fail: 0,
                refuse_changes: 0,
                hold_changes: None,
                calls: Vec::new(),
                log: Vec::new(),
            }),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        f(&mut self.inner.lock().expect("sim lock"))
    }

    fn with_target(&self, target: &Target, f: impl FnOnce(&mut SimTarget)) {
        self.with(|i| f(i.targets.get_mut(target).expect("a known target")));
    }

    pub fn set_sessions(&self, target: &Target, n: u64) {
        self.with_target(target, |t| t.sessions = n);
    }

    pub fn close_sessions_at(&self, target: &Target, after: Duration) {
        let at = self.started + after;
        self.with_target(target, |t| t.close_sessions_at = Some(at));
    }

    pub fn set_app_healthy(&self, target: &Target, healthy: bool) {
        self.with_target(target, |t| t.app_healthy = healthy);
    }

    pub fn heal_at(&self, target: &Target, after: Duration) {
        let at = self.started + after;
        self.with_target(target, |t| t.heal_at = Some(at));
    }

    /// How long from registering until the health checks give a verdict.
    pub fn set_check_delay(&self, delay: Duration) {
        self.with(|i| i.check_delay = delay);
    }

    pub fn throttle_next(&self, n: u32) {
        self.with(|i| i.throttle = n);
    }

    /// The group's name in messages (`target group NAME`).
    pub fn named(mut self, name: &str) -> SimGroup {
        self.name = name.to_string();
        self
    }

    /// The next `n` register/deregister calls fail with an API error.
    pub fn refuse_changes(&self, n: u32) {
        self.with(|i| i.refuse_changes = n);
    }

    /// Register/deregister calls take `delay` to answer (a slow API).
    pub fn hold_changes(&self, delay: Duration) {
        self.with(|i| i.hold_changes = Some(delay));
    }

    /// Applies the change knobs to one register/deregister call.
    async fn change_call(&self) -> Result<(), TrafficError> {
        if let Some(delay) = self.with(|i| i.hold_changes) {
            tokio::time::sleep(delay).await;
        }
        self.with(|i| match i.refuse_changes {
            0 => Ok(()),
            _ => {
                i.refuse_changes -= 1;
                Err(TrafficError::Api("HTTP 400: ValidationError".into()))
            }
        })
    }

    pub fn fail_next(&self, n: u32) {
        self.with(|i| i.fail = n);
    }

    /// When each describe call came, from the group's creation.
    pub fn describe_calls(&self) -> Vec<Duration> {
        self.with(|i| i.calls.clone())
    }

    /// `register a`, `deregister a`, in call order.
    pub fn log(&self) -> Vec<String> {
        self.with(|i| i.log.clone())
    }
}

fn health_of(
    t: &SimTarget,
    now: Instant,
    check_delay: Duration,
    dereg_delay: Duration,
) -> Option<Health> {
    if let Some(since) = t.deregistered_at {
        let open = match t.close_sessions_at {
            Some(at) if at <= now => 0,
            _ => t.sessions,
        };
        // ELBv2 completes a deregistration at once when nothing is in flight.
        if open == 0 || now - since >= dereg_delay {
            return None;
        }
        return Some(Health {
            state: State::Draining,
            reason: Some("Target.DeregistrationInProgress".into()),
            sessions: Some(open),
        });
    }
    let since = t.registered_at?;
    let healthy = t.app_healthy || t.heal_at.is_some_and(|at| at <= now);
    let (state, reason) = if now - since < check_delay {
        (State::Initial, Some("Elb.RegistrationInProgress"))
    } else if healthy {
        (State::Healthy, None)
    } else {
        (State::Unhealthy, Some("Target.ResponseCodeMismatch"))
    };
    Some(Health {
        state,
        reason: reason.map(str::to_string),
        sessions: None,
    })
}

#[async_trait]
impl TrafficManager for SimGroup {
    fn name(&self) -> String {
        format!("target group {}", self.name)
    }

    fn lock_key(&self) -> String {
        "sim".into()
    }

    fn restore_hint(&self, target: &Target) -> String {
        format!("sim register {target}")
    }

    async fn describe(&self) -> Result<HashMap<Target, Health>, TrafficError> {
        let now = Instant::now();
        let elapsed = now - self.started;
        let dereg_delay = self.dereg_delay;
        self.with(|i| {
            i.calls.push(elapsed);
            if i.throttle > 0 {
                i.throttle -= 1;
                return Err(TrafficError::Throttled("Rate exceeded".into()));
            }
            if i.fail > 0 {
                i.fail -= 1;
                return Err(TrafficError::Api("HTTP 500: InternalFailure".into()));
            }
            let check_delay = i.check_delay;
            Ok(i.targets
                .iter()
                .filter_map(|(target, t)| {
                    health_of(t, now, check_delay, dereg_delay).map(|h| (target.clone(), h))
                })
                .collect())
        })
    }

    async fn deregister(&self, target: &Target) -> Result<(), TrafficError> {
        self.change_call().await?;
        let now = Instant::now();
        self.with(|i| {
            i.log.push(format!("deregister {target}"));
            let t = i.targets.get_mut(target).ok_or_else(|| {
                TrafficError::InvalidTarget(format!("{target} is not a target").into())
            })?;
            if t.registered_at.take().is_some() {
                t.deregistered_at = Some(now);
            }
            Ok(())
        })
    }

    async fn register(&self, target: &Target) -> Result<(), TrafficError> {
        self.change_call().await?;
        let now = Instant::now();
        self.with(|i| {
            i.log.push(format!("register {target}"));
            let t = i.targets.get_mut(target).ok_or_else(|| {
                TrafficError::InvalidTarget(format!("{target} is not a target").into())
            })?;
            // Registering a draining target cancels the drain, as ELBv2 does.
            t.deregistered_at = None;
            t.registered_at.get_or_insert(now);
            Ok(())
        })
    }

    async fn drain_delay(&self) -> Result<Option<Duration>, TrafficError> {
        Ok(Some(self.dereg_delay))
    }
}
