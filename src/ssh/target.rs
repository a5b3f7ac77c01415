//! Where and how to connect to one host: inventory connection variables
//! merged with `~/.ssh/config`, the way Ansible's ssh plugin merges them
//! (variables become `ssh` command-line options, which beat the file).

use super::config::{HostConfig, SshConfig, expand_home, home_dir};
use super::known_hosts::HostKeyPolicy;
use serde_json::{Map, Value as Json};
use std::path::PathBuf;
use std::time::Duration;

/// Run-wide SSH settings (CLI flags and test overrides).
#[derive(Debug, Clone)]
pub struct SshOptions {
    /// `--host-key-checking`; `None` lets `StrictHostKeyChecking` decide,
    /// and strict is the default.
    pub host_key_policy: Option<HostKeyPolicy>,
    /// The client config file; `None` means `~/.ssh/config`.
    pub config_file: Option<PathBuf>,
    /// Replaces the known_hosts files from the config (user files first).
    pub known_hosts_files: Option<Vec<PathBuf>>,
    pub connect_timeout: Duration,
    /// Used when neither the config nor the inventory sets an interval.
    pub keepalive_interval: Option<Duration>,
    /// Connection attempts for refused or timed-out connects.
    pub connect_attempts: u32,
    /// What hosts whose variables say nothing else get (CLI, ansible.cfg).
    pub defaults: HostDefaults,
}

/// Connection settings from the command line, `ANSIBLE_*` variables and
/// ansible.cfg: a host's own variables (and the play's `remote_user`) beat
/// them, and they beat `~/.ssh/config`, as Ansible passes them to `ssh`.
#[derive(Debug, Clone, Default)]
pub struct HostDefaults {
    /// `-u`, `remote_user`.
    pub user: Option<String>,
    /// `remote_port`.
    pub port: Option<u16>,
    /// `--private-key`, `private_key_file`.
    pub private_key_file: Option<PathBuf>,
    /// `-T`, `timeout` (Ansible always passes it, over the config file).
    pub connect_timeout: Option<Duration>,
    /// `host_key_checking`: `false` is OpenSSH's `StrictHostKeyChecking no`.
    pub host_key_checking: Option<bool>,
    /// `ssh_args`: first on Ansible's ssh command line, so they win.
    pub ssh_args: Option<String>,
    /// `-k`: the SSH password, where the host sets no `ansible_password`.
    pub password: Option<Password>,
    /// `ssh_common_args`, `ssh_extra_args`: where the host's
    /// `ansible_ssh_common_args` / `ansible_ssh_extra_args` are unset.
    pub ssh_common_args: Option<String>,
    pub ssh_extra_args: Option<String>,
}

impl Default for SshOptions {
    fn default() -> Self {
        SshOptions {
            host_key_policy: None,
            config_file: None,
            known_hosts_files: None,
            connect_timeout: Duration::from_secs(10),
            keepalive_interval: Some(Duration::from_secs(15)),
            connect_attempts: 3,
            defaults: HostDefaults::default(),
        }
    }
}

impl SshOptions {
    pub fn load_config(&self) -> Result<SshConfig, String> {
        let path = self
            .config_file
            .clone()
            .unwrap_or_else(|| home_dir().join(".ssh/config"));
        SshConfig::load(&path)
    }
}

/// An SSH password: never shown, not even in debug output.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(pub String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<hidden>)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    /// The inventory name (used in messages).
    pub host_alias: String,
    /// What is dialled and looked up in known_hosts.
    pub hostname: String,
    pub port: u16,
    pub user: String,
    /// Tried in order; missing files are skipped when they are defaults.
    pub identity_files: Vec<PathBuf>,
    /// `[user@]host[:port]`, comma-separated for a chain, first hop first.
    pub proxy_jump: Option<String>,
    pub known_hosts_files: Vec<PathBuf>,
    /// Where accept-new records keys.
    pub user_known_hosts_file: Option<PathBuf>,
    pub strict: HostKeyPolicy,
    pub connect_timeout: Duration,
    pub keepalive_interval: Option<Duration>,
    /// Tried after the keys and the agent (`ansible_password`, `-k`).
    pub password: Option<Password>,
}

impl SshTarget {
    /// Builds the target for an inventory host from its variables.
    pub fn from_vars(
        host_alias: &str,
        vars: &Map<String, Json>,
        config: &SshConfig,
        options: &SshOptions,
    ) -> Result<Self, String> {
        let context = |e: String| format!("{host_alias}: {e}");
        let get = |names: &[&str]| names.iter().find_map(|n| var_string(vars, n));
        let password = get(&[
            "ansible_password",
            "ansible_ssh_pass",
            "ansible_ssh_password",
        ])
        .map(Password)
        .or_else(|| options.defaults.password.clone());
        let defaults = &options.defaults;
        let mut cli = CommandLine::default();
        if let Some(args) = &defaults.ssh_args {
            cli.parse(args)
                .map_err(|e| context(format!("ssh_args: {e}")))?;
        }
        for (name, default) in [
            ("ansible_ssh_common_args", &defaults.ssh_common_args),
            ("ansible_ssh_extra_args", &defaults.ssh_extra_args),
        ] {
            if let Some(args) = var_string(vars, name).or_else(|| default.clone()) {
                cli.parse(&args)
                    .map_err(|e| context(format!("{name}: {e}")))?;
            }
        }
        if let Some(user) =
            get(&["ansible_user", "ansible_ssh_user"]).or_else(|| defaults.user.clone())
        {
            cli.options.push(format!("User {user}"));
        }
        // As Ansible passes it: `-o ConnectTimeout=N`, which beats the file.
        if let Some(timeout) = get(&["ansible_ssh_timeout", "ansible_timeout"])
            .or_else(|| defaults.connect_timeout.map(|t| t.as_secs().to_string()))
        {
            cli.options.push(format!("ConnectTimeout {timeout}"));
        }
        if let Some(port) = get(&["ansible_port", "ansible_ssh_port"])
            .or_else(|| defaults.port.map(|p| p.to_string()))
        {
            cli.options.push(format!("Port {port}"));
        }
        let mut identities = Vec::new();
        if let Some(key) = get(&["ansible_ssh_private_key_file", "ansible_private_key_file"])
            .or_else(|| (defaults.private_key_file.as_ref()).map(|k| k.display().to_string()))
        {
            identities.push(key);
        }
        identities.append(&mut cli.identities);
        let check = vars
            .get("ansible_host_key_checking")
            .or_else(|| vars.get("ansible_ssh_host_key_checking"))
            .map(|check| {
                !(matches!(check, Json::Bool(false))
                    | matches!(check.as_str(), Some("false" | "False" | "no")))
            });
        if check.or(defaults.host_key_checking) == Some(false) {
            cli.options.push("StrictHostKeyChecking no".into());
        }
        let destination =
            get(&["ansible_host", "ansible_ssh_host"]).unwrap_or_else(|| host_alias.to_string());
        let config = config
            .clone()
            .with_overrides(&cli.options)
            .map_err(context)?;
        let target = Self::build(
            host_alias,
            &destination,
            config.resolve(&destination),
            identities,
            options,
        )
        .map_err(context)?;
        Ok(SshTarget { password, ..target })
    }

    /// Builds a target from an ssh destination (`[user@]host[:port]` or
    /// `ssh://user@host:port`), as in ProxyJump.
    pub fn from_destination(
        destination: &str,
        config: &SshConfig,
        options: &SshOptions,
    ) -> Result<Self, String> {
        let (user, host, port) = split_destination(destination)?;
        let mut overrides = Vec::new();
        overrides.extend(user.map(|u| format!("User {u}")));
        overrides.extend(port.map(|p| format!("Port {p}")));
        let config = config.clone().with_overrides(&overrides)?;
        Self::build(&host, &host, config.resolve(&host), Vec::new(), options)
    }

    fn build(
        alias: &str,
        destination: &str,
        host: HostConfig,
        mut identities: Vec<String>,
        options: &SshOptions,
    ) -> Result<Self, String> {
        if host.proxy_command.as_deref().is_some_and(|c| c != "none") {
            return Err("ProxyCommand is not supported; use ProxyJump (-J) instead".into());
        }
        let local_user = std::env::var("USER").unwrap_or_else(|_| "root".into());
        let hostname = host
            .hostname
            .map(|h| h.replace("%h", destination).replace("%%", "%"))
            .unwrap_or_else(|| destination.to_string());
        let port = match host.port.as_deref() {
            Some(p) => p
                .parse::<u16>()
                .map_err(|_| format!("invalid port '{p}'"))?,
            None => 22,
        };
        let user = host.user.unwrap_or_else(|| local_user.clone());
        let tokens = Tokens {
            alias,
            hostname: &hostname,
            port,
            user: &user,
            local_user: &local_user,
        };
        let explicit = !identities.is_empty() || !host.identity_files.is_empty();
        identities.extend(host.identity_files);
        let mut identity_files: Vec<PathBuf> = identities
            .iter()
            .map(|f| PathBuf::from(tokens.expand(f)))
            .collect();
        if !explicit {
            // OpenSSH's defaults, only when nothing was configured.
            let ssh_dir = home_dir().join(".ssh");
            identity_files = ["id_ed25519", "id_ecdsa", "id_rsa"]
                .iter()
                .map(|n| ssh_dir.join(n))
                .filter(|p| p.exists())
                .collect();
        }
        let (known_hosts_files, user_known_hosts_file) = match &options.known_hosts_files {
            Some(files) => (files.clone(), files.first().cloned()),
            None => {
                let user_files: Vec<PathBuf> = if host.user_known_hosts_files.is_empty() {
                    vec![
                        home_dir().join(".ssh/known_hosts"),
                        home_dir().join(".ssh/known_hosts2"),
                    ]
                } else {
                    host.user_known_hosts_files
                        .iter()
                        .map(|f| PathBuf::from(tokens.expand(f)))
                        .collect()
                };
                let global: Vec<PathBuf> = if host.global_known_hosts_files.is_empty() {
                    vec![
                        "/etc/ssh/ssh_known_hosts".into(),
                        "/etc/ssh/ssh_known_hosts2".into(),
                    ]
                } else {
                    host.global_known_hosts_files
                        .iter()
                        .map(PathBuf::from)
                        .collect()
                };
                let first = user_files
                    .first()
                    .filter(|f| f.as_os_str() != "/dev/null")
                    .cloned();
                (user_files.into_iter().chain(global).collect(), first)
            }
        };
        let strict = match (
            options.host_key_policy,
            host.strict_host_key_checking.as_deref(),
        ) {
            (Some(policy), _) => policy,
            (None, Some(value)) => HostKeyPolicy::parse(value)
                .ok_or_else(|| format!("invalid StrictHostKeyChecking value '{value}'"))?,
            (None, None) => HostKeyPolicy::Strict,
        };
        let connect_timeout = seconds(host.connect_timeout.as_deref(), "ConnectTimeout")?
            .unwrap_or(options.connect_timeout);
        let keepalive_interval =
            match seconds(host.server_alive_interval.as_deref(), "ServerAliveInterval")? {
                Some(d) if d.is_zero() => None,
                Some(d) => Some(d),
                None => options.keepalive_interval,
            };
        Ok(SshTarget {
            host_alias: alias.to_string(),
            hostname,
            port,
            user,
            identity_files,
            proxy_jump: host.proxy_jump.filter(|j| j != "none"),
            known_hosts_files,
            user_known_hosts_file,
            strict,
            connect_timeout,
            keepalive_interval,
            password: None,
        })
    }

    /// `user@host:port`, for messages.
    pub fn describe(&self) -> String {
        format!("{}@{}:{}", self.user, self.hostname, self.port)
    }
}

/// Options collected from `ansible_ssh_common_args`-style command lines.
#[derive(Default)]
struct CommandLine {
    /// Config lines (`Keyword value`).
    options: Vec<String>,
    identities: Vec<String>,
    /// Arguments that change nothing in rollout, as written.
    ignored: Vec<String>,
}

/// The arguments of an `ssh` command line (ansible.cfg's `ssh_args`) that
/// rollout does not act on, e.g. `-C`, `-o ControlPersist=60s`.
pub fn ignored_ssh_args(text: &str) -> Result<Vec<String>, String> {
    let mut cli = CommandLine::default();
    cli.parse(text)?;
    Ok(cli.ignored)
}

impl CommandLine {
    fn parse(&mut self, text: &str) -> Result<(), String> {
        let words = shell_words::split(text).map_err(|e| e.to_string())?;
        let mut words = words.into_iter();
        while let Some(word) = words.next() {
            let Some(flag) = word.strip_prefix('-').and_then(|f| f.chars().next()) else {
                self.ignored.push(word);
                continue;
            };
            // ssh's flags that take an argument, attached or separate.
            if !"BbcDEeFIiJLlmOoPpQRSWw".contains(flag) {
                self.ignored.push(word);
                continue;
            }
            let attached = &word[1 + flag.len_utf8()..];
            let value = if attached.is_empty() {
                words
                    .next()
                    .ok_or_else(|| format!("-{flag} needs a value"))?
            } else {
                attached.to_string()
            };
            match flag {
                'o' => {
                    if !super::config::is_known(&value) {
                        self.ignored.push(format!("-o {value}"));
                    }
                    self.options.push(value)
                }
                'J' => self.options.push(format!("ProxyJump {value}")),
                'p' => self.options.push(format!("Port {value}")),
                'l' => self.options.push(format!("User {value}")),
                'i' => self.identities.push(value),
                _ => self.ignored.push(format!("-{flag} {value}")),
            }
        }
        Ok(())
    }
}

struct Tokens<'a> {
    alias: &'a str,
    hostname: &'a str,
    port: u16,
    user: &'a str,
    local_user: &'a str,
}

impl Tokens<'_> {
    /// Expands `~` and OpenSSH's `%` tokens in a path.
    fn expand(&self, path: &str) -> String {
        let path = expand_home(path);
        let mut out = String::new();
        let mut chars = path.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('h') => out.push_str(self.hostname),
                Some('p') => out.push_str(&self.port.to_string()),
                Some('r') => out.push_str(self.user),
                Some('u') => out.push_str(self.local_user),
                Some('n') => out.push_str(self.alias),
                Some('d') => out.push_str(&home_dir().to_string_lossy()),
                Some(other) => {
                    out.push('%');
                    if other != '%' {
                        out.push(other);
                    }
                }
                None => out.push('%'),
            }
        }
        out
    }
}

/// A connection variable as text (ports are often numbers in YAML).
fn var_string(vars: &Map<String, Json>, name: &str) -> Option<String> {
    match vars.get(name)? {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn seconds(value: Option<&str>, keyword: &str) -> Result<Option<Duration>, String> {
    value
        .map(|v| {
            v.parse::<u64>()
                .map(Duration::from_secs)
                .map_err(|_| format!("invalid {keyword} value '{v}'"))
        })
        .transpose()
}

/// Splits `[user@]host[:port]`, `[user@][v6addr]:port` or `ssh://user@host:port`.
pub fn split_destination(dest: &str) -> Result<(Option<String>, String, Option<u16>), String> {
    let dest = dest.strip_prefix("ssh://").unwrap_or(dest);
    let (user, rest) = match dest.rsplit_once('@') {
        Some((u, r)) => (Some(u.to_string()), r),
        None => (None, dest),
    };
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("invalid destination '{dest}'"))?;
        (host, after.strip_prefix(':'))
    } else if rest.matches(':').count() == 1 {
        let (h, p) = rest.split_once(':').unwrap_or((rest, ""));
        (h, Some(p))
    } else {
        (rest, None)
    };
    if host.is_empty() {
        return Err(format!("invalid destination '{dest}'"));
    }
    let port = port
        .map(|p| {
            p.parse::<u16>()
                .map_err(|_| format!("invalid port in '{dest}'"))
        })
        .transpose()?;
    Ok((user, host.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(v: Json) -> Map<String, Json> {
        v.as_object().cloned().unwrap()
    }

    fn options() -> SshOptions {
        SshOptions {
            known_hosts_files: Some(vec!["/tmp/kh".into()]),
            ..SshOptions::default()
        }
    }

    const CONFIG: &str = "Host 10.1.*\n  User cfguser\n  Port 2200\n  IdentityFile /keys/%h-%r\n  ProxyJump bastion\n  ConnectTimeout 3\n  ServerAliveInterval 0\nHost *\n  StrictHostKeyChecking accept-new\n";

    #[test]
    fn vars_beat_config_and_config_matches_ansible_host() {
        let config = SshConfig::parse(CONFIG).unwrap();
        let t = SshTarget::from_vars(
            "web1",
            &vars(json!({"ansible_host": "10.1.0.7", "ansible_port": 2201,
                          "ansible_ssh_private_key_file": "/keys/explicit"})),
            &config,
            &options(),
        )
        .unwrap();
        assert_eq!(t.hostname, "10.1.0.7");
        assert_eq!(t.port, 2201);
        assert_eq!(t.user, "cfguser");
        assert_eq!(
            t.identity_files,
            [
                PathBuf::from("/keys/explicit"),
                "/keys/10.1.0.7-cfguser".into()
            ]
        );
        assert_eq!(t.proxy_jump.as_deref(), Some("bastion"));
        assert_eq!(t.strict, HostKeyPolicy::AcceptNew);
        assert_eq!(t.connect_timeout, Duration::from_secs(3));
        assert_eq!(t.keepalive_interval, None);
        assert_eq!(t.known_hosts_files, [PathBuf::from("/tmp/kh")]);
        let timed = |v: Json| SshTarget::from_vars("web1", &vars(v), &config, &options());
        let t = timed(json!({"ansible_host": "10.1.2.3", "ansible_ssh_timeout": 7})).unwrap();
        assert_eq!(
            t.connect_timeout,
            Duration::from_secs(7),
            "the var beats the file"
        );
        let t = timed(json!({"ansible_host": "192.0.2.1"})).unwrap();
        assert_eq!(
            t.connect_timeout,
            Duration::from_secs(10),
            "Ansible's default"
        );
    }

    #[test]
    fn common_args_and_cli_policy() {
        let config = SshConfig::parse(CONFIG).unwrap();
        let opts = SshOptions {
            host_key_policy: Some(HostKeyPolicy::Strict),
            ..options()
        };
        let t = SshTarget::from_vars(
            "db",
            &vars(json!({"ansible_user": "ops",
                          "ansible_ssh_common_args": "-o ProxyJump=j1@jump:2022 -oConnectTimeout=7 -i '/k/a b'"})),
            &config,
            &opts,
        )
        .unwrap();
        assert_eq!(t.hostname, "db");
        assert_eq!(t.user, "ops");
        assert_eq!(t.proxy_jump.as_deref(), Some("j1@jump:2022"));
        assert_eq!(t.connect_timeout, Duration::from_secs(7));
        assert_eq!(t.identity_files, [PathBuf::from("/k/a b")]);
        assert_eq!(t.strict, HostKeyPolicy::Strict);
        let t = SshTarget::from_vars(
            "db",
            &vars(json!({"ansible_ssh_common_args": "-J jump"})),
            &config,
            &opts,
        )
        .unwrap();
        assert_eq!(t.proxy_jump.as_deref(), Some("jump"));
    }

    #[test]
    fn run_defaults_lose_to_host_vars_and_beat_the_config_file() {
        let config = SshConfig::parse(CONFIG).unwrap();
        let opts = SshOptions {
            defaults: HostDefaults {
                user: Some("cliuser".into()),
                port: Some(2222),
                private_key_file: Some("/keys/default".into()),
                connect_timeout: Some(Duration::from_secs(4)),
                host_key_checking: Some(false),
                ssh_args: Some("-C -o ControlPersist=60s -o ServerAliveInterval=9".into()),
                ssh_common_args: Some("-o ProxyJump=cfgjump".into()),
                ssh_extra_args: None,
                password: None,
            },
            ..options()
        };
        let t = SshTarget::from_vars(
            "web1",
            &vars(json!({"ansible_host": "10.1.0.7"})),
            &config,
            &opts,
        )
        .unwrap();
        assert_eq!(t.user, "cliuser", "over the file's User");
        assert_eq!(t.port, 2222);
        assert_eq!(t.connect_timeout, Duration::from_secs(4));
        assert_eq!(t.identity_files[0], PathBuf::from("/keys/default"));
        assert_eq!(t.strict, HostKeyPolicy::Off, "host_key_checking = False");
        assert_eq!(
            t.keepalive_interval,
            Some(Duration::from_secs(9)),
            "ssh_args win"
        );
        assert_eq!(t.proxy_jump.as_deref(), Some("cfgjump"));
        let t = SshTarget::from_vars(
            "web1",
            &vars(
                json!({"ansible_host": "10.1.0.7", "ansible_user": "varuser", "ansible_port": 2201,
                          "ansible_ssh_private_key_file": "/keys/var", "ansible_ssh_timeout": 6,
                          "ansible_host_key_checking": true,
                          "ansible_ssh_common_args": "-o ProxyJump=varjump"}),
            ),
            &config,
            &opts,
        )
        .unwrap();
        assert_eq!((t.user.as_str(), t.port), ("varuser", 2201));
        assert_eq!(t.connect_timeout, Duration::from_secs(6));
        assert_eq!(t.identity_files[0], PathBuf::from("/keys/var"));
        assert!(!t.identity_files.contains(&PathBuf::from("/keys/default")));
        assert_eq!(
            t.strict,
            HostKeyPolicy::AcceptNew,
            "the host's true defers to the file"
        );
        assert_eq!(t.proxy_jump.as_deref(), Some("varjump"));
        assert_eq!(
            ignored_ssh_args("-C -o ControlMaster=auto -o User=x -4 -l me").unwrap(),
            ["-C", "-o ControlMaster=auto", "-4"]
        );
    }

    #[test]
    fn unsupported_settings_are_explained() {
        let config = SshConfig::default();
        let t = SshTarget::from_vars(
            "h",
            &vars(json!({"ansible_ssh_pass": "s3cret"})),
            &config,
            &options(),
        )
        .unwrap();
        assert_eq!(t.password, Some(Password("s3cret".into())));
        assert!(!format!("{t:?}").contains("s3cret"), "never shown: {t:?}");
        let err = SshTarget::from_vars(
            "h",
            &vars(json!({"ansible_port": "http"})),
            &config,
            &options(),
        )
        .unwrap_err();
        assert!(err.contains("invalid port 'http'"), "{err}");
        let err = SshTarget::from_vars(
            "h",
            &vars(json!({"ansible_ssh_common_args": "-o ProxyCommand='nc %h %p'"})),
            &config,
            &options(),
        )
        .unwrap_err();
        assert!(err.contains("ProxyCommand is not supported"), "{err}");
    }

    #[test]
    fn destinations() {
        assert_eq!(
            split_destination("u@h:22").unwrap(),
            (Some("u".into()), "h".into(), Some(22))
        );
        assert_eq!(split_destination("h").unwrap(), (None, "h".into(), None));
        assert_eq!(
            split_destination("ssh://a@[::1]:2").unwrap(),
            (Some("a".into()), "::1".into(), Some(2))
        );
        assert!(split_destination("h:x").is_err());
        let t = SshTarget::from_destination("me@127.0.0.1:2022", &SshConfig::default(), &options())
            .unwrap();
        assert_eq!(t.describe(), "me@127.0.0.1:2022");
    }
}
