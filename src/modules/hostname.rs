//! `hostname`: the host's running and permanent names, as Ansible's
//! `hostname` sets them on Linux: `hostnamectl` where systemd runs,
//! otherwise `/etc/hostname` (and, unlike Ansible's Debian strategy, the
//! running name too, with `hostname NAME`, so the change is live without a
//! reboot). `use:` picks a strategy; the non-Linux ones are refused.

use super::accounts::run_tool;
use super::registry::Module;
use super::spec::{Kind, ModuleSpec, choices, p, required};
use super::{ModuleContext, TaskResult, Vars, arg_str};
use crate::core::shell_quote;
use serde_json::json;

pub const MODULE: Module = Module::new(
    ModuleSpec::new(
        "hostname",
        &[
            required(p("name", Kind::Str)),
            choices(
                p("use", Kind::Str),
                &[
                    "alpine", "debian", "freebsd", "generic", "macos", "macosx", "darwin",
                    "openbsd", "openrc", "redhat", "sles", "solaris", "systemd",
                ],
            ),
        ],
    ),
    |args, ctx| Box::pin(run(args, ctx)),
);

const FILE: &str = "/etc/hostname";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// `hostnamectl` (Ansible's `systemd`, and its `debian`).
    Systemd,
    /// `/etc/hostname` and the `hostname` command.
    File,
    /// `/etc/hostname`, then `hostname -F /etc/hostname`.
    Alpine,
}

/// The strategy `use:` names (None: detect), or why it is refused.
pub fn strategy(use_: Option<&str>) -> Result<Option<Strategy>, String> {
    Ok(match use_ {
        None => None,
        Some("systemd" | "debian") => Some(Strategy::Systemd),
        Some("generic") => Some(Strategy::File),
        Some("alpine") => Some(Strategy::Alpine),
        Some(other) => {
            return Err(format!(
                "use: {other} is not supported by rollout's hostname \
                 (supported: systemd, debian, alpine, generic)"
            ));
        }
    })
}

/// Refuses what no `hostname` tool takes, before a command sees it.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && !name.starts_with(['-', '.'])
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_');
    if !ok {
        return Err(format!(
            "invalid hostname '{name}': use letters, digits, '-', '_' and '.', not starting with '-' or '.'"
        ));
    }
    if name.len() > 64 {
        return Err(
            "name cannot be longer than 64 characters on systemd servers, try a shorter name"
                .into(),
        );
    }
    Ok(())
}

pub async fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    match run_checked(args, ctx).await {
        Ok(result) | Err(result) => result,
    }
}

async fn sh(ctx: &ModuleContext<'_>, line: &str) -> Result<String, TaskResult> {
    let (out, _) = run_tool(ctx, line, None).await.map_err(|r| {
        let msg = r.msg.clone().unwrap_or_default();
        r.with_msg(format!("Command failed: {line}: {msg}"))
    })?;
    Ok(out.trim().to_string())
}

/// (current, permanent) names.
async fn names(ctx: &ModuleContext<'_>, s: Strategy) -> Result<(String, String), TaskResult> {
    Ok(match s {
        Strategy::Systemd => (
            sh(ctx, "hostnamectl --transient status").await?,
            sh(ctx, "hostnamectl --static status").await?,
        ),
        Strategy::File | Strategy::Alpine => {
            let permanent = sh(ctx, &format!("cat {FILE} 2>/dev/null || true")).await?;
            let current = if s == Strategy::File {
                sh(ctx, "hostname").await?
            } else {
                permanent.clone()
            };
            (current, permanent)
        }
    })
}

async fn run_checked(args: &Vars, ctx: &ModuleContext<'_>) -> Result<TaskResult, TaskResult> {
    let name = arg_str(args, "name").unwrap_or_default();
    check_name(name).map_err(TaskResult::failed)?;
    let chosen = strategy(arg_str(args, "use")).map_err(TaskResult::failed)?;
    let s = match chosen {
        Some(s) => s,
        None => {
            let line = "[ -d /run/systemd/system ] && command -v hostnamectl >/dev/null && echo systemd || true";
            if sh(ctx, line).await? == "systemd" {
                Strategy::Systemd
            } else {
                Strategy::File
            }
        }
    };
    let (current, permanent) = names(ctx, s).await.map_err(|r| {
        if s != Strategy::Systemd {
            return r;
        }
        // systemd runs but hostnamed cannot be reached (no D-Bus, a container).
        let msg = r.msg.clone().unwrap_or_default();
        r.with_msg(format!(
            "{msg} (hostnamectl cannot reach systemd-hostnamed; use: generic writes \
             /etc/hostname and runs hostname instead)"
        ))
    })?;
    let q = shell_quote(name);
    // systemd: the permanent name first (NetworkManager complains otherwise).
    let mut steps = Vec::new();
    if permanent != name {
        steps.push(match s {
            Strategy::Systemd => format!("hostnamectl --pretty --static set-hostname {q}"),
            _ => format!("printf '%s\\n' {q} > {FILE}"),
        });
    }
    if current != name {
        steps.push(match s {
            Strategy::Systemd => format!("hostnamectl --transient set-hostname {q}"),
            Strategy::File => format!("hostname {q}"),
            Strategy::Alpine => format!("hostname -F {FILE}"),
        });
    }
    let changed = !steps.is_empty();
    if !ctx.check_mode {
        for step in &steps {
            sh(ctx, step).await?;
        }
    }
    let fqdn = sh(ctx, "hostname -f 2>/dev/null || hostname").await?;
    let domain = fqdn.split_once('.').map_or("", |(_, d)| d).to_string();
    let mut result = TaskResult::ok().with("name", name).with(
        "ansible_facts",
        json!({
            "ansible_hostname": name.split('.').next().unwrap_or(name),
            "ansible_nodename": name,
            "ansible_fqdn": fqdn,
            "ansible_domain": domain,
        }),
    );
    if changed {
        let before = if name != current { current } else { permanent };
        result.changed = true;
        result = result.with(
            "diff",
            json!({"before": format!("hostname = {before}\n"), "after": format!("hostname = {name}\n")}),
        );
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategies_follow_use() {
        assert_eq!(strategy(None), Ok(None));
        assert_eq!(strategy(Some("debian")), Ok(Some(Strategy::Systemd)));
        assert_eq!(strategy(Some("generic")), Ok(Some(Strategy::File)));
        assert!(
            strategy(Some("freebsd"))
                .unwrap_err()
                .contains("not supported")
        );
    }

    #[test]
    fn names_a_command_would_misread_are_refused() {
        assert!(check_name("web-1.example.com").is_ok());
        for bad in ["", "-f", "a b", "a;b", "x/y", &"a".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
