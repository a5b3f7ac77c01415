//! The command line over `ANSIBLE_*` variables over ansible.cfg: the
//! run-wide settings `play` uses (inventory, forks, connection, become and
//! the SSH defaults), with the warnings to show once before the run.

use crate::cli::PlayArgs;
use crate::config::{Environment, Setting, Settings, Source};
use crate::diag::Diagnostic;
use crate::ssh::HostDefaults;
use std::path::PathBuf;
use std::time::Duration;

/// What `play` takes from the command line and the configuration.
#[derive(Debug)]
pub struct RunSettings {
    pub inventory: Vec<PathBuf>,
    pub forks: u32,
    pub connection: Option<String>,
    pub become_all: bool,
    pub become_user: Option<String>,
    pub become_method: Option<String>,
    pub ask_become_pass: bool,
    pub ssh: HostDefaults,
    /// For the features that read them (roles, vault, facts).
    pub config: Settings,
    pub warnings: Vec<String>,
}

/// The connection types rollout has; `smart` and `paramiko` mean ssh.
const CONNECTIONS: &[&str] = &["ssh", "local", "smart", "paramiko"];

impl RunSettings {
    pub fn resolve(args: &PlayArgs, env: &Environment) -> Result<RunSettings, Diagnostic> {
        let loaded = crate::config::settings::load(env)?;
        let config = loaded.settings;
        let mut warnings = loaded.warnings;
        if let Some(connection) = &args.connection
            && !CONNECTIONS.contains(&connection.as_str())
        {
            return Err(Diagnostic::new(format!(
                "-c {connection}: rollout connects with ssh or local only"
            ))
            .suggest(connection, CONNECTIONS.iter().copied())
            .with_help("use -c ssh (the default) or -c local"));
        }
        let method = match &args.become_method {
            Some(method) => (method.clone(), "--become-method".to_string()),
            None => (
                config.become_method.value.clone(),
                format!("become_method ({})", config.become_method.source),
            ),
        };
        if !matches!(method.0.as_str(), "sudo" | "su") {
            return Err(Diagnostic::new(format!(
                "{} {}: rollout becomes other users with sudo or su",
                method.1, method.0
            ))
            .with_help("use sudo (the default) or su"));
        }
        let ssh_args = [
            &config.ssh_args,
            &config.ssh_common_args,
            &config.ssh_extra_args,
        ];
        for setting in ssh_args.into_iter().flatten() {
            let ignored = crate::ssh::target::ignored_ssh_args(&setting.value)
                .map_err(|e| Diagnostic::new(format!("{}: {e}", setting.source)))?;
            if !ignored.is_empty() {
                warnings.push(format!(
                    "{}: rollout ignores {} (it keeps one SSH connection per host for the run)",
                    setting.source,
                    ignored.join(" ")
                ));
            }
        }
        if !config.host_key_checking.value {
            warnings.push(format!(
                "host_key_checking is off ({}): host keys are not verified, as with \
                 --host-key-checking off",
                config.host_key_checking.source
            ));
        }
        let inventory = if !args.inventory.is_empty() {
            args.inventory.iter().map(PathBuf::from).collect()
        } else if config.inventory.source == Source::Default {
            // Ansible's default source; a missing one leaves only localhost.
            (config.inventory.value.iter())
                .filter(|p| p.exists())
                .cloned()
                .collect()
        } else {
            config.inventory.value.clone()
        };
        let explicit = |s: &Setting<String>| (s.source != Source::Default).then(|| s.value.clone());
        Ok(RunSettings {
            inventory,
            forks: args.forks.unwrap_or(config.forks.value),
            connection: args.connection.clone(),
            become_all: args.become_all || config.become_enabled.value,
            become_user: args
                .become_user
                .clone()
                .or_else(|| explicit(&config.become_user)),
            become_method: (args.become_method.clone()).or_else(|| explicit(&config.become_method)),
            ask_become_pass: args.ask_become_pass || config.become_ask_pass.value,
            ssh: HostDefaults {
                user: args
                    .user
                    .clone()
                    .or_else(|| config.remote_user.as_ref().map(|s| s.value.clone())),
                port: config.remote_port.as_ref().map(|s| s.value),
                private_key_file: args
                    .private_key
                    .clone()
                    .or_else(|| config.private_key_file.as_ref().map(|s| s.value.clone())),
                connect_timeout: args
                    .timeout
                    .or((config.timeout.source != Source::Default).then_some(config.timeout.value))
                    .map(Duration::from_secs),
                host_key_checking: (config.host_key_checking.source != Source::Default)
                    .then_some(config.host_key_checking.value),
                ssh_args: config.ssh_args.as_ref().map(|s| s.value.clone()),
                ssh_common_args: config.ssh_common_args.as_ref().map(|s| s.value.clone()),
                ssh_extra_args: config.ssh_extra_args.as_ref().map(|s| s.value.clone()),
                password: if args.ask_pass || config.ask_pass.value {
                    let pass = super::ask_secret("SSH password: ", "ROLLOUT_SSH_PASS", "SSH")?;
                    Some(crate::ssh::target::Password(pass))
                } else {
                    None
                },
            },
            config,
            warnings,
        })
    }
}
