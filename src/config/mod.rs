//! ansible.cfg and the `ANSIBLE_*` environment, read as Ansible reads them.
//!
//! - [`discovery`]: which ansible.cfg (one file, first found).
//! - [`ini`]: its INI dialect (configparser's).
//! - [`settings`]: the typed [`Settings`] the run acts on, each with where
//!   it came from; the environment beats the file, and the caller lets
//!   command-line flags beat both. Keys of the file that rollout does not
//!   act on are warned about once, by file, line, section and key.

pub mod discovery;
pub mod ini;
pub mod settings;

pub use settings::{Gathering, Loaded, Setting, Settings, Source};

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What settings are read from: the process's environment variables,
/// working directory and home (a value, so tests can make their own).
#[derive(Debug, Clone)]
pub struct Environment {
    pub vars: HashMap<String, String>,
    pub cwd: PathBuf,
    pub home: PathBuf,
    /// `/etc/ansible/ansible.cfg`.
    pub system_config: PathBuf,
}

impl Environment {
    pub fn current() -> Self {
        Environment {
            vars: std::env::vars().collect(),
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
            home: std::env::var_os("HOME").map_or_else(|| PathBuf::from("/"), PathBuf::from),
            system_config: PathBuf::from(discovery::SYSTEM_CONFIG),
        }
    }

    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// `path`, relative to the working directory.
    pub fn absolute(&self, path: &Path) -> PathBuf {
        self.cwd.join(path)
    }
}

/// `~` and `$VAR` expanded, as Ansible's `unfrackpath` does before joining
/// a relative path to its base.
pub fn expand_path(path: &str, home: &Path) -> PathBuf {
    let path = expand_vars(path);
    match path.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => {
            PathBuf::from(format!("{}{rest}", home.display()))
        }
        _ => PathBuf::from(path),
    }
}

/// `$NAME` and `${NAME}` from the environment; unknown ones stay as they
/// are (Python's `os.path.expandvars`).
fn expand_vars(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, tail) = match after.strip_prefix('{') {
            Some(inner) => match inner.find('}') {
                Some(end) => (&inner[..end], &inner[end + 1..]),
                None => ("", after),
            },
            None => {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..end], &after[end..])
            }
        };
        match std::env::var(name) {
            Ok(value) if !name.is_empty() => out.push_str(&value),
            _ => out.push_str(&rest[at..rest.len() - tail.len()]),
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_expand_home_and_variables() {
        let home = Path::new("/home/me");
        assert_eq!(
            expand_path("~/keys/id", home),
            PathBuf::from("/home/me/keys/id")
        );
        assert_eq!(expand_path("~", home), PathBuf::from("/home/me"));
        assert_eq!(expand_path("~other/x", home), PathBuf::from("~other/x"));
        // SAFETY-free: PATH is always set in a test process.
        let path = std::env::var("PATH").unwrap();
        assert_eq!(
            expand_path("$PATH/x", home),
            PathBuf::from(format!("{path}/x"))
        );
        assert_eq!(
            expand_path("${PATH}x", home),
            PathBuf::from(format!("{path}x"))
        );
        assert_eq!(
            expand_path("$ROLLOUT_SURELY_UNSET/a", home),
            PathBuf::from("$ROLLOUT_SURELY_UNSET/a")
        );
    }
}
