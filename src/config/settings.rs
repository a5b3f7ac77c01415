//! The settings rollout takes from ansible.cfg and `ANSIBLE_*` variables.
//!
//! Each setting lists its places as Ansible's `base.yml` and the ssh
//! plugin declare them (`[section] key` entries, then environment
//! variables; the last one present wins, and any variable beats the file),
//! and is typed the same way (path settings from the file are relative to
//! the file's directory, from a variable to the working directory).

use super::ini::IniFile;
use super::{Environment, discovery, expand_path};
use crate::diag::{Diagnostic, suggestion};
use crate::yaml::Span;
use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

/// Where a setting's value came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Source {
    #[default]
    Default,
    File {
        path: PathBuf,
        line: usize,
        section: String,
        key: String,
    },
    Env(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("the default"),
            Source::File {
                path,
                line,
                section,
                key,
            } => write!(f, "{}:{line} [{section}] {key}", path.display()),
            Source::Env(name) => f.write_str(name),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting<T> {
    pub value: T,
    pub source: Source,
}

impl<T> Setting<T> {
    fn default(value: T) -> Self {
        Setting {
            value,
            source: Source::Default,
        }
    }
}

/// `[defaults] gathering`: when a play gathers facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gathering {
    /// Every play gathers unless it says `gather_facts: false`.
    Implicit,
    /// Only plays that say `gather_facts: true`.
    Explicit,
    /// Like implicit, but a host already gathered in this run is not again.
    Smart,
}

/// Everything rollout acts on (or hands to the features that do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The ansible.cfg read, if any.
    pub file: Option<PathBuf>,
    /// Inventory sources used when there is no `-i`.
    pub inventory: Setting<Vec<PathBuf>>,
    pub remote_user: Option<Setting<String>>,
    pub remote_port: Option<Setting<u16>>,
    pub private_key_file: Option<Setting<PathBuf>>,
    pub forks: Setting<u32>,
    pub timeout: Setting<u64>,
    pub host_key_checking: Setting<bool>,
    pub ask_pass: Setting<bool>,
    /// `[ssh_connection] ssh_args`, `ssh_common_args`, `ssh_extra_args`.
    pub ssh_args: Option<Setting<String>>,
    pub ssh_common_args: Option<Setting<String>>,
    pub ssh_extra_args: Option<Setting<String>>,
    pub become_enabled: Setting<bool>,
    pub become_user: Setting<String>,
    pub become_method: Setting<String>,
    pub become_ask_pass: Setting<bool>,
    /// For roles: where roles are searched, after `roles/` beside the playbook.
    pub roles_path: Setting<Vec<PathBuf>>,
    /// For vault: `--vault-password-file` when none is given.
    pub vault_password_file: Option<Setting<PathBuf>>,
    /// For vault: `--vault-id` values when none are given.
    pub vault_identity_list: Setting<Vec<String>>,
    /// For facts: whether plays gather by default.
    pub gathering: Setting<Gathering>,
}

/// The settings, and the warnings to show once before the run.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub settings: Settings,
    pub warnings: Vec<String>,
}

/// One setting's places, in Ansible's order (later wins).
struct Def {
    ini: &'static [(&'static str, &'static str)],
    env: &'static [&'static str],
}

const fn def(ini: &'static [(&'static str, &'static str)], env: &'static [&'static str]) -> Def {
    Def { ini, env }
}

const INVENTORY: Def = def(&[("defaults", "inventory")], &["ANSIBLE_INVENTORY"]);
const REMOTE_USER: Def = def(&[("defaults", "remote_user")], &["ANSIBLE_REMOTE_USER"]);
const REMOTE_PORT: Def = def(&[("defaults", "remote_port")], &["ANSIBLE_REMOTE_PORT"]);
const PRIVATE_KEY_FILE: Def = def(
    &[("defaults", "private_key_file")],
    &["ANSIBLE_PRIVATE_KEY_FILE"],
);
const FORKS: Def = def(&[("defaults", "forks")], &["ANSIBLE_FORKS"]);
const TIMEOUT: Def = def(
    &[("defaults", "timeout"), ("ssh_connection", "timeout")],
    &["ANSIBLE_TIMEOUT", "ANSIBLE_SSH_TIMEOUT"],
);
const HOST_KEY_CHECKING: Def = def(
    &[
        ("defaults", "host_key_checking"),
        ("ssh_connection", "host_key_checking"),
    ],
    &["ANSIBLE_HOST_KEY_CHECKING", "ANSIBLE_SSH_HOST_KEY_CHECKING"],
);
const ASK_PASS: Def = def(&[("defaults", "ask_pass")], &["ANSIBLE_ASK_PASS"]);
const SSH_ARGS: Def = def(&[("ssh_connection", "ssh_args")], &["ANSIBLE_SSH_ARGS"]);
const SSH_COMMON_ARGS: Def = def(
    &[("ssh_connection", "ssh_common_args")],
    &["ANSIBLE_SSH_COMMON_ARGS"],
);
const SSH_EXTRA_ARGS: Def = def(
    &[("ssh_connection", "ssh_extra_args")],
    &["ANSIBLE_SSH_EXTRA_ARGS"],
);
const BECOME: Def = def(&[("privilege_escalation", "become")], &["ANSIBLE_BECOME"]);
const BECOME_USER: Def = def(
    &[("privilege_escalation", "become_user")],
    &["ANSIBLE_BECOME_USER"],
);
const BECOME_METHOD: Def = def(
    &[("privilege_escalation", "become_method")],
    &["ANSIBLE_BECOME_METHOD"],
);
const BECOME_ASK_PASS: Def = def(
    &[("privilege_escalation", "become_ask_pass")],
    &["ANSIBLE_BECOME_ASK_PASS"],
);
const ROLES_PATH: Def = def(&[("defaults", "roles_path")], &["ANSIBLE_ROLES_PATH"]);
const VAULT_PASSWORD_FILE: Def = def(
    &[("defaults", "vault_password_file")],
    &["ANSIBLE_VAULT_PASSWORD_FILE"],
);
const VAULT_IDENTITY_LIST: Def = def(
    &[("defaults", "vault_identity_list")],
    &["ANSIBLE_VAULT_IDENTITY_LIST"],
);
const GATHERING: Def = def(&[("defaults", "gathering")], &["ANSIBLE_GATHERING"]);

/// Keys accepted without a warning although nothing reads them: what they
/// tune does not exist in rollout (it keeps one SSH session per host and
/// runs no Python on hosts).
const NEEDLESS: &[(&str, &str)] = &[
    ("defaults", "pipelining"),
    ("connection", "pipelining"),
    ("ssh_connection", "pipelining"),
    ("ssh_connection", "control_path"),
    ("ssh_connection", "control_path_dir"),
    ("defaults", "interpreter_python"),
];

/// Reads the settings from `env` and the ansible.cfg it leads to.
pub fn load(env: &Environment) -> Result<Loaded, Diagnostic> {
    let found = discovery::find(env)?;
    let file = match &found.path {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                Diagnostic::new(format!("cannot read '{}': {e}", path.display()))
                    .with_help("ansible.cfg must be a readable UTF-8 file")
            })?;
            Some(IniFile::parse(path, &text)?)
        }
        None => None,
    };
    let reader = Reader {
        env,
        file: file.as_ref(),
        used: RefCell::default(),
    };
    let settings = reader.settings()?;
    let mut warnings = found.warnings;
    warnings.extend(reader.unused());
    Ok(Loaded { settings, warnings })
}

/// A raw value and where it came from.
struct Raw {
    text: String,
    source: Source,
    /// What relative paths are relative to.
    base: PathBuf,
}

struct Reader<'a> {
    env: &'a Environment,
    file: Option<&'a IniFile>,
    /// `(section, key)` of the file's entries some setting read.
    used: RefCell<HashSet<(String, String)>>,
}

impl Reader<'_> {
    fn settings(&self) -> Result<Settings, Diagnostic> {
        let home = &self.env.home;
        Ok(Settings {
            file: self.file.map(|f| f.path.clone()),
            inventory: self
                .paths(&INVENTORY, ',')
                .unwrap_or_else(|| Setting::default(vec!["/etc/ansible/hosts".into()])),
            remote_user: self.text(&REMOTE_USER),
            remote_port: self.number(&REMOTE_PORT)?,
            private_key_file: self.path(&PRIVATE_KEY_FILE),
            forks: match self.number(&FORKS)? {
                Some(Setting { value: 0, source }) => {
                    return Err(self.invalid(&source, "0", "a number of hosts, at least 1"));
                }
                forks => forks.unwrap_or_else(|| Setting::default(5)),
            },
            timeout: self
                .number(&TIMEOUT)?
                .unwrap_or_else(|| Setting::default(10)),
            host_key_checking: self.boolean(&HOST_KEY_CHECKING, true)?,
            ask_pass: self.boolean(&ASK_PASS, false)?,
            ssh_args: self.text(&SSH_ARGS),
            ssh_common_args: self.text(&SSH_COMMON_ARGS),
            ssh_extra_args: self.text(&SSH_EXTRA_ARGS),
            become_enabled: self.boolean(&BECOME, false)?,
            become_user: self
                .text(&BECOME_USER)
                .unwrap_or_else(|| Setting::default("root".into())),
            become_method: self
                .text(&BECOME_METHOD)
                .unwrap_or_else(|| Setting::default("sudo".into())),
            become_ask_pass: self.boolean(&BECOME_ASK_PASS, false)?,
            roles_path: self.paths(&ROLES_PATH, ':').unwrap_or_else(|| {
                Setting::default(vec![
                    home.join(".ansible/roles"),
                    "/usr/share/ansible/roles".into(),
                    "/etc/ansible/roles".into(),
                ])
            }),
            vault_password_file: self.path(&VAULT_PASSWORD_FILE),
            vault_identity_list: self
                .raw(&VAULT_IDENTITY_LIST)
                .map(|raw| Setting {
                    value: raw
                        .text
                        .split(',')
                        .map(|s| unquote(s.trim()).to_string())
                        .filter(|s| !s.is_empty())
                        .collect(),
                    source: raw.source,
                })
                .unwrap_or_else(|| Setting::default(Vec::new())),
            gathering: self.gathering()?,
        })
    }

    /// The last place of `def` that is set: a variable beats the file.
    fn raw(&self, def: &Def) -> Option<Raw> {
        let mut found = None;
        if let Some(file) = self.file {
            for (section, key) in def.ini {
                let entry = [*section, "DEFAULT"].into_iter().find_map(|s| {
                    file.sections
                        .iter()
                        .find(|sec| sec.name == s)
                        .and_then(|sec| sec.entries.iter().find(|e| e.key == *key))
                        .map(|e| (s, e))
                });
                if let Some((in_section, entry)) = entry {
                    self.used
                        .borrow_mut()
                        .insert((in_section.to_string(), key.to_string()));
                    found = Some(Raw {
                        text: entry.value.clone(),
                        source: Source::File {
                            path: file.path.clone(),
                            line: entry.line,
                            section: section.to_string(),
                            key: key.to_string(),
                        },
                        base: file.path.parent().unwrap_or(Path::new("/")).to_path_buf(),
                    });
                }
            }
        }
        for name in def.env {
            if let Some(value) = self.env.var(name) {
                found = Some(Raw {
                    text: value.to_string(),
                    source: Source::Env(name.to_string()),
                    base: self.env.cwd.clone(),
                });
            }
        }
        found
    }

    /// A value that is not plain text; an empty variable gives the default
    /// (even over the file), as Ansible's fallback when one does not convert.
    fn typed(&self, def: &Def) -> Option<Raw> {
        self.raw(def)
            .filter(|raw| !(raw.text.is_empty() && matches!(raw.source, Source::Env(_))))
    }

    fn text(&self, def: &Def) -> Option<Setting<String>> {
        self.raw(def).map(|raw| Setting {
            value: unquote(&raw.text).to_string(),
            source: raw.source,
        })
    }

    fn path(&self, def: &Def) -> Option<Setting<PathBuf>> {
        self.typed(def).map(|raw| Setting {
            value: raw.base.join(expand_path(&raw.text, &self.env.home)),
            source: raw.source,
        })
    }

    /// A list of paths split on `separator` (`,` for Ansible's pathlist,
    /// `:` for its pathspec).
    fn paths(&self, def: &Def, separator: char) -> Option<Setting<Vec<PathBuf>>> {
        self.typed(def).map(|raw| Setting {
            value: raw
                .text
                .split(separator)
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| raw.base.join(expand_path(p, &self.env.home)))
                .collect(),
            source: raw.source,
        })
    }

    fn boolean(&self, def: &Def, default: bool) -> Result<Setting<bool>, Diagnostic> {
        let Some(raw) = self.typed(def) else {
            return Ok(Setting::default(default));
        };
        // Ansible reads anything unknown as false; a typo must not quietly
        // turn host key checking off.
        let value = crate::core::parse_bool(unquote(&raw.text))
            .ok_or_else(|| self.invalid(&raw.source, &raw.text, "true or false"))?;
        Ok(Setting {
            value,
            source: raw.source,
        })
    }

    fn number<T: std::str::FromStr>(&self, def: &Def) -> Result<Option<Setting<T>>, Diagnostic> {
        let Some(raw) = self.typed(def) else {
            return Ok(None);
        };
        let value = unquote(&raw.text)
            .parse()
            .map_err(|_| self.invalid(&raw.source, &raw.text, "a whole number"))?;
        Ok(Some(Setting {
            value,
            source: raw.source,
        }))
    }

    fn gathering(&self) -> Result<Setting<Gathering>, Diagnostic> {
        let Some(raw) = self.typed(&GATHERING) else {
            return Ok(Setting::default(Gathering::Implicit));
        };
        let value = match unquote(&raw.text) {
            "implicit" => Gathering::Implicit,
            "explicit" => Gathering::Explicit,
            "smart" => Gathering::Smart,
            _ => {
                return Err(self.invalid(&raw.source, &raw.text, "implicit, explicit or smart"));
            }
        };
        Ok(Setting {
            value,
            source: raw.source,
        })
    }

    fn invalid(&self, source: &Source, value: &str, expected: &str) -> Diagnostic {
        match source {
            Source::File {
                path,
                line,
                section,
                key,
            } => Diagnostic::at(
                path,
                Span {
                    line: *line,
                    col: 1,
                },
                format!("invalid value '{value}' for [{section}] {key}: expected {expected}"),
            ),
            other => Diagnostic::new(format!(
                "invalid value '{value}' in {other}: expected {expected}"
            )),
        }
    }

    /// One warning per entry of the file that nothing read, and one per
    /// section nothing reads at all.
    fn unused(&self) -> Vec<String> {
        let Some(file) = self.file else {
            return Vec::new();
        };
        let used = self.used.borrow();
        let known = |section: &str, key: &str| {
            used.contains(&(section.to_string(), key.to_string()))
                || NEEDLESS.contains(&(section, key))
        };
        let keys_of = |section: &str| -> Vec<&'static str> {
            ALL.iter()
                .flat_map(|d| d.ini.iter())
                .chain(NEEDLESS)
                .filter(|(s, _)| *s == section)
                .map(|(_, k)| *k)
                .collect()
        };
        let path = file.path.display();
        let mut warnings = Vec::new();
        for section in &file.sections {
            let section_keys = keys_of(&section.name);
            if section_keys.is_empty() && section.name != "DEFAULT" {
                warnings.push(format!(
                    "{path}:{}: rollout ignores the section [{}] ({} setting(s))",
                    section.line,
                    section.name,
                    section.entries.len()
                ));
                continue;
            }
            for entry in &section.entries {
                if known(&section.name, &entry.key) {
                    continue;
                }
                let hint = suggestion(&entry.key, section_keys.iter().copied())
                    .map(|h| format!(" ({h})"))
                    .unwrap_or_default();
                warnings.push(format!(
                    "{path}:{}: rollout ignores [{}] {}{hint}",
                    entry.line, section.name, entry.key
                ));
            }
        }
        warnings
    }
}

/// Every setting's places, for the unused-key check.
const ALL: &[&Def] = &[
    &INVENTORY,
    &REMOTE_USER,
    &REMOTE_PORT,
    &PRIVATE_KEY_FILE,
    &FORKS,
    &TIMEOUT,
    &HOST_KEY_CHECKING,
    &ASK_PASS,
    &SSH_ARGS,
    &SSH_COMMON_ARGS,
    &SSH_EXTRA_ARGS,
    &BECOME,
    &BECOME_USER,
    &BECOME_METHOD,
    &BECOME_ASK_PASS,
    &ROLES_PATH,
    &VAULT_PASSWORD_FILE,
    &VAULT_IDENTITY_LIST,
    &GATHERING,
];

/// Ansible's `unquote`: one pair of matching outer quotes removed.
fn unquote(text: &str) -> &str {
    for quote in ['"', '\''] {
        if text.len() >= 2
            && let Some(inner) = text.strip_prefix(quote).and_then(|t| t.strip_suffix(quote))
        {
            return inner;
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Project {
        dir: tempfile::TempDir,
    }

    impl Project {
        fn new(cfg: &str) -> Self {
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir_all(dir.path().join("project/sub")).unwrap();
            std::fs::create_dir_all(dir.path().join("home")).unwrap();
            std::fs::write(dir.path().join("project/ansible.cfg"), cfg).unwrap();
            Project { dir }
        }

        fn env(&self, vars: &[(&str, &str)]) -> Environment {
            Environment {
                vars: vars
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<HashMap<_, _>>(),
                cwd: self.dir.path().join("project"),
                home: self.dir.path().join("home"),
                system_config: self.dir.path().join("none"),
            }
        }

        fn path(&self, rel: &str) -> PathBuf {
            self.dir.path().join(rel)
        }
    }

    const CFG: &str = "[defaults]\n\
        inventory = hosts.ini, /abs/inv.yml ,~/inv\n\
        remote_user = deploy\n\
        private_key_file = keys/id_ed25519\n\
        forks = 20\n\
        timeout = 30\n\
        host_key_checking = False\n\
        roles_path = roles:~/shared-roles\n\
        vault_password_file = ~/.vault_pass\n\
        vault_identity_list = dev@~/.dev, 'prod@prompt'\n\
        gathering = explicit\n\
        nocows = 1\n\
        remote_usr = typo\n\
        [privilege_escalation]\n\
        become = True\n\
        become_user = app\n\
        become_method = su\n\
        become_ask_pass = yes\n\
        [ssh_connection]\n\
        ssh_args = -C -o ControlMaster=auto -o ControlPersist=60s\n\
        pipelining = True\n\
        [colors]\n\
        ok = green\n";

    #[test]
    fn a_project_config_gives_typed_settings_with_their_sources() {
        let p = Project::new(CFG);
        let Loaded {
            settings: s,
            warnings,
        } = load(&p.env(&[])).unwrap();
        let cfg = p.path("project/ansible.cfg");
        assert_eq!(s.file, Some(cfg.clone()));
        assert_eq!(
            s.inventory.value,
            vec![
                p.path("project/hosts.ini"),
                "/abs/inv.yml".into(),
                p.path("home/inv")
            ],
            "relative to the file's directory, ~ expanded"
        );
        assert_eq!(
            s.inventory.source,
            Source::File {
                path: cfg.clone(),
                line: 2,
                section: "defaults".into(),
                key: "inventory".into()
            }
        );
        assert_eq!(
            s.inventory.source.to_string(),
            format!("{}:2 [defaults] inventory", cfg.display())
        );
        assert_eq!(s.remote_user.unwrap().value, "deploy");
        assert_eq!(
            s.private_key_file.unwrap().value,
            p.path("project/keys/id_ed25519")
        );
        assert_eq!((s.forks.value, s.timeout.value), (20, 30));
        assert!(!s.host_key_checking.value);
        assert_eq!(
            s.roles_path.value,
            vec![p.path("project/roles"), p.path("home/shared-roles")]
        );
        assert_eq!(
            s.vault_password_file.unwrap().value,
            p.path("home/.vault_pass")
        );
        assert_eq!(s.vault_identity_list.value, ["dev@~/.dev", "prod@prompt"]);
        assert_eq!(s.gathering.value, Gathering::Explicit);
        assert!(s.become_enabled.value && s.become_ask_pass.value);
        assert_eq!(
            (s.become_user.value.as_str(), s.become_method.value.as_str()),
            ("app", "su")
        );
        assert_eq!(
            s.ssh_args.unwrap().value,
            "-C -o ControlMaster=auto -o ControlPersist=60s"
        );
        let shown = warnings.join("\n");
        assert_eq!(warnings.len(), 3, "{shown}");
        assert!(
            shown.contains(&format!(
                "{}:12: rollout ignores [defaults] nocows",
                cfg.display()
            )),
            "{shown}"
        );
        assert!(
            shown.contains("[defaults] remote_usr (did you mean 'remote_user'?)"),
            "{shown}"
        );
        assert!(
            shown.contains(":22: rollout ignores the section [colors] (1 setting(s))"),
            "{shown}"
        );
        assert!(!shown.contains("pipelining"), "{shown}");
    }

    #[test]
    fn variables_beat_the_file_and_defaults_fill_the_rest() {
        let p = Project::new(CFG);
        let env = p.env(&[
            ("ANSIBLE_INVENTORY", "sub/a,sub/b"),
            ("ANSIBLE_REMOTE_USER", "ops"),
            ("ANSIBLE_FORKS", ""),
            ("ANSIBLE_SSH_TIMEOUT", "7"),
            ("ANSIBLE_HOST_KEY_CHECKING", "yes"),
            ("ANSIBLE_BECOME", "false"),
            ("ANSIBLE_ROLES_PATH", "/r1:/r2"),
        ]);
        let s = load(&env).unwrap().settings;
        assert_eq!(
            s.inventory.value,
            vec![p.path("project/sub/a"), p.path("project/sub/b")],
            "a variable's relative paths are relative to the working directory"
        );
        assert_eq!(s.inventory.source, Source::Env("ANSIBLE_INVENTORY".into()));
        assert_eq!(s.remote_user.unwrap().value, "ops");
        assert_eq!(
            s.forks.value, 5,
            "an empty variable gives the default, even over the file (as Ansible)"
        );
        assert_eq!(s.timeout.value, 7);
        assert!(s.host_key_checking.value);
        assert!(!s.become_enabled.value);
        assert_eq!(s.roles_path.value, vec![PathBuf::from("/r1"), "/r2".into()]);

        let empty = tempfile::tempdir().unwrap();
        let none = Environment {
            vars: HashMap::new(),
            cwd: empty.path().to_path_buf(),
            home: empty.path().to_path_buf(),
            system_config: empty.path().join("none"),
        };
        let Loaded {
            settings: s,
            warnings,
        } = load(&none).unwrap();
        assert_eq!(s.file, None);
        assert!(warnings.is_empty());
        assert_eq!(s.inventory.value, vec![PathBuf::from("/etc/ansible/hosts")]);
        assert_eq!((s.forks.value, s.timeout.value), (5, 10));
        assert!(s.host_key_checking.value && !s.become_enabled.value);
        assert_eq!(s.become_user.value, "root");
        assert_eq!(s.become_method.value, "sudo");
        assert_eq!(s.gathering.value, Gathering::Implicit);
        assert_eq!(s.remote_user, None);
    }

    #[test]
    fn bad_values_name_their_place() {
        for (cfg, env, says) in [
            ("[defaults]\nforks = many\n", vec![], "ansible.cfg:2:1"),
            (
                "[defaults]\nforks = 0\n",
                vec![],
                "invalid value '0' for [defaults] forks",
            ),
            (
                "[defaults]\nhost_key_checking = nope\n",
                vec![],
                "invalid value 'nope' for [defaults] host_key_checking: expected true or false",
            ),
            (
                "[defaults]\ngathering = always\n",
                vec![],
                "implicit, explicit or smart",
            ),
            (
                "[defaults]\n",
                vec![("ANSIBLE_TIMEOUT", "soon")],
                "invalid value 'soon' in ANSIBLE_TIMEOUT: expected a whole number",
            ),
        ] {
            let p = Project::new(cfg);
            let err = load(&p.env(&env)).unwrap_err().to_string();
            assert!(err.contains(says), "{cfg:?}: {err}");
        }
    }
}
