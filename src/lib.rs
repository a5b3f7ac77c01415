//! rollout: run Ansible-style playbooks over SSH and roll changes through a
//! fleet behind a load balancer.
//!
//! # Layout
//! Data flows one way: [`cli`] → [`app`] loads the [`inventory`] and the
//! [`playbook`] → [`plan`] cuts batches → [`engine`] runs tasks through
//! [`modules`] over a [`connection`] → [`events`] → [`output`].
//!
//! - [`core`]: shared vocabulary (the variable map, booleans, durations,
//!   shell quoting, value display); imports nothing of ours.
//! - [`yaml`]: YAML parsed into nodes that keep their source location.
//! - [`diag`]: user-facing errors tied to `file:line:col`.
//! - [`http`]: HTTP requests made from the host's side of a connection.
//! - [`imds`]: a host's EC2 instance metadata (IMDSv2) through its connection.
//! - [`traffic`]: load balancers (ELBv2, HAProxy) and the lifecycle's waits.
//! - [`template`]: the minijinja environment with Ansible's filters and tests.

pub mod app;
pub mod cli;
pub mod connection;
pub mod core;
pub mod diag;
pub mod engine;
pub mod events;
pub mod http;
pub mod imds;
pub mod inventory;
pub mod modules;
pub mod output;
pub mod plan;
pub mod playbook;
pub mod ssh;
pub mod template;
pub mod traffic;
pub mod yaml;
