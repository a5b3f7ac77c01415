//! Turning one `-i` argument into inventory: a file, a directory of files,
//! or a comma-separated host list. File formats are told apart by content,
//! not by extension, because inventories are often called just `hosts`.

use super::{Inventory, UNGROUPED, ini, range, yaml as yaml_inventory};
use crate::diag::Diagnostic;
use crate::yaml::{self, Node};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Names skipped in inventory directories, as Ansible does: hidden files,
/// variable directories, and editor/backup/documentation files.
const IGNORED_NAMES: [&str; 3] = ["group_vars", "host_vars", "vars_plugins"];
const IGNORED_SUFFIXES: [&str; 12] = [
    "~", ".orig", ".bak", ".swp", ".md", ".txt", ".rst", ".pyc", ".pyo", ".rpm", ".cfg", ".retry",
];

/// Loads one source into `inv`. Returns the directory whose `group_vars/`
/// and `host_vars/` belong to it (none for a host list).
pub(super) fn load_source(inv: &mut Inventory, path: &Path) -> Result<Option<PathBuf>, Diagnostic> {
    if path.is_dir() {
        load_dir(inv, path)?;
        return Ok(Some(path.to_path_buf()));
    }
    if path.is_file() {
        load_file(inv, path)?;
        let base = path.parent().filter(|p| !p.as_os_str().is_empty());
        return Ok(Some(
            base.map_or_else(|| PathBuf::from("."), Path::to_path_buf),
        ));
    }
    let text = path.to_string_lossy();
    if text.contains(',') {
        load_host_list(inv, &text)?;
        return Ok(None);
    }
    Err(Diagnostic::new(format!("inventory source '{text}' does not exist")).with_help(
        "pass an inventory file, a directory, or a comma-separated host list such as 'web1,web2,'",
    ))
}

/// `-i 'web1,web2:2222,'`: ungrouped hosts, like Ansible's host_list plugin.
fn load_host_list(inv: &mut Inventory, list: &str) -> Result<(), Diagnostic> {
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let entry = range::parse_host_entry(item)
            .map_err(|e| Diagnostic::new(format!("in host list '{list}': {e}")))?;
        for name in &entry.names {
            let vars = inv.add_host(UNGROUPED, name);
            if let Some(port) = entry.port {
                vars.insert("ansible_port".into(), Value::from(port));
            }
        }
    }
    Ok(())
}

/// Loads every inventory file below `dir`, in sorted order.
fn load_dir(inv: &mut Inventory, dir: &Path) -> Result<(), Diagnostic> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| {
            Diagnostic::new(format!(
                "cannot read inventory directory '{}': {e}",
                dir.display()
            ))
        })?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| !is_ignored(p))
        .collect();
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            load_dir(inv, &entry)?;
        } else {
            load_file(inv, &entry)?;
        }
    }
    Ok(())
}

fn is_ignored(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    name.starts_with('.')
        || IGNORED_NAMES.contains(&name.as_ref())
        || IGNORED_SUFFIXES.iter().any(|s| name.ends_with(s))
}

fn load_file(inv: &mut Inventory, file: &Path) -> Result<(), Diagnostic> {
    let text = crate::vault::read_to_string(file)?;
    let known = inv.hosts.len();
    load_text(inv, &text, file)?;
    // Ansible's `inventory_file`/`inventory_dir`: the absolute source a host
    // first appeared in (hosts are in definition order, so new ones are last).
    let path = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    let dir = path.parent().unwrap_or(&path).display().to_string();
    for (_, host) in inv.hosts.iter_mut().skip(known) {
        for (name, value) in [
            ("inventory_file", path.display().to_string()),
            ("inventory_dir", dir.clone()),
        ] {
            host.vars.entry(name).or_insert(Value::from(value));
        }
    }
    Ok(())
}

/// Picks the format. A YAML mapping of groups is a YAML inventory; anything
/// else is tried as INI. When INI fails too, the error shown is the one
/// from the format the text most resembles.
pub(super) fn load_text(inv: &mut Inventory, text: &str, file: &Path) -> Result<(), Diagnostic> {
    let parsed = yaml::parse(text);
    // A `!vault` value that cannot be decrypted: no use trying INI.
    if let Err(e) = &parsed
        && e.help.is_some()
    {
        return Err(Diagnostic::yaml(file, e, ""));
    }
    if let Ok(node) = &parsed
        && is_group_mapping(node)
    {
        return yaml_inventory::load(inv, node, file);
    }
    let ini_error = match ini::load(inv, text, file) {
        Ok(()) => return Ok(()),
        Err(e) => e,
    };
    match parsed {
        // A mapping with a non-group value: the YAML loader explains which.
        Ok(node) if node.as_map().is_some() => {
            yaml_inventory::load(inv, &node, file).and(Err(ini_error))
        }
        Ok(node) if looks_like_yaml(text) => Err(Diagnostic::at(
            file,
            node.span,
            format!(
                "a YAML inventory must be a mapping of groups, found {}",
                node.type_name()
            ),
        )
        .with_help(yaml_inventory::shape_help())),
        Err(e) if looks_like_yaml(text) => Err(Diagnostic::at(
            file,
            e.span,
            format!("invalid YAML inventory: {}", e.message),
        )),
        _ => Err(ini_error),
    }
}

/// A mapping whose values are all groups (null or mappings).
fn is_group_mapping(node: &Node) -> bool {
    node.as_map().is_some_and(|pairs| {
        pairs
            .iter()
            .all(|(_, v)| v.is_null() || v.as_map().is_some())
    })
}

/// Whether the first meaningful line reads like YAML (`key:`, `- item`,
/// `---`, `{`) rather than an INI section or host line.
fn looks_like_yaml(text: &str) -> bool {
    let Some(line) = text
        .lines()
        .map(str::trim_end)
        .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
    else {
        return false;
    };
    let line = line.trim_start();
    if line.starts_with("---") || line.starts_with("- ") || line == "-" || line.starts_with('{') {
        return true;
    }
    match line.split_once(':') {
        Some((key, rest)) => {
            !key.is_empty()
                && !key.contains(['=', '[', ' '])
                && (rest.is_empty() || rest.starts_with([' ', '\t']))
        }
        None => false,
    }
}
