//! `group_vars/` and `host_vars/` directories, and how all the variable
//! layers combine into one host's variables.
//!
//! Precedence is Ansible's default (lowest first):
//! 1. inventory-file vars of `all`, then of the host's other groups
//! 2. `group_vars/all` beside the inventory, then beside the playbook
//! 3. `group_vars/<group>` beside the inventory, then beside the playbook
//! 4. inventory-file host vars, `host_vars/` beside the inventory, then
//!    beside the playbook
//!
//! Groups are applied parents before children (by depth), then by
//! `ansible_group_priority`, then by name. Merging replaces whole top-level
//! keys (Ansible's default `hash_behaviour=replace`).

use super::{ALL, Inventory, LOCALHOST_NAMES, Vars};
use crate::diag::Diagnostic;
use crate::yaml;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Extensions tried after the bare name, in Ansible's order.
const EXTENSIONS: [&str; 3] = ["yml", "yaml", "json"];

/// The variables found in one directory's `group_vars/` and `host_vars/`.
#[derive(Debug, Clone, Default)]
pub(super) struct VarsDir {
    groups: HashMap<String, Vars>,
    hosts: HashMap<String, Vars>,
}

impl VarsDir {
    /// Reads the files for every group and host `inv` knows (plus the
    /// implicit localhost). None when the directory has neither folder.
    pub(super) fn load(base: &Path, inv: &Inventory) -> Result<Option<VarsDir>, Diagnostic> {
        let (group_dir, host_dir) = (base.join("group_vars"), base.join("host_vars"));
        if !group_dir.is_dir() && !host_dir.is_dir() {
            return Ok(None);
        }
        let hosts = inv.hosts().chain(LOCALHOST_NAMES);
        Ok(Some(VarsDir {
            groups: load_entities(&group_dir, inv.groups())?,
            hosts: load_entities(&host_dir, hosts)?,
        }))
    }
}

fn load_entities<'a>(
    dir: &Path,
    names: impl Iterator<Item = &'a str>,
) -> Result<HashMap<String, Vars>, Diagnostic> {
    let mut found = HashMap::new();
    if !dir.is_dir() {
        return Ok(found);
    }
    for name in names {
        // A name is used as a file name; never let it leave the directory.
        if name.is_empty() || name.starts_with('.') || name.contains(['/', '\\']) {
            continue;
        }
        let mut vars = Vars::new();
        let mut any = false;
        for file in entity_files(dir, name) {
            vars.extend(load_vars_file(&file)?);
            any = true;
        }
        if any {
            found.insert(name.to_string(), vars);
        }
    }
    Ok(found)
}

/// `dir/name` (a file, or a directory of files), then `name.yml`,
/// `name.yaml`, `name.json`.
fn entity_files(dir: &Path, name: &str) -> Vec<PathBuf> {
    let bare = dir.join(name);
    let mut files = Vec::new();
    if bare.is_dir() {
        collect_dir(&bare, &mut files);
    } else if bare.is_file() {
        files.push(bare);
    }
    for ext in EXTENSIONS {
        let path = dir.join(format!("{name}.{ext}"));
        if path.is_file() {
            files.push(path);
        }
    }
    files
}

/// Files of a `group_vars/<name>/` directory, sorted, recursing into
/// subdirectories; hidden and backup files and other extensions are skipped.
fn collect_dir(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with('.') || name.ends_with('~') {
            continue;
        }
        if path.is_dir() {
            collect_dir(&path, files);
            continue;
        }
        let ext = path.extension().map(|e| e.to_string_lossy().into_owned());
        if ext.as_deref().is_none_or(|e| EXTENSIONS.contains(&e)) {
            files.push(path);
        }
    }
}

/// A vars file: YAML (or JSON) holding a mapping; empty means no variables.
fn load_vars_file(file: &Path) -> Result<Vars, Diagnostic> {
    let text = crate::vault::read_to_string(file)?;
    let node = yaml::parse(&text).map_err(|e| Diagnostic::yaml(file, &e, ""))?;
    if node.is_null() {
        return Ok(Vars::new());
    }
    match node.to_json() {
        Value::Object(vars) if node.as_map().is_some() => Ok(vars),
        _ => Err(Diagnostic::at(
            file,
            node.span,
            format!(
                "a vars file must hold a mapping of variables, found {}",
                node.type_name()
            ),
        )
        .with_help("write variables as `name: value` pairs")),
    }
}

impl Inventory {
    /// All of a host's inventory variables, merged by precedence.
    pub fn host_vars(&self, host: &str) -> Vars {
        let implicit = self.is_implicit_localhost(host);
        let Some(own) = self
            .hosts
            .get(host)
            .map(|h| h.vars.clone())
            .or_else(|| implicit.then(Inventory::implicit_localhost_vars))
        else {
            return Vars::new();
        };
        let groups = self.ordered_groups(host);
        let dirs = || {
            self.inventory_var_dirs
                .iter()
                .chain(&self.playbook_var_dirs)
        };

        let mut merged = Vars::new();
        let layers = std::iter::once(&self.groups[ALL].vars)
            .chain(groups.iter().map(|g| &self.groups[*g].vars))
            .chain(dirs().filter_map(|d| d.groups.get(ALL)))
            .chain(dirs().flat_map(|d| groups.iter().filter_map(|g| d.groups.get(*g))))
            .chain(std::iter::once(&own))
            .chain(dirs().filter_map(|d| d.hosts.get(host)));
        for layer in layers {
            merged.extend(layer.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        merged
    }

    /// The host's groups other than `all`, lowest precedence first.
    fn ordered_groups(&self, host: &str) -> Vec<&str> {
        let mut groups: Vec<&str> = self
            .groups_of(host)
            .into_iter()
            .filter(|g| *g != ALL)
            .collect();
        groups.sort_by_key(|g| (self.groups[*g].depth, self.priority(g), *g));
        groups
    }

    /// `ansible_group_priority` from the inventory file; default 1.
    fn priority(&self, group: &str) -> i64 {
        match self.groups[group].vars.get("ansible_group_priority") {
            Some(Value::Number(n)) => n.as_i64().unwrap_or(1),
            Some(Value::String(s)) => s.trim().parse().unwrap_or(1),
            _ => 1,
        }
    }
}
