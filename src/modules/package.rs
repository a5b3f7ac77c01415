//! `package`: installs or removes packages with the host's own package
//! manager, as Ansible's `package` action does: `use:` names it, else the
//! `ansible_pkg_mgr` fact (gathered by `setup`), else a probe of the host
//! when facts were not gathered. Only `apt` is implemented so far; any
//! other manager is a clear task failure naming it.

use super::registry::Module;
use super::spec::{Kind, ModuleSpec, aliases, p, required};
use super::{ModuleContext, TaskResult, Vars, arg_str, host_var_str};

pub const MODULE: Module = Module::new(
    ModuleSpec::new(
        "package",
        &[
            required(aliases(p("name", Kind::List), &["pkg"])),
            required(p("state", Kind::Str)),
            p("use", Kind::Str),
        ],
    ),
    |args, ctx| Box::pin(run(args, ctx)),
);

/// The manager's fact value from the first of its tools the host has, in
/// the order Ansible's `pkg_mgr` fact prefers them on the common families.
const PROBE: &str = "for m in apt-get:apt dnf5:dnf5 dnf:dnf yum:yum zypper:zypper apk:apk pacman:pacman; do \
     command -v \"${m%%:*}\" >/dev/null 2>&1 && { echo \"${m#*:}\"; exit 0; }; done; echo unknown";

async fn manager(args: &Vars, ctx: &ModuleContext<'_>) -> Result<String, TaskResult> {
    if let Some(name) = arg_str(args, "use").filter(|u| *u != "auto") {
        return Ok(name.to_string());
    }
    if let Some(name) = host_var_str(ctx, "ansible_pkg_mgr").filter(|n| n != "unknown") {
        return Ok(name);
    }
    let out = ctx
        .conn
        .exec(PROBE, None)
        .await
        .map_err(TaskResult::from_connection)?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

pub async fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    let name = match manager(args, ctx).await {
        Ok(name) => name,
        Err(result) => return result,
    };
    match name.as_str() {
        "apt" => {
            let mut apt_args = args.clone();
            apt_args.remove("use");
            super::apt::run(&apt_args, ctx).await
        }
        "unknown" | "" => TaskResult::failed(
            "Could not detect which package manager to use. Try gathering facts or setting the \"use\" option.",
        ),
        other => TaskResult::failed(format!(
            "package: the package manager '{other}' is not supported by rollout yet (only apt); \
             set \"use\" or use its own module"
        )),
    }
}
