//! The one table of modules: a row per module holds its spec (name and
//! parameters, for the loader's lookup and validation), its entry point
//! (for dispatch) and the parameters it renders itself. Each module's file
//! exports its row, so a module cannot be listed without being runnable.

use super::spec::ModuleSpec;
use super::{ModuleContext, TaskResult, Vars};
use super::{
    apt, apt_repository, archive, assert, async_status, authorized_key, blockinfile, command, copy,
    cron, debug, dnf, ec2_metadata_facts, elb_target, fail, fetch, file, get_url, git, group,
    haproxy, hostname, include_vars, known_hosts, lineinfile, mount, package, package_facts, pause,
    ping, raw, reboot, replace, script, service, service_facts, set_fact, setup, slurp, stat,
    sysctl, systemd, template, timezone, unarchive, uri, user, wait_for, wait_for_connection,
    yum_repository,
};
use futures::future::BoxFuture;

/// A module's entry point, the same shape for every module (async or not).
pub type RunFn = for<'a> fn(&'a Vars, &'a ModuleContext<'a>) -> BoxFuture<'a, TaskResult>;

pub struct Module {
    pub spec: ModuleSpec,
    pub run: RunFn,
    /// Parameters the module renders itself rather than having the engine
    /// render them first (`command` splits its line into words before
    /// templating, so a templated value can never become several words or
    /// reach a shell).
    pub self_rendered: &'static [&'static str],
    /// Whether the module runs in check mode (and says what it would do)
    /// or, as Ansible declares for it, does not support it and is skipped.
    pub check_mode: bool,
}

/// Every module, in the order `module_names` lists them.
pub static MODULES: &[Module] = &[
    raw::MODULE,
    apt::MODULE,
    dnf::MODULE,
    dnf::YUM,
    apt_repository::MODULE,
    yum_repository::MODULE,
    package::MODULE,
    package_facts::MODULE,
    script::MODULE,
    service::SERVICE,
    systemd::MODULE,
    systemd::SYSTEMD_SERVICE,
    service_facts::MODULE,
    reboot::MODULE,
    sysctl::MODULE,
    cron::MODULE,
    mount::MODULE,
    git::MODULE,
    user::MODULE,
    group::MODULE,
    authorized_key::MODULE,
    known_hosts::MODULE,
    hostname::MODULE,
    timezone::MODULE,
    ec2_metadata_facts::MODULE,
    wait_for::MODULE,
    uri::MODULE,
    get_url::MODULE,
    haproxy::MODULE,
    elb_target::MODULE,
    copy::MODULE,
    template::MODULE,
    file::MODULE,
    lineinfile::MODULE,
    blockinfile::MODULE,
    replace::MODULE,
    stat::MODULE,
    slurp::MODULE,
    unarchive::MODULE,
    archive::MODULE,
    fetch::MODULE,
    command::COMMAND,
    command::SHELL,
    debug::MODULE,
    set_fact::MODULE,
    setup::MODULE,
    include_vars::MODULE,
    assert::MODULE,
    fail::MODULE,
    pause::MODULE,
    ping::MODULE,
    wait_for_connection::MODULE,
    async_status::MODULE,
];

impl Module {
    pub const fn new(spec: ModuleSpec, run: RunFn) -> Self {
        Module {
            spec,
            run,
            self_rendered: &[],
            check_mode: true,
        }
    }

    /// Ansible declares no check-mode support for the module: in check
    /// mode it is skipped, not run.
    pub const fn without_check_mode(mut self) -> Self {
        self.check_mode = false;
        self
    }

    /// The module renders these parameters itself.
    pub const fn self_rendering(mut self, params: &'static [&'static str]) -> Self {
        self.self_rendered = params;
        self
    }

    /// The same module under another name.
    pub const fn named(mut self, name: &'static str) -> Self {
        self.spec.name = name;
        self
    }
}

/// The row of a module by its short name (see `spec::canonical_name`).
pub fn find(name: &str) -> Option<&'static Module> {
    MODULES.iter().find(|m| m.spec.name == name)
}

/// The entry point of a module that returns at once.
pub fn ready(result: TaskResult) -> BoxFuture<'static, TaskResult> {
    Box::pin(std::future::ready(result))
}

/// Parameters `module` renders itself (none for an unknown name).
pub fn self_rendered_params(module: &str) -> &'static [&'static str] {
    find(module).map_or(&[], |m| m.self_rendered)
}

pub async fn run(module: &str, args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    match find(module) {
        Some(m) if ctx.check_mode && !m.check_mode => {
            // Ansible's ActionBase: AnsibleActionSkip with this message.
            TaskResult::skipped(format!(
                "This action ({module}) does not support check mode."
            ))
            .with_msg(format!(
                "This action ({module}) does not support check mode."
            ))
        }
        Some(m) => (m.run)(args, ctx).await,
        None => TaskResult::failed(format!("module '{module}' is not implemented")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::spec::{self, lookup, module_names};
    use super::*;
    use crate::connection::{Connection, ConnectionError, ExecOutput};
    use crate::template::Templar;
    use std::collections::HashSet;
    use std::time::Duration;

    /// A host that cannot be reached.
    struct Unreachable;

    #[async_trait::async_trait]
    impl Connection for Unreachable {
        async fn exec(&self, _: &str, _: Option<&[u8]>) -> Result<ExecOutput, ConnectionError> {
            Err(ConnectionError::Failed("unreachable".into()))
        }
    }

    #[tokio::test]
    async fn every_row_dispatches() {
        let (templar, scope) = (Templar::new(), minijinja::Value::default());
        let ctx = ModuleContext {
            host: "nowhere",
            conn: &Unreachable,
            templar: &templar,
            scope: &scope,
            check_mode: true,
            diff: false,
            verbosity: 0,
            base_dir: std::path::Path::new("/nonexistent"),
            role_dir: None,
        };
        // Arguments that keep every module quick: `pause` without seconds
        // would prompt on a terminal, `wait_for` without a port sleeps for
        // its timeout.
        let args: Vars = serde_json::from_str(r#"{"seconds": 1, "timeout": 0}"#).unwrap();
        for m in MODULES {
            let name = m.spec.name;
            let result = tokio::time::timeout(Duration::from_secs(10), run(name, &args, &ctx))
                .await
                .unwrap_or_else(|_| panic!("{name} did not return"));
            let msg = result.msg.unwrap_or_default();
            assert!(!msg.contains("not implemented"), "{name}: {msg}");
        }
        let unknown = run("nosuch", &args, &ctx).await;
        assert!(unknown.msg.unwrap().contains("not implemented"));
    }

    #[test]
    fn names_are_unique_and_every_fqcn_resolves() {
        let mut seen = HashSet::new();
        for name in module_names() {
            assert!(seen.insert(name), "{name} is listed twice");
            for prefix in ["ansible.builtin.", "ansible.legacy."] {
                let fqcn = format!("{prefix}{name}");
                assert_eq!(lookup(&fqcn).map(|s| s.name), Some(name), "{fqcn}");
            }
        }
        for (fqcn, name) in [
            ("community.general.haproxy", "haproxy"),
            ("community.aws.elb_target", "elb_target"),
            ("amazon.aws.ec2_metadata_facts", "ec2_metadata_facts"),
            ("ansible.posix.systemd", "systemd"),
            ("ansible.posix.authorized_key", "authorized_key"),
            ("community.general.timezone", "timezone"),
        ] {
            assert_eq!(spec::canonical_name(fqcn), name);
            assert!(lookup(fqcn).is_some(), "{fqcn}");
        }
    }

    #[test]
    fn self_rendered_params_are_parameters_of_their_module() {
        for m in MODULES {
            for param in m.self_rendered {
                assert!(m.spec.param(param).is_some(), "{}: {param}", m.spec.name);
            }
        }
        assert_eq!(self_rendered_params("command"), ["cmd"]);
        assert!(self_rendered_params("shell").is_empty());
    }
}
