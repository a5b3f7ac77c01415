//! Modules: what each accepts ([`spec`]) and how each runs (one file each).
//!
//! Each module's file exports its row of the [`registry`] (its spec and its
//! entry point); that one table serves lookup, validation and dispatch.
//!
//! A module gets its rendered arguments and a [`ModuleContext`] (the host's
//! connection, the variable scope, check/diff mode) and returns a
//! [`TaskResult`]. Modules never print; the engine turns results into events.

pub mod accounts;
pub mod apt;
pub mod apt_repository;
pub mod archive;
pub mod assert;
pub mod async_job;
pub mod async_status;
pub mod authorized_key;
pub mod blockinfile;
pub mod command;
pub mod copy;
pub mod cron;
pub mod debug;
pub mod dnf;
pub mod ec2_metadata_facts;
pub mod elb_target;
pub mod fail;
pub mod fetch;
pub mod file;
pub mod get_url;
pub mod git;
pub mod group;
pub mod haproxy;
pub mod hostname;
pub mod include_vars;
pub mod known_hosts;
pub mod lineinfile;
pub mod mode;
pub mod mount;
pub mod package;
pub mod package_facts;
pub mod pause;
pub mod ping;
pub mod py_regex;
pub mod raw;
pub mod reboot;
pub mod registry;
pub mod remote_file;
pub mod replace;
pub mod script;
pub mod service;
pub mod service_facts;
pub mod set_fact;
pub mod setup;
pub mod slurp;
pub mod spec;
pub mod stat;
pub mod sysctl;
pub mod systemd;
pub mod template;
pub mod timezone;
pub mod unarchive;
pub mod uri;
pub mod user;
pub mod user_ssh_key;
pub mod wait_for;
pub mod wait_for_connection;
pub mod yum_repository;

pub use registry::{run, self_rendered_params};

use crate::connection::Connection;
use crate::template::Templar;
use serde_json::Value as Json;
use std::time::Duration;

pub use crate::core::Vars;

/// A module's outcome, shaped like Ansible's result dictionary so that
/// `register` gives users the fields they expect (`rc`, `stdout`, `changed`…).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskResult {
    pub changed: bool,
    pub failed: bool,
    pub skipped: bool,
    pub unreachable: bool,
    pub msg: Option<String>,
    /// Module-specific fields.
    pub data: Vars,
}

impl TaskResult {
    pub fn ok() -> Self {
        TaskResult::default()
    }

    pub fn changed() -> Self {
        TaskResult {
            changed: true,
            ..Default::default()
        }
    }

    pub fn failed(msg: impl Into<String>) -> Self {
        TaskResult {
            failed: true,
            msg: Some(msg.into()),
            ..Default::default()
        }
    }

    pub fn skipped(reason: impl Into<String>) -> Self {
        let mut r = TaskResult {
            skipped: true,
            ..Default::default()
        };
        r.data
            .insert("skip_reason".into(), Json::String(reason.into()));
        r
    }

    pub fn unreachable(msg: impl Into<String>) -> Self {
        TaskResult {
            unreachable: true,
            msg: Some(msg.into()),
            ..Default::default()
        }
    }

    pub fn with(mut self, key: &str, value: impl Into<Json>) -> Self {
        self.data.insert(key.to_string(), value.into());
        self
    }

    /// Adds to the result's `warnings`, which the console prints as
    /// `[WARNING]:` lines above the host's line.
    pub fn with_warning(mut self, message: impl Into<String>) -> Self {
        let warnings = (self.data)
            .entry("warnings")
            .or_insert_with(|| Json::Array(Vec::new()));
        if let Json::Array(list) = warnings {
            list.push(Json::String(message.into()));
        }
        self
    }

    pub fn with_msg(mut self, msg: impl Into<String>) -> Self {
        self.msg = Some(msg.into());
        self
    }

    /// A transport error as the task's outcome: a lost connection makes the
    /// host unreachable, anything else fails the task.
    pub fn from_connection(error: crate::connection::ConnectionError) -> Self {
        use crate::connection::ConnectionError::*;
        match error {
            Unreachable(msg) => TaskResult::unreachable(msg),
            Failed(msg) | ForwardingRefused(msg) => TaskResult::failed(msg),
        }
    }

    /// The status shown for this result.
    pub fn status(&self) -> crate::events::Status {
        use crate::events::Status;
        if self.unreachable {
            Status::Unreachable
        } else if self.failed {
            Status::Failed
        } else if self.skipped {
            Status::Skipped
        } else if self.changed {
            Status::Changed
        } else {
            Status::Ok
        }
    }

    /// The dictionary a `register` receives.
    pub fn to_json(&self) -> Json {
        let mut map = self.data.clone();
        map.insert("changed".into(), Json::Bool(self.changed));
        if self.failed {
            map.insert("failed".into(), Json::Bool(true));
        } else {
            map.entry("failed").or_insert(Json::Bool(false));
        }
        if self.skipped {
            map.insert("skipped".into(), Json::Bool(true));
        }
        if self.unreachable {
            map.insert("unreachable".into(), Json::Bool(true));
        }
        if let Some(msg) = &self.msg {
            map.insert("msg".into(), Json::String(msg.clone()));
        }
        Json::Object(map)
    }
}

pub struct ModuleContext<'a> {
    pub host: &'a str,
    pub conn: &'a dyn Connection,
    pub templar: &'a Templar,
    /// The host's variables, for modules that evaluate expressions.
    pub scope: &'a minijinja::Value,
    pub check_mode: bool,
    pub diff: bool,
    pub verbosity: u8,
    /// The play's base directory (the playbook's directory): relative `src`
    /// of `copy` resolves under `<base_dir>/files/` then `<base_dir>/`, of
    /// `template` under `<base_dir>/templates/` then `<base_dir>/`.
    pub base_dir: &'a std::path::Path,
    /// A role's task: its role's directory, searched before `base_dir`
    /// (`<role>/files/`, `<role>/templates/`, then `<role>/`).
    pub role_dir: Option<&'a std::path::Path>,
}

/// A host variable rendered as text (`imds_endpoint`), if it is set.
pub fn host_var_str(ctx: &ModuleContext<'_>, name: &str) -> Option<String> {
    let value = ctx.scope.get_attr(name).ok()?;
    if value.is_undefined() || value.is_none() {
        return None;
    }
    Some(value.to_string())
}

/// A string argument, if present and not null.
pub fn arg_str<'a>(args: &'a Vars, key: &str) -> Option<&'a str> {
    args.get(key).and_then(Json::as_str)
}

/// A duration argument in seconds (`default` when absent), through the one
/// checked conversion: the spec refused bad values already, and a value
/// that slips past it is still a task failure, never a panic.
pub fn arg_secs(args: &Vars, key: &str, default: f64) -> Result<Duration, String> {
    let secs = args.get(key).and_then(Json::as_f64).unwrap_or(default);
    crate::core::duration_from_secs(secs).map_err(|e| format!("{key}: {e}"))
}

/// A list argument as strings (a comma-separated string, as Ansible
/// accepts it, is split); empty when absent.
pub fn arg_list(args: &Vars, key: &str) -> Vec<String> {
    match args.get(key) {
        Some(Json::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            .collect(),
        Some(Json::String(s)) => s.split(',').map(|s| s.trim().to_string()).collect(),
        _ => Vec::new(),
    }
}

pub fn arg_bool(args: &Vars, key: &str, default: bool) -> bool {
    args.get(key).and_then(Json::as_bool).unwrap_or(default)
}
