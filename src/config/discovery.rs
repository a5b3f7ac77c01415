//! Which ansible.cfg is read: the first of `ANSIBLE_CONFIG` (a file, or a
//! directory holding `ansible.cfg`), `./ansible.cfg`, `~/.ansible.cfg`,
//! `/etc/ansible/ansible.cfg` that exists and is readable; only that one
//! (Ansible's `find_ini_config_file`).

use super::Environment;
use crate::diag::Diagnostic;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

pub const SYSTEM_CONFIG: &str = "/etc/ansible/ansible.cfg";

/// The file to read (if any), and what to warn about.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Found {
    pub path: Option<PathBuf>,
    pub warnings: Vec<String>,
}

pub fn find(env: &Environment) -> Result<Found, Diagnostic> {
    let mut found = Found::default();
    let mut candidates = Vec::new();
    if let Some(value) = env.var("ANSIBLE_CONFIG") {
        let path = env.absolute(&super::expand_path(value, &env.home));
        let path = if path.is_dir() {
            path.join("ansible.cfg")
        } else {
            path
        };
        // Ansible falls through to the next place when this file is
        // missing; an explicit setting that names nothing is a mistake.
        if !readable(&path) {
            return Err(Diagnostic::new(format!(
                "ANSIBLE_CONFIG names '{}', which is not a readable file",
                path.display()
            ))
            .with_help("point ANSIBLE_CONFIG at an ansible.cfg, or unset it"));
        }
        candidates.push(path);
    }
    let cwd_config = env.cwd.join("ansible.cfg");
    let world_writable = std::fs::metadata(&env.cwd)
        .map(|m| m.permissions().mode() & 0o002 != 0)
        .unwrap_or(false);
    if world_writable {
        if cwd_config.exists() && candidates.is_empty() {
            // Anyone could have put it there: Ansible skips it, and says so.
            found.warnings.push(format!(
                "rollout is being run in a world writable directory ({}), ignoring it as an \
                 ansible.cfg source",
                env.cwd.display()
            ));
        }
    } else {
        candidates.push(cwd_config);
    }
    candidates.push(env.home.join(".ansible.cfg"));
    candidates.push(env.system_config.clone());
    found.path = candidates.into_iter().find(|p| readable(p));
    Ok(found)
}

fn readable(path: &std::path::Path) -> bool {
    path.is_file() && std::fs::File::open(path).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(dir: &std::path::Path, vars: &[(&str, &str)]) -> Environment {
        Environment {
            vars: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<HashMap<_, _>>(),
            cwd: dir.join("project"),
            home: dir.join("home"),
            system_config: dir.join("etc/ansible.cfg"),
        }
    }

    #[test]
    fn first_found_wins_in_ansibles_order() {
        let dir = tempfile::tempdir().unwrap();
        for d in ["project", "home", "etc", "explicit"] {
            std::fs::create_dir(dir.path().join(d)).unwrap();
        }
        let e = env(dir.path(), &[]);
        assert_eq!(find(&e).unwrap(), Found::default(), "none anywhere");
        let write = |p: &str| std::fs::write(dir.path().join(p), "[defaults]\n").unwrap();
        write("etc/ansible.cfg");
        assert_eq!(
            find(&e).unwrap().path,
            Some(dir.path().join("etc/ansible.cfg"))
        );
        write("home/.ansible.cfg");
        assert_eq!(
            find(&e).unwrap().path,
            Some(dir.path().join("home/.ansible.cfg"))
        );
        write("project/ansible.cfg");
        assert_eq!(
            find(&e).unwrap().path,
            Some(dir.path().join("project/ansible.cfg"))
        );
        write("explicit/ansible.cfg");
        for value in ["../explicit/ansible.cfg", "../explicit"] {
            let e = env(dir.path(), &[("ANSIBLE_CONFIG", value)]);
            assert_eq!(
                find(&e).unwrap().path,
                Some(dir.path().join("project/../explicit/ansible.cfg")),
                "{value}: relative to the working directory; a directory holds ansible.cfg"
            );
        }
    }

    #[test]
    fn a_world_writable_directory_is_skipped_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("project");
        std::fs::create_dir(&project).unwrap();
        std::fs::write(project.join("ansible.cfg"), "[defaults]\n").unwrap();
        std::fs::set_permissions(&project, std::fs::Permissions::from_mode(0o777)).unwrap();
        let found = find(&env(dir.path(), &[])).unwrap();
        assert_eq!(found.path, None);
        assert!(
            found.warnings[0].contains("world writable directory"),
            "{found:?}"
        );
    }

    #[test]
    fn an_explicit_file_that_is_missing_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = find(&env(
            dir.path(),
            &[("ANSIBLE_CONFIG", "/nonexistent/a.cfg")],
        ))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("ANSIBLE_CONFIG names '/nonexistent/a.cfg'"),
            "{err}"
        );
    }
}
