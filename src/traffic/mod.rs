//! Traffic managers: what takes a host out of rotation and puts it back.
//!
//! - [`config`]: the play's `load_balancer:` section, parsed and checked.
//! - [`elbv2`]: ELBv2 target groups through the AWS SDK; [`aws_error`]: what
//!   its errors mean, in one line that says what to do.
//! - [`factory`]: the managers a play's `load_balancer:` section names.
//! - [`haproxy`]: HAProxy's runtime API (drain / maint / ready, `show stat`).
//! - [`wait`]: the bounded, shared polling loops (drain, healthy, capacity),
//!   written against the [`TrafficManager`] trait and tested on a paused
//!   clock with [`sim`], a target group that moves through ELBv2's states.
//!
//! A manager answers for a whole group (a target group, a backend): one
//! [`TrafficManager::describe`] call per poll round covers every in-flight
//! host of the group.

pub mod aws_error;
pub mod config;
pub mod elbv2;
pub mod factory;
pub mod haproxy;
#[cfg(test)]
pub mod sim;
pub mod wait;

use async_trait::async_trait;
use std::collections::HashMap;
use std::time::Duration;

/// What a manager routes to: an EC2 instance (and port) or a HAProxy server.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target {
    pub id: String,
    pub port: Option<u16>,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.port {
            Some(port) => write!(f, "{}:{port}", self.id),
            None => f.write_str(&self.id),
        }
    }
}

/// ELBv2's target states; HAProxy's are mapped onto them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Registered, health checks not passed yet.
    Initial,
    Healthy,
    Unhealthy,
    /// Deregistered, connections still draining.
    Draining,
    UnhealthyDraining,
    /// Not receiving traffic and not draining: out of rotation.
    Unused,
    /// Health checks are disabled or the target's AZ is not enabled.
    Unavailable,
}

impl State {
    /// ELBv2's names (`unhealthy.draining`).
    pub fn parse(name: &str) -> Option<State> {
        Some(match name {
            "initial" => State::Initial,
            "healthy" => State::Healthy,
            "unhealthy" => State::Unhealthy,
            "draining" => State::Draining,
            "unhealthy.draining" => State::UnhealthyDraining,
            "unused" => State::Unused,
            "unavailable" => State::Unavailable,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            State::Initial => "initial",
            State::Healthy => "healthy",
            State::Unhealthy => "unhealthy",
            State::Draining => "draining",
            State::UnhealthyDraining => "unhealthy.draining",
            State::Unused => "unused",
            State::Unavailable => "unavailable",
        }
    }

    pub fn is_draining(self) -> bool {
        matches!(self, State::Draining | State::UnhealthyDraining)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    pub state: State,
    /// ELBv2's reason code (`Target.ResponseCodeMismatch`), HAProxy's check status.
    pub reason: Option<String>,
    /// Connections still open to the target, when the manager knows.
    pub sessions: Option<u64>,
}

impl Health {
    pub fn new(state: State) -> Health {
        Health {
            state,
            reason: None,
            sessions: None,
        }
    }

    pub fn describe(&self) -> String {
        match &self.reason {
            Some(reason) => format!("{} ({reason})", self.state.name()),
            None => self.state.name().to_string(),
        }
    }
}

/// What went wrong, in one line for the user, and the underlying error's
/// full text (an SDK error's debug dump), kept apart for `-vvv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub text: String,
    pub raw: Option<String>,
}

impl From<String> for Message {
    fn from(text: String) -> Message {
        Message { text, raw: None }
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Message {
        Message::from(text.to_string())
    }
}

impl std::fmt::Display for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrafficError {
    /// The API asked us to slow down: back off and retry.
    #[error("throttled: {0}")]
    Throttled(Message),
    /// The group (target group, backend) does not exist.
    #[error("{0}")]
    NotFound(Message),
    /// The target cannot be registered here (unknown instance, wrong VPC…).
    #[error("{0}")]
    InvalidTarget(Message),
    /// Anything else: a 5xx, a refused socket. Retried a bounded number of times.
    #[error("{0}")]
    Api(Message),
    /// The API could not be reached at all (connection refused, DNS, no
    /// answer in time). Retried like [`Api`](Self::Api); when it persists,
    /// the manager is unusable, whatever the target.
    #[error("{0}")]
    Unreachable(Message),
    /// The API cannot be used as configured: no credentials, no region,
    /// credentials rejected, access denied. Not retried: a person must fix
    /// the setup, and no target is to blame.
    #[error("{0}")]
    Setup(Message),
}

impl TrafficError {
    /// Worth retrying after a pause.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            TrafficError::Throttled(_) | TrafficError::Api(_) | TrafficError::Unreachable(_)
        )
    }

    /// The manager cannot be used at all (unreachable, or its setup): not
    /// a verdict on any target.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, TrafficError::Unreachable(_) | TrafficError::Setup(_))
    }

    pub fn message(&self) -> &Message {
        match self {
            TrafficError::Throttled(m)
            | TrafficError::NotFound(m)
            | TrafficError::InvalidTarget(m)
            | TrafficError::Api(m)
            | TrafficError::Unreachable(m)
            | TrafficError::Setup(m) => m,
        }
    }

    /// The underlying error's full text, when there is one (show it at
    /// `-vvv`; the error's own text is the one line for everyone).
    pub fn raw(&self) -> Option<&str> {
        self.message().raw.as_deref()
    }
}

#[async_trait]
pub trait TrafficManager: Send + Sync {
    /// `haproxy backend app`, `target group web-tg`, for messages.
    fn name(&self) -> String;

    /// What identifies the group across runs (its ARN; its socket and
    /// backend): one rollout at a time holds it.
    fn lock_key(&self) -> String;

    /// The command an operator runs to put `target` back by hand.
    fn restore_hint(&self, target: &Target) -> String;

    /// The health of every target the group knows of. A target absent from
    /// the answer is not registered (for draining: done).
    async fn describe(&self) -> Result<HashMap<Target, Health>, TrafficError>;

    /// Stops new traffic to `target`; existing connections drain.
    async fn deregister(&self, target: &Target) -> Result<(), TrafficError>;

    /// Called once `target` has drained (HAProxy: `state maint`).
    async fn drained(&self, target: &Target) -> Result<(), TrafficError> {
        let _ = target;
        Ok(())
    }

    /// Puts `target` back; it takes traffic once healthy.
    async fn register(&self, target: &Target) -> Result<(), TrafficError>;

    /// How long draining may take (ELBv2: the deregistration delay).
    async fn drain_delay(&self) -> Result<Option<Duration>, TrafficError> {
        Ok(None)
    }
}
