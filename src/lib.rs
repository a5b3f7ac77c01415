//! rollout: run Ansible-style playbooks over SSH and roll changes through a
//! fleet behind a load balancer.
//!
//! # Layout
//! - [`yaml`]: YAML parsed into nodes that keep their source location.
//! - [`diag`]: user-facing errors tied to `file:line:col`.
//! - [`inventory`]: hosts, groups, their variables, and host patterns.

pub mod diag;
pub mod inventory;
pub mod yaml;
