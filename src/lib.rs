//! rollout: run Ansible-style playbooks over SSH and roll changes through a
//! fleet behind a load balancer.
//!
//! # Layout
//! - [`yaml`]: YAML parsed into nodes that keep their source location.
//! - [`diag`]: user-facing errors tied to `file:line:col`.
//! - [`playbook`]: the typed playbook model and its loader.
//! - [`plan`]: hosts and `serial` to batches (pure).
//! - [`modules`]: module specs and implementations.

pub mod diag;
pub mod modules;
pub mod plan;
pub mod playbook;
pub mod yaml;
