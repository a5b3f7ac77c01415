//! `package`: installs or removes packages with the host's own package
//! manager, as Ansible's `package` action does: `use:` names it, else the
//! `ansible_pkg_mgr` fact (gathered by `setup`), else a probe of the host
//! when facts were not gathered. `apt`, `dnf` and `yum` (which is dnf in
//! ansible-core 2.19) are implemented; any other manager is a clear task
//! failure naming it.

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
    let mut own_args = args.clone();
    own_args.remove("use");
    match name.as_str() {
        "apt" => super::apt::run(&own_args, ctx).await,
        "dnf" | "yum" => super::dnf::run(&own_args, ctx).await,
        "unknown" | "" => TaskResult::failed(
            "Could not detect which package manager to use. Try gathering facts or setting the \"use\" option.",
        ),
        other => TaskResult::failed(format!(
            "package: the package manager '{other}' is not supported by rollout yet (only apt, dnf and yum); \
             set \"use\" or use its own module"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::{Connection, ConnectionError, ExecOutput};
    use crate::template::Templar;
    use std::sync::Mutex;

    /// A host whose probe finds `manager` and whose every other command
    /// fails, recording each line it was given: which module ran shows
    /// in the first line after the probe.
    struct Host {
        manager: &'static str,
        lines: Mutex<Vec<String>>,
    }

    #[async_trait::async_trait]
    impl Connection for Host {
        async fn exec(&self, cmd: &str, _: Option<&[u8]>) -> Result<ExecOutput, ConnectionError> {
            self.lines.lock().unwrap().push(cmd.to_string());
            let probe = cmd == PROBE;
            Ok(ExecOutput {
                rc: if probe { 0 } else { 1 },
                stdout: if probe { self.manager.into() } else { vec![] },
                ..Default::default()
            })
        }
    }

    async fn dispatch(manager: &'static str, args: serde_json::Value) -> (TaskResult, Vec<String>) {
        let host = Host {
            manager,
            lines: Mutex::new(vec![]),
        };
        let (templar, scope) = (Templar::new(), minijinja::Value::default());
        let ctx = ModuleContext {
            host: "h",
            conn: &host,
            templar: &templar,
            scope: &scope,
            check_mode: false,
            diff: false,
            verbosity: 0,
            base_dir: std::path::Path::new("/nonexistent"),
            role_dir: None,
        };
        let args: Vars = serde_json::from_value(args).unwrap();
        let result = run(&args, &ctx).await;
        let lines = host.lines.lock().unwrap().clone();
        (result, lines)
    }

    #[tokio::test]
    async fn each_manager_goes_to_its_own_module() {
        let args = serde_json::json!({"name": ["nginx"], "state": "present"});
        let (_, lines) = dispatch("dnf\n", args.clone()).await;
        assert!(lines[1].contains("rpm -qa"), "{lines:?}");
        let (_, lines) = dispatch("apt\n", args.clone()).await;
        assert!(lines[1].contains("dpkg-query"), "{lines:?}");
        let mut yum = args.clone();
        yum["use"] = "yum".into();
        let (_, lines) = dispatch("apt\n", yum).await;
        assert!(
            lines[0].contains("rpm -qa"),
            "use: wins over the probe: {lines:?}"
        );
        let (r, _) = dispatch("zypper\n", args.clone()).await;
        assert!(r.msg.unwrap().contains("'zypper' is not supported"));
        let (r, _) = dispatch("unknown\n", args).await;
        assert!(r.msg.unwrap().contains("Could not detect"));
    }
}
