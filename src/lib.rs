//! rollout: run Ansible-style playbooks over SSH and roll changes through a
//! fleet behind a load balancer.
//!
//! # Layout
//! Data flows one way, from the command line to the hosts and back out as
//! events; a module imports only modules listed above it here (the
//! walk-through of one task and of one host's lifecycle is
//! `docs/ARCHITECTURE.md`).
//!
//! Shared vocabulary, imported by every layer:
//! - [`core`]: `Vars`, Ansible's booleans, durations, `shell_quote`, the
//!   display of values (imports nothing of ours).
//! - [`vault`]: Ansible Vault: decrypting files and `!vault` values with
//!   the run's passwords, and masking what was decrypted in every output
//!   (imports nothing of ours).
//! - [`yaml`]: YAML parsed into nodes that keep their source location.
//! - [`diag`]: user-facing errors tied to `file:line:col`.
//! - [`events`]: the typed events the engine emits, and their sinks.
//! - [`error`]: the error that ends a run, and its exit code.
//!
//! Input, loaded completely before anything runs:
//! - [`config`]: ansible.cfg and the `ANSIBLE_*` variables, as typed
//!   settings that know where they came from.
//! - [`inventory`]: YAML and INI inventories, patterns, host variables.
//! - [`playbook`]: the typed playbook model with locations, and its loader
//!   (includes, and roles expanded into tasks at load: `playbook::roles`).
//! - [`template`]: the minijinja environment with Ansible's filters, tests
//!   and lookup plugins (run on the controller while a template renders).
//! - [`plan`]: hosts and `serial` → batches (pure).
//!
//! Reaching hosts and load balancers:
//! - [`connection`]: the `Connection` trait, local commands, sudo.
//! - [`ssh`]: the russh transport beneath it (known_hosts, agent, config,
//!   pool, forwarded channels).
//! - [`http`]: HTTP requests made from the host's side of a connection.
//! - [`imds`]: a host's EC2 instance metadata (IMDSv2) through its connection.
//! - [`modules`]: one file per module, one registry row each.
//! - [`traffic`]: the `TrafficManager` trait, ELBv2, HAProxy, the shared
//!   polling loops, and the factory that makes managers from a play's
//!   `load_balancer:` section.
//!
//! Running:
//! - [`lifecycle`]: take a batch out of rotation and put it back (capacity
//!   guard, drain and health waits, keep-out / restore / rollback).
//! - [`state`]: the journal, the group locks, the last run and `--resume`.
//! - [`engine`]: plays → batches → sections → tasks, per-host state; calls
//!   the lifecycle between sections; never prints.
//! - [`output`]: consumers of events (console, live progress, JSON lines,
//!   webhooks), in ansible-playbook's colours (`palette`); `--step`'s
//!   prompt on the terminal.
//! - [`cli`] and [`app`]: the arguments, and the run from loading to the
//!   exit code.

pub mod app;
pub mod cli;
pub mod config;
pub mod connection;
pub mod core;
pub mod diag;
pub mod engine;
pub mod error;
pub mod events;
pub mod http;
pub mod imds;
pub mod inventory;
pub mod lifecycle;
pub mod modules;
pub mod output;
pub mod plan;
pub mod playbook;
pub mod ssh;
pub mod state;
pub mod template;
pub mod traffic;
pub mod vault;
pub mod yaml;
