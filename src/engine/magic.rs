//! Ansible's magic variables: the names the engine defines for templates
//! without the user declaring them. They are listed and built here, in one
//! place: the scopes insert what [`play`] and [`host`] build, and the lint
//! knows every name through [`names`].

use crate::core::Vars;
use serde_json::Value as Json;

/// What the play-level magic variables are made of, during one task.
pub struct PlayFacts<'a> {
    pub groups: &'a Vars,
    pub check: bool,
    pub diff: bool,
    pub verbosity: u8,
    /// Every host of the play (`ansible_play_hosts_all`).
    pub play_hosts: &'a [String],
    /// The batch's hosts still active (`ansible_play_batch`, and its old
    /// name `play_hosts`).
    pub active: &'a [String],
    /// The play's hosts not failed (`ansible_play_hosts`), later batches
    /// included.
    pub remaining: &'a [String],
    pub play_name: &'a str,
    pub playbook_dir: &'a str,
}

const PLAY: &[&str] = &[
    "groups",
    "ansible_check_mode",
    "ansible_diff_mode",
    "ansible_verbosity",
    "ansible_play_hosts_all",
    "ansible_play_batch",
    "ansible_play_hosts",
    "play_hosts",
    "ansible_play_name",
    "playbook_dir",
];

const HOST: &[&str] = &[
    "inventory_hostname",
    "inventory_hostname_short",
    "group_names",
];

/// A role's task's own (Ansible's `role_name`, `role_path` and the
/// role's full name, which without collections is its name).
const ROLE: &[&str] = &["role_name", "role_path", "ansible_role_name"];

/// Defined elsewhere in the engine: `hostvars` by the scope, loop
/// variables by the task, `omit` and `ansible_facts` by the templates.
const ENGINE: &[&str] = &[
    "hostvars",
    "item",
    "ansible_loop_var",
    "omit",
    "ansible_facts",
    "vars",
    "environment",
];

/// The template language's own globals and words.
const TEMPLATE: &[&str] = &[
    "range",
    "dict",
    "namespace",
    "lookup",
    "query",
    "q",
    "now",
    "true",
    "false",
    "none",
    "True",
    "False",
    "None",
    "loop",
    "self",
    "super",
    "varargs",
    "kwargs",
    "caller",
];

/// Every name that exists without being declared by the user.
pub fn names() -> impl Iterator<Item = &'static str> {
    [PLAY, HOST, ROLE, ENGINE, TEMPLATE]
        .into_iter()
        .flatten()
        .copied()
}

/// The play-level magic variables of one task.
pub fn play(facts: &PlayFacts<'_>) -> Vars {
    let strings = |v: &[String]| Json::Array(v.iter().cloned().map(Json::String).collect());
    let values = [
        Json::Object(facts.groups.clone()),
        Json::Bool(facts.check),
        Json::Bool(facts.diff),
        Json::from(facts.verbosity),
        strings(facts.play_hosts),
        strings(facts.active),
        strings(facts.remaining),
        strings(facts.active),
        Json::String(facts.play_name.to_string()),
        Json::String(facts.playbook_dir.to_string()),
    ];
    PLAY.iter().map(|k| k.to_string()).zip(values).collect()
}

/// A host's own magic variables.
pub fn host(host: &str, group_names: Vec<String>) -> Vars {
    let short = host.split('.').next().unwrap_or(host);
    let values = [
        Json::String(host.to_string()),
        Json::String(short.to_string()),
        Json::Array(group_names.into_iter().map(Json::String).collect()),
    ];
    HOST.iter().map(|k| k.to_string()).zip(values).collect()
}

/// The magic variables of a role's task.
pub fn role(role: &crate::playbook::RoleRef) -> Vars {
    let path = std::path::absolute(&role.path).unwrap_or_else(|_| role.path.clone());
    let values = [
        Json::String(role.name.clone()),
        Json::String(path.display().to_string()),
        Json::String(role.name.clone()),
    ];
    ROLE.iter().map(|k| k.to_string()).zip(values).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_built_is_what_is_listed() {
        let groups = Vars::new();
        let hosts = vec!["a".to_string(), "b".to_string()];
        let play = play(&PlayFacts {
            groups: &groups,
            check: true,
            diff: false,
            verbosity: 2,
            play_hosts: &hosts,
            active: &hosts[..1],
            remaining: &hosts[1..],
            play_name: "Roll",
            playbook_dir: "/p",
        });
        assert_eq!(play.len(), PLAY.len(), "every listed name has a value");
        assert_eq!(play["ansible_check_mode"], true);
        assert_eq!(play["ansible_verbosity"], 2);
        assert_eq!(
            play["ansible_play_hosts_all"],
            serde_json::json!(["a", "b"])
        );
        assert_eq!(play["ansible_play_batch"], serde_json::json!(["a"]));
        assert_eq!(play["ansible_play_hosts"], serde_json::json!(["b"]));
        assert_eq!(play["play_hosts"], serde_json::json!(["a"]));
        assert_eq!(play["ansible_play_name"], "Roll");
        assert_eq!(play["playbook_dir"], "/p");
        let host = host("web1.example.com", vec!["web".into()]);
        assert_eq!(host.len(), HOST.len());
        assert_eq!(host["inventory_hostname"], "web1.example.com");
        assert_eq!(host["inventory_hostname_short"], "web1");
        assert_eq!(host["group_names"], serde_json::json!(["web"]));
        let all: Vec<&str> = names().collect();
        for key in play.keys().chain(host.keys()) {
            assert!(all.contains(&key.as_str()), "{key} is not listed");
        }
    }
}
