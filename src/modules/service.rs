//! `service`: start, stop, restart or reload a service and enable it at
//! boot, whatever the init system. On a systemd host it runs `systemd`
//! (src/modules/systemd.rs), as Ansible's `service` action does.
//!
//! One probe finds the init system — systemd when `/run/systemd/system`
//! exists, else the `service` command, else `/etc/init.d/NAME` — and the
//! service's current state, so `started`/`stopped` change nothing when the
//! service is already so.

use super::registry::Module;
use super::spec::{Kind, ModuleSpec, aliases, choices, p, required};
use super::{ModuleContext, TaskResult, Vars, arg_str};
use crate::connection::ExecOutput;
use crate::core::shell_quote;
use serde_json::Value as Json;

/// `service`: what it accepts and how it runs.
pub const SERVICE: Module = Module::new(
    ModuleSpec::new(
        "service",
        &[
            required(aliases(p("name", Kind::Str), &["service", "unit"])),
            choices(
                p("state", Kind::Str),
                &["started", "stopped", "restarted", "reloaded"],
            ),
            p("enabled", Kind::Bool),
        ],
    ),
    |args, ctx| Box::pin(run(args, ctx)),
);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Manager {
    Systemd,
    Service,
    InitD,
}

impl Manager {
    fn name(self) -> &'static str {
        match self {
            Manager::Systemd => "systemd",
            Manager::Service => "service",
            Manager::InitD => "sysvinit",
        }
    }
}

/// What the probe learned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub manager: Manager,
    pub active: bool,
    pub enabled: bool,
}

/// The shell line that detects the init system and the service's state: it
/// prints `MANAGER ACTIVE_RC ENABLED_RC`.
pub fn probe_command(name: &str) -> String {
    let q = shell_quote(name);
    let initd = shell_quote(&format!("/etc/init.d/{name}"));
    format!(
        "if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then \
           systemctl is-active --quiet {q}; a=$?; systemctl is-enabled --quiet {q}; e=$?; echo systemd $a $e; \
         else \
           ls /etc/rc[2345].d/S??{q} >/dev/null 2>&1; e=$?; \
           if command -v service >/dev/null 2>&1; then service {q} status >/dev/null 2>&1; echo service $? $e; \
           elif [ -x {initd} ]; then {initd} status >/dev/null 2>&1; echo sysvinit $? $e; \
           else echo none 1 1; fi; \
         fi"
    )
}

pub fn parse_probe(stdout: &str) -> Result<Probe, String> {
    let mut words = stdout.split_whitespace();
    let manager = match words.next() {
        Some("systemd") => Manager::Systemd,
        Some("service") => Manager::Service,
        Some("sysvinit") => Manager::InitD,
        _ => return Err("no service manager found (no systemd, 'service' or /etc/init.d)".into()),
    };
    let active = words.next() == Some("0");
    let enabled = words.next() == Some("0");
    Ok(Probe {
        manager,
        active,
        enabled,
    })
}

/// The command that performs `action` (start, stop, restart, reload).
pub fn action_command(manager: Manager, name: &str, action: &str) -> String {
    let q = shell_quote(name);
    match manager {
        Manager::Systemd => format!("systemctl {action} {q}"),
        Manager::Service => format!("service {q} {action}"),
        Manager::InitD => format!("{} {action}", shell_quote(&format!("/etc/init.d/{name}"))),
    }
}

/// The command that enables or disables the service at boot.
pub fn enable_command(manager: Manager, name: &str, enable: bool) -> String {
    let q = shell_quote(name);
    match (manager, enable) {
        (Manager::Systemd, true) => format!("systemctl enable {q}"),
        (Manager::Systemd, false) => format!("systemctl disable {q}"),
        (_, true) => format!(
            "if command -v update-rc.d >/dev/null 2>&1; then update-rc.d {q} defaults; \
             else chkconfig {q} on; fi"
        ),
        (_, false) => format!(
            "if command -v update-rc.d >/dev/null 2>&1; then update-rc.d {q} disable; \
             else chkconfig {q} off; fi"
        ),
    }
}

/// The commands a task needs, in order, given the probe.
pub fn plan(
    probe: &Probe,
    name: &str,
    state: Option<&str>,
    enabled: Option<bool>,
) -> Result<Vec<String>, String> {
    let mut steps = Vec::new();
    match state {
        None => {}
        Some("started") if !probe.active => {
            steps.push(action_command(probe.manager, name, "start"))
        }
        Some("stopped") if probe.active => steps.push(action_command(probe.manager, name, "stop")),
        Some("started" | "stopped") => {}
        Some("restarted") => steps.push(action_command(probe.manager, name, "restart")),
        Some("reloaded") => steps.push(action_command(probe.manager, name, "reload")),
        Some(other) => return Err(format!("unsupported state '{other}'")),
    }
    if let Some(want) = enabled
        && want != probe.enabled
    {
        steps.push(enable_command(probe.manager, name, want));
    }
    Ok(steps)
}

async fn exec(ctx: &ModuleContext<'_>, line: &str) -> Result<ExecOutput, TaskResult> {
    super::remote_file::exec(ctx, line, None).await
}

pub async fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    let state = arg_str(args, "state");
    let enabled = args.get("enabled").and_then(Json::as_bool);
    // `name` is required by the spec.
    let name = arg_str(args, "name").unwrap_or_default();
    if state.is_none() && enabled.is_none() {
        return TaskResult::failed("give at least one of 'state' or 'enabled'");
    }
    let probe = match exec(ctx, &probe_command(name)).await {
        Ok(out) => match parse_probe(&String::from_utf8_lossy(&out.stdout)) {
            Ok(probe) => probe,
            Err(msg) => return TaskResult::failed(msg),
        },
        Err(result) => return result,
    };
    // Ansible's `service` action hands a systemd host to `systemd`.
    if probe.manager == Manager::Systemd {
        return super::systemd::run(args, ctx).await;
    }
    let steps = match plan(&probe, name, state, enabled) {
        Ok(steps) => steps,
        Err(msg) => return TaskResult::failed(msg),
    };
    let mut result = if steps.is_empty() {
        TaskResult::ok()
    } else {
        TaskResult::changed()
    }
    .with("name", name)
    .with("manager", probe.manager.name());
    let final_state = match state {
        Some("stopped") => "stopped",
        Some(_) => "started",
        None if probe.active => "started",
        None => "stopped",
    };
    result = result
        .with("state", final_state)
        .with("enabled", enabled.unwrap_or(probe.enabled));
    if ctx.check_mode {
        return result;
    }
    for step in &steps {
        match exec(ctx, step).await {
            Ok(out) if out.rc == 0 => {}
            Ok(out) => {
                let mut msg = String::from_utf8_lossy(&out.stderr).trim().to_string();
                if msg.is_empty() {
                    msg = String::from_utf8_lossy(&out.stdout).trim().to_string();
                }
                return TaskResult::failed(format!("`{step}` failed (rc {}): {msg}", out.rc))
                    .with("name", name)
                    .with("rc", out.rc);
            }
            Err(result) => return result,
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(manager: Manager, active: bool, enabled: bool) -> Probe {
        Probe {
            manager,
            active,
            enabled,
        }
    }

    #[test]
    fn systemctl_commands() {
        let p = probe(Manager::Systemd, false, false);
        assert_eq!(
            plan(&p, "nginx", Some("started"), Some(true)).unwrap(),
            vec!["systemctl start nginx", "systemctl enable nginx"]
        );
        let p = probe(Manager::Systemd, true, true);
        assert!(
            plan(&p, "nginx", Some("started"), Some(true))
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            plan(&p, "my svc", Some("stopped"), Some(false)).unwrap(),
            vec!["systemctl stop 'my svc'", "systemctl disable 'my svc'"]
        );
        assert_eq!(
            plan(&p, "nginx", Some("reloaded"), None).unwrap(),
            vec!["systemctl reload nginx"]
        );
    }

    #[test]
    fn sysv_commands() {
        let p = probe(Manager::Service, true, false);
        assert_eq!(
            plan(&p, "ntp", Some("restarted"), None).unwrap(),
            vec!["service ntp restart"]
        );
        let p = probe(Manager::InitD, false, false);
        assert_eq!(
            plan(&p, "ntp", Some("started"), None).unwrap(),
            vec!["/etc/init.d/ntp start"]
        );
    }

    #[test]
    fn probe_parsing() {
        assert_eq!(
            parse_probe("systemd 0 1\n").unwrap(),
            probe(Manager::Systemd, true, false)
        );
        assert_eq!(
            parse_probe("service 3 0\n").unwrap(),
            probe(Manager::Service, false, true)
        );
        assert!(parse_probe("none 1 1").is_err());
        assert!(probe_command("a;b").contains("is-active --quiet 'a;b'"));
    }
}
