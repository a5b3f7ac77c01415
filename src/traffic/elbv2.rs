//! ELBv2 target groups through aws-sdk-elasticloadbalancingv2, with the
//! standard AWS configuration chain (profiles, environment, SSO,
//! `AWS_ENDPOINT_URL*`). The region comes from the target group's ARN, so a
//! play may span regions. The SDK's own retries are off: the lifecycle's
//! poller backs off on throttling itself, and one shared [`Pace`] keeps all
//! Describe calls of a run under ELBv2's 10 per second. What its errors
//! mean to a person is [`super::aws_error`]'s.

use super::aws_error::{Call, classify, no_such_group};
use super::{Health, State, Target, TrafficError, TrafficManager};
use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::types::TargetDescription;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::{Instant, sleep, sleep_until};

/// ELBv2 refills Describe* tokens at 10 per second.
pub const DESCRIBE_GAP: Duration = Duration::from_millis(100);
/// Calls that may go at once before the pace applies: well under the
/// API's own burst of 40, which other clients of the account share.
pub const DESCRIBE_BURST: u32 = 5;
/// One-off calls are tried this many times on throttling or 5xx.
const MUTATION_ATTEMPTS: u32 = 6;

/// A token bucket shared by every caller: up to `burst` calls at once,
/// then one per `gap` (the API's refill rate), so a few calls in a row (a
/// capacity check, a deregistration's bound, its first poll) do not each
/// wait for a slot.
pub struct Pace {
    /// When the bucket would be full again (a GCRA "theoretical arrival time").
    full_at: Mutex<Option<Instant>>,
    gap: Duration,
    burst: u32,
}

impl Pace {
    pub fn new(gap: Duration, burst: u32) -> Pace {
        Pace {
            full_at: Mutex::new(None),
            gap,
            burst: burst.max(1),
        }
    }

    /// Waits for this caller's slot.
    pub async fn wait(&self) {
        let slot = {
            let mut full_at = self.full_at.lock().await;
            let now = Instant::now();
            let due = full_at.map_or(now, |t| t.max(now));
            *full_at = Some(due + self.gap);
            due.checked_sub(self.gap * (self.burst - 1))
                .map_or(now, |slot| slot.max(now))
        };
        sleep_until(slot).await;
    }
}

pub struct Elbv2 {
    client: Client,
    arn: String,
    /// The name for messages (`web-tg`).
    name: String,
    /// Where the calls go, for messages ("the ELBv2 API at URL").
    api: String,
    pace: Arc<Pace>,
}

/// `arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID` → REGION.
pub fn region_of(arn: &str) -> Option<&str> {
    let mut parts = arn.split(':');
    (parts.next() == Some("arn")).then_some(())?;
    let region = parts.nth(2)?;
    (!region.is_empty()).then_some(region)
}

fn name_of(arn: &str) -> &str {
    arn.split('/').nth(1).unwrap_or(arn)
}

impl Elbv2 {
    /// Connects to the target group `group` (an ARN, or a name looked up
    /// in the default region) through the standard AWS configuration.
    pub async fn connect(group: &str, pace: Arc<Pace>) -> Result<Elbv2, TrafficError> {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .retry_config(aws_config::retry::RetryConfig::disabled());
        if let Some(region) = region_of(group) {
            loader = loader.region(aws_config::Region::new(region.to_string()));
        }
        let config = loader.load().await;
        let Some(region) = config.region() else {
            return Err(TrafficError::Setup(
                format!(
                    "no AWS region for target group {group}: set AWS_REGION (or use AWS_PROFILE \
                     with a region), or give the target group's ARN, which names its region"
                )
                .into(),
            ));
        };
        let api = match config.endpoint_url() {
            Some(url) => format!("the ELBv2 API at {url}"),
            None => format!("the ELBv2 API in {region}"),
        };
        let client = Client::new(&config);
        // Looked up even when given as an ARN: a group that does not exist
        // stops the play before any of its tasks run.
        let call = Call {
            action: "DescribeTargetGroups",
            resource: group,
            api: &api,
        };
        let found = retrying(|| async {
            pace.wait().await;
            let lookup = client.describe_target_groups();
            let lookup = if group.starts_with("arn:") {
                lookup.target_group_arns(group)
            } else {
                lookup.names(group)
            };
            lookup.send().await.map_err(|e| classify(e, call))
        })
        .await?;
        let arn = found
            .target_groups()
            .first()
            .and_then(|tg| tg.target_group_arn())
            .map(str::to_string)
            .ok_or_else(|| TrafficError::NotFound(no_such_group(group, &api).into()))?;
        Ok(Elbv2 {
            name: name_of(&arn).to_string(),
            client,
            arn,
            api,
            pace,
        })
    }

    /// Describes a call on this group, for its errors.
    fn call(&self, action: &'static str) -> Call<'_> {
        Call {
            action,
            resource: &self.arn,
            api: &self.api,
        }
    }

    pub fn arn(&self) -> &str {
        &self.arn
    }

    fn description(target: &Target) -> TargetDescription {
        TargetDescription::builder()
            .id(&target.id)
            .set_port(target.port.map(i32::from))
            .build()
    }

    async fn mutate(&self, target: &Target, register: bool) -> Result<(), TrafficError> {
        retrying(|| async {
            let description = Self::description(target);
            if register {
                self.client
                    .register_targets()
                    .target_group_arn(&self.arn)
                    .targets(description)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| classify(e, self.call("RegisterTargets")))
            } else {
                self.client
                    .deregister_targets()
                    .target_group_arn(&self.arn)
                    .targets(description)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| classify(e, self.call("DeregisterTargets")))
            }
        })
        .await
    }
}

/// Runs a one-off call (lookups, Register/Deregister) with a bounded
/// back-off on throttling and 5xx; the poller has its own.
async fn retrying<T, F, Fut>(mut call: F) -> Result<T, TrafficError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, TrafficError>>,
{
    let mut pause = Duration::from_millis(500);
    let mut attempt = 1;
    loop {
        match call().await {
            Err(e) if e.is_transient() && attempt < MUTATION_ATTEMPTS => {
                attempt += 1;
                sleep(pause).await;
                pause *= 2;
            }
            Err(TrafficError::Throttled(m)) => {
                return Err(TrafficError::Throttled(super::Message {
                    text: format!(
                        "{}, still after {MUTATION_ATTEMPTS} attempts: the account's API rate is \
                         shared with every other client of it; run again when they are quieter",
                        m.text
                    ),
                    raw: m.raw,
                }));
            }
            other => return other,
        }
    }
}

#[async_trait]
impl TrafficManager for Elbv2 {
    fn name(&self) -> String {
        format!("target group {}", self.name)
    }

    fn lock_key(&self) -> String {
        self.arn.clone()
    }

    fn restore_hint(&self, target: &Target) -> String {
        let port = target
            .port
            .map(|p| format!(",Port={p}"))
            .unwrap_or_default();
        format!(
            "aws elbv2 register-targets --target-group-arn {} --targets Id={}{port}",
            self.arn, target.id
        )
    }

    async fn describe(&self) -> Result<HashMap<Target, Health>, TrafficError> {
        self.pace.wait().await;
        let output = self
            .client
            .describe_target_health()
            .target_group_arn(&self.arn)
            .send()
            .await
            .map_err(|e| classify(e, self.call("DescribeTargetHealth")))?;
        let mut health = HashMap::new();
        for d in output.target_health_descriptions() {
            let Some(target) = d.target() else { continue };
            let Some(th) = d.target_health() else {
                continue;
            };
            let state = th
                .state()
                .and_then(|s| State::parse(s.as_str()))
                .unwrap_or(State::Unavailable);
            let target = Target {
                id: target.id().unwrap_or_default().to_string(),
                port: target.port().and_then(|p| u16::try_from(p).ok()),
            };
            let reason = th.reason().map(|r| match th.description() {
                Some(text) => format!("{}: {text}", r.as_str()),
                None => r.as_str().to_string(),
            });
            health.insert(
                target,
                Health {
                    state,
                    reason,
                    sessions: None,
                },
            );
        }
        Ok(health)
    }

    async fn deregister(&self, target: &Target) -> Result<(), TrafficError> {
        self.mutate(target, false).await
    }

    async fn register(&self, target: &Target) -> Result<(), TrafficError> {
        self.mutate(target, true).await
    }

    async fn drain_delay(&self) -> Result<Option<Duration>, TrafficError> {
        let output = retrying(|| async {
            self.pace.wait().await;
            self.client
                .describe_target_group_attributes()
                .target_group_arn(&self.arn)
                .send()
                .await
                .map_err(|e| classify(e, self.call("DescribeTargetGroupAttributes")))
        })
        .await?;
        Ok(output
            .attributes()
            .iter()
            .find(|a| a.key() == Some("deregistration_delay.timeout_seconds"))
            .and_then(|a| a.value())
            .and_then(|v| v.parse().ok())
            .map(Duration::from_secs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_and_names_from_arns() {
        let arn =
            "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/6d0ecf831eec9f09";
        assert_eq!(region_of(arn), Some("eu-west-1"));
        assert_eq!(name_of(arn), "web");
        assert_eq!(region_of("web-tg"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn pace_keeps_callers_under_the_rate_after_a_small_burst() {
        let pace = Arc::new(Pace::new(DESCRIBE_GAP, DESCRIBE_BURST));
        let started = Instant::now();
        let calls = futures::future::join_all((0..25).map(|_| {
            let pace = pace.clone();
            async move {
                pace.wait().await;
                started.elapsed()
            }
        }))
        .await;
        let mut calls = calls;
        calls.sort();
        // 25 callers at once: the first DESCRIBE_BURST go at once, then
        // one per gap, so at most DESCRIBE_BURST + 10 in any second.
        let burst = DESCRIBE_BURST as usize;
        assert!(calls[burst - 1].is_zero(), "{calls:?}");
        assert_eq!(calls[burst], DESCRIBE_GAP, "{calls:?}");
        for window in calls.windows(burst + 10 + 1) {
            assert!(
                window[burst + 10] - window[0] >= Duration::from_secs(1),
                "{calls:?}"
            );
        }
        for pair in calls[burst..].windows(2) {
            assert_eq!(pair[1] - pair[0], DESCRIBE_GAP, "{calls:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn pace_refills_while_idle() {
        let pace = Pace::new(DESCRIBE_GAP, 3);
        let started = Instant::now();
        for _ in 0..3 {
            pace.wait().await;
        }
        assert!(started.elapsed().is_zero());
        pace.wait().await;
        assert_eq!(started.elapsed(), DESCRIBE_GAP);
        // Idle for a while: the bucket is full again.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let idle = Instant::now();
        for _ in 0..3 {
            pace.wait().await;
        }
        assert!(idle.elapsed().is_zero());
    }
}
