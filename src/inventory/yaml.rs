//! YAML inventories: a mapping of groups, each with `hosts`, `children` and
//! `vars`, nested to any depth.

use super::{ALL, Inventory, Vars, range};
use crate::diag::{Diagnostic, Location};
use crate::yaml::Node;
use serde_json::Value;
use std::path::Path;

const GROUP_KEYS: [&str; 3] = ["hosts", "children", "vars"];

/// Shown whenever the structure is wrong, since the fix is always the shape.
const SHAPE_EXAMPLE: &str = "all:
  hosts:
    web1:
    web2:
      ansible_host: 10.0.0.2
  vars:
    ntp_server: ntp.example.com
  children:
    db:
      hosts:
        db1:";

const HOSTS_EXAMPLE: &str = "hosts:
  web1:
  web2:
    ansible_host: 10.0.0.2";

/// A help text followed by an example block, indented under the `help:` line.
fn with_example(intro: &str, example: &str) -> String {
    let body: Vec<String> = example.lines().map(|l| format!("        {l}")).collect();
    format!("{intro}\n{}", body.join("\n"))
}

/// The help for a wrongly shaped YAML inventory.
pub(super) fn shape_help() -> String {
    with_example("a YAML inventory looks like:", SHAPE_EXAMPLE)
}

struct Loader<'a> {
    inv: &'a mut Inventory,
    file: &'a Path,
}

/// Loads a YAML inventory whose root is already known to be a mapping.
pub(super) fn load(inv: &mut Inventory, root: &Node, file: &Path) -> Result<(), Diagnostic> {
    let mut loader = Loader { inv, file };
    for (key, value) in root.as_map().unwrap_or_default() {
        let name = loader.group_name(key)?;
        loader.group(&name, value)?;
    }
    Ok(())
}

impl Loader<'_> {
    fn error(&self, node: &Node, message: String) -> Diagnostic {
        Diagnostic::at(self.file, node.span, message)
    }

    fn group_name(&self, key: &Node) -> Result<String, Diagnostic> {
        let name = key.key_text();
        if name.trim().is_empty() || key.as_map().is_some() || key.as_seq().is_some() {
            return Err(self.error(key, format!("invalid group name '{name}'")));
        }
        Ok(name)
    }

    fn group(&mut self, name: &str, node: &Node) -> Result<(), Diagnostic> {
        self.inv.add_group(name);
        if node.is_null() {
            return Ok(());
        }
        let Some(pairs) = node.as_map() else {
            return Err(self
                .error(
                    node,
                    format!(
                        "group '{name}' must be a mapping with hosts, children or vars, found {}",
                        node.type_name()
                    ),
                )
                .with_help(shape_help()));
        };
        for (key, value) in pairs {
            match key.key_text().as_str() {
                "hosts" => self.hosts(name, value)?,
                "vars" => {
                    let vars = self.vars(value, &format!("vars of group '{name}'"))?;
                    self.inv.group_vars_mut(name).extend(vars);
                }
                "children" => self.children(name, value)?,
                other => {
                    let message = format!(
                        "unknown key '{other}' in group '{name}': expected hosts, children or vars"
                    );
                    return Err(self.error(key, message).suggest(other, GROUP_KEYS));
                }
            }
        }
        Ok(())
    }

    fn hosts(&mut self, group: &str, node: &Node) -> Result<(), Diagnostic> {
        if node.is_null() {
            return Ok(());
        }
        let Some(pairs) = node.as_map() else {
            let message = format!(
                "hosts of group '{group}' must be a mapping of host names, found {}",
                node.type_name()
            );
            return Err(self.error(node, message).with_help(with_example(
                "write each host as a key, optionally with its variables:",
                HOSTS_EXAMPLE,
            )));
        };
        for (key, value) in pairs {
            let entry = range::parse_host_entry(&key.key_text()).map_err(|e| self.error(key, e))?;
            let vars = self.vars(value, &format!("vars of host '{}'", key.key_text()))?;
            for host in &entry.names {
                let host_vars = self.inv.add_host(group, host);
                if let Some(port) = entry.port {
                    host_vars.insert("ansible_port".into(), Value::from(port));
                }
                host_vars.extend(vars.clone());
            }
        }
        Ok(())
    }

    fn children(&mut self, parent: &str, node: &Node) -> Result<(), Diagnostic> {
        if node.is_null() {
            return Ok(());
        }
        let Some(pairs) = node.as_map() else {
            let message = format!(
                "children of group '{parent}' must be a mapping of group names, found {}",
                node.type_name()
            );
            return Err(self.error(node, message).with_help(shape_help()));
        };
        for (key, value) in pairs {
            let child = self.group_name(key)?;
            if child == ALL {
                return Err(self.error(key, format!("group 'all' cannot be a child of '{parent}'")));
            }
            let at = Location::new(self.file, key.span);
            self.inv.add_child(parent, &child, Some(at));
            self.group(&child, value)?;
        }
        Ok(())
    }

    fn vars(&self, node: &Node, what: &str) -> Result<Vars, Diagnostic> {
        if node.is_null() {
            return Ok(Vars::new());
        }
        match node.to_json() {
            Value::Object(vars) if node.as_map().is_some() => Ok(vars),
            _ => Err(self
                .error(
                    node,
                    format!("{what} must be a mapping, found {}", node.type_name()),
                )
                .with_help("write variables as `name: value` pairs")),
        }
    }
}
