//! The inventory: hosts, the groups they belong to, and their variables.
//!
//! Follows Ansible's model: every host is in `all`; hosts in no other group
//! are in `ungrouped`; groups nest through `children`; variables come from
//! the inventory sources and from `group_vars/` and `host_vars/` directories.
//!
//! - [`source`]: turning `-i` arguments into inventory (files, directories,
//!   host lists), detecting INI or YAML from the content.
//! - [`ini`], [`yaml`]: the two file formats.
//! - [`range`]: host names with ranges (`web[01:12]`) and ports.
//! - [`vars`]: `group_vars/`/`host_vars/` and variable precedence.
//! - [`pattern`]: host patterns (`web:&prod:!web3`, `~regex`, `web[0:2]`).

mod ini;
mod pattern;
mod range;
mod source;
mod vars;
mod yaml;

pub use pattern::Selection;

use crate::diag::{Diagnostic, Location};
use indexmap::{IndexMap, IndexSet};
use serde_json::Value;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

pub use crate::core::Vars;

/// Names that mean the control machine itself when not in the inventory.
pub const LOCALHOST_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

const ALL: &str = "all";
const UNGROUPED: &str = "ungrouped";

#[derive(Debug, Clone, Default)]
struct Host {
    /// Variables set in the inventory source itself.
    vars: Vars,
    /// Groups the host was put in directly (not through children).
    groups: IndexSet<String>,
}

#[derive(Debug, Clone, Default)]
struct Group {
    hosts: IndexSet<String>,
    /// Child groups, with where the edge was written (for cycle errors).
    children: IndexMap<String, Option<Location>>,
    parents: IndexSet<String>,
    /// Variables set in the inventory source itself.
    vars: Vars,
    /// Distance from `all`; deeper groups' variables win.
    depth: usize,
}

#[derive(Debug, Clone)]
pub struct Inventory {
    /// In the order hosts were first defined, which is "inventory order".
    hosts: IndexMap<String, Host>,
    groups: IndexMap<String, Group>,
    /// `group_vars/`/`host_vars/` beside each inventory source, in `-i` order.
    inventory_var_dirs: Vec<vars::VarsDir>,
    /// The same beside playbooks; these win over the inventory ones.
    playbook_var_dirs: Vec<vars::VarsDir>,
}

impl Default for Inventory {
    fn default() -> Self {
        let mut groups = IndexMap::new();
        groups.insert(ALL.to_string(), Group::default());
        groups.insert(UNGROUPED.to_string(), Group::default());
        Inventory {
            hosts: IndexMap::new(),
            groups,
            inventory_var_dirs: Vec::new(),
            playbook_var_dirs: Vec::new(),
        }
    }
}

impl Inventory {
    /// Loads and merges inventory sources in order: files (INI or YAML,
    /// detected from the content), directories of such files, or
    /// comma-separated host lists like `host1,host2,`.
    pub fn load(paths: &[PathBuf]) -> Result<Inventory, Diagnostic> {
        let mut inv = Inventory::default();
        let mut var_bases = Vec::new();
        for path in paths {
            if let Some(base) = source::load_source(&mut inv, path)? {
                var_bases.push(base);
            }
        }
        inv.finish()?;
        for base in var_bases {
            let dir = vars::VarsDir::load(&base, &inv)?;
            inv.inventory_var_dirs.extend(dir);
        }
        Ok(inv)
    }

    /// Adds `group_vars/` and `host_vars/` found beside a playbook; they take
    /// precedence over those beside the inventory.
    pub fn load_playbook_vars(&mut self, playbook_dir: &Path) -> Result<(), Diagnostic> {
        let dir = vars::VarsDir::load(playbook_dir, self)?;
        self.playbook_var_dirs.extend(dir);
        Ok(())
    }

    /// Host names in inventory order.
    pub fn hosts(&self) -> impl Iterator<Item = &str> {
        self.hosts.keys().map(String::as_str)
    }

    pub fn contains_host(&self, host: &str) -> bool {
        self.hosts.contains_key(host)
    }

    /// Group names in definition order, starting with `all` and `ungrouped`.
    pub fn groups(&self) -> impl Iterator<Item = &str> {
        self.groups.keys().map(String::as_str)
    }

    /// The `groups` magic variable: every group to its hosts (including
    /// those of child groups), in inventory order.
    pub fn groups_map(&self) -> Vars {
        self.groups
            .keys()
            .map(|g| {
                let hosts = self.group_hosts(g).into_iter().map(Value::from).collect();
                (g.clone(), Value::Array(hosts))
            })
            .collect()
    }

    /// The `group_names` magic variable: every group the host is in, directly
    /// or through children, sorted, without `all`.
    pub fn group_names(&self, host: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .groups_of(host)
            .into_iter()
            .filter(|g| *g != ALL)
            .map(str::to_string)
            .collect();
        names.sort();
        names
    }

    /// Whether `host` is the implicit localhost (named but not in inventory).
    pub fn is_implicit_localhost(&self, host: &str) -> bool {
        !self.contains_host(host) && LOCALHOST_NAMES.contains(&host)
    }

    /// Variables Ansible gives the implicit localhost on top of `all`'s.
    pub fn implicit_localhost_vars() -> Vars {
        let mut vars = Vars::new();
        vars.insert("ansible_connection".into(), Value::from("local"));
        vars
    }

    // --- building, used by the format loaders ---

    fn add_group(&mut self, name: &str) -> &mut Group {
        self.groups.entry(name.to_string()).or_default()
    }

    /// Puts a host in a group, creating both; returns the host's variables.
    fn add_host(&mut self, group: &str, host: &str) -> &mut Vars {
        self.add_group(group).hosts.insert(host.to_string());
        let entry = self.hosts.entry(host.to_string()).or_default();
        entry.groups.insert(group.to_string());
        &mut entry.vars
    }

    fn add_child(&mut self, parent: &str, child: &str, at: Option<Location>) {
        self.add_group(child).parents.insert(parent.to_string());
        self.add_group(parent)
            .children
            .entry(child.to_string())
            .or_insert(at);
    }

    fn group_vars_mut(&mut self, group: &str) -> &mut Vars {
        &mut self.add_group(group).vars
    }

    /// Settles what depends on the whole inventory: `ungrouped` membership
    /// and group depths (which also rejects cycles).
    fn finish(&mut self) -> Result<(), Diagnostic> {
        self.reconcile_ungrouped();
        self.compute_depths()
    }

    /// `ungrouped` holds exactly the hosts in no group but `all`, whatever
    /// the sources said.
    fn reconcile_ungrouped(&mut self) {
        let mut ungrouped = IndexSet::new();
        for (name, host) in &mut self.hosts {
            let lonely = host.groups.iter().all(|g| g == ALL || g == UNGROUPED);
            if lonely {
                host.groups.insert(UNGROUPED.to_string());
                ungrouped.insert(name.clone());
            } else {
                host.groups.shift_remove(UNGROUPED);
            }
        }
        self.add_group(UNGROUPED).hosts = ungrouped;
    }

    /// Depth of each group (longest path from `all`), by a topological walk
    /// so that a cycle is found rather than followed forever.
    fn compute_depths(&mut self) -> Result<(), Diagnostic> {
        let mut pending: Vec<usize> = self.groups.values().map(|g| g.parents.len()).collect();
        let mut depth: Vec<usize> = self
            .groups
            .keys()
            .map(|name| usize::from(name != ALL))
            .collect();
        let mut ready: Vec<usize> = (0..pending.len()).filter(|&i| pending[i] == 0).collect();
        let mut done = 0;
        while let Some(i) = ready.pop() {
            done += 1;
            for child in self.groups[i].children.keys() {
                let Some(c) = self.groups.get_index_of(child) else {
                    continue;
                };
                depth[c] = depth[c].max(depth[i] + 1);
                pending[c] -= 1;
                if pending[c] == 0 {
                    ready.push(c);
                }
            }
        }
        if done < self.groups.len() {
            return Err(self.cycle_error(&pending));
        }
        for (group, d) in self.groups.values_mut().zip(depth) {
            group.depth = d;
        }
        Ok(())
    }

    /// Describes one cycle among the groups the topological walk never
    /// reached. Each such group has an unreached parent, so walking parents
    /// must come back to a group already seen.
    fn cycle_error(&self, pending: &[usize]) -> Diagnostic {
        let stuck = |name: &str| {
            self.groups
                .get_index_of(name)
                .is_some_and(|i| pending[i] > 0)
        };
        let mut path: Vec<&str> = Vec::new();
        let mut current = self.groups.keys().find(|g| stuck(g)).map(String::as_str);
        while let Some(name) = current {
            if let Some(start) = path.iter().position(|p| *p == name) {
                path.drain(..start);
                path.push(name);
                break;
            }
            path.push(name);
            current = self.groups[name]
                .parents
                .iter()
                .map(String::as_str)
                .find(|p| stuck(p));
        }
        // The path runs child -> parent; show it parent -> child.
        path.reverse();
        let at = match path.as_slice() {
            [parent, child, ..] => self.groups[*parent].children.get(*child).cloned().flatten(),
            _ => None,
        };
        let diag = Diagnostic::new(format!(
            "group '{}' is its own descendant: {}",
            path.first().unwrap_or(&"?"),
            path.join(" -> ")
        ))
        .with_help("remove one of the `children` entries in this chain");
        match at {
            Some(loc) => diag.with_location(loc),
            None => diag,
        }
    }

    // --- queries shared by vars and patterns ---

    /// Every host of a group and of its descendants, in inventory order.
    fn group_hosts(&self, group: &str) -> Vec<String> {
        if group == ALL {
            return self.hosts.keys().cloned().collect();
        }
        let mut members = HashSet::new();
        for g in self.descendants(group) {
            members.extend(self.groups[g].hosts.iter().map(String::as_str));
        }
        self.hosts
            .keys()
            .filter(|h| members.contains(h.as_str()))
            .cloned()
            .collect()
    }

    /// A group and everything below it.
    fn descendants<'a>(&'a self, group: &'a str) -> IndexSet<&'a str> {
        self.closure(group, |g| g.children.keys())
    }

    /// Every group a host is in, directly or through children, incl. `all`.
    fn groups_of(&self, host: &str) -> IndexSet<&str> {
        let mut found = IndexSet::new();
        let Some(entry) = self.hosts.get(host) else {
            return found;
        };
        found.insert(ALL);
        for direct in &entry.groups {
            found.extend(self.closure(direct, |g| g.parents.iter()));
        }
        found
    }

    /// A group plus everything reachable through `next`, without recursion
    /// (chains of groups can be long).
    fn closure<'a, I>(&'a self, start: &'a str, next: impl Fn(&'a Group) -> I) -> IndexSet<&'a str>
    where
        I: Iterator<Item = &'a String>,
    {
        let mut seen = IndexSet::new();
        let mut stack = vec![start];
        while let Some(name) = stack.pop() {
            let Some((_, key, group)) = self.groups.get_full(name) else {
                continue;
            };
            if seen.insert(key.as_str()) {
                stack.extend(next(group).map(String::as_str));
            }
        }
        seen
    }
}

#[cfg(test)]
mod tests;
