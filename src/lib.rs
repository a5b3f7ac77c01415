//! rollout: run Ansible-style playbooks over SSH and roll changes through a
//! fleet behind a load balancer.
//!
//! # Layout
//! - [`yaml`]: YAML parsed into nodes that keep their source location.
//! - [`diag`]: user-facing errors tied to `file:line:col`.
//! - [`template`]: Jinja rendering with Ansible's filters and tests.

pub mod diag;
pub mod template;
pub mod yaml;
