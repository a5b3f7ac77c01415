//! The `vars_prompt` play keyword: variables asked of the user before the
//! play runs (the app asks; see `app::vars_prompt`).

use super::scalars::{Src, boolean, string};
use crate::diag::{Diagnostic, Location};
use crate::yaml::Node;

/// One variable to ask for.
#[derive(Debug, Clone, PartialEq)]
pub struct VarPrompt {
    pub name: String,
    /// The question; Ansible asks `input for NAME` without one.
    pub prompt: Option<String>,
    /// No echo (the default, as in Ansible).
    pub private: bool,
    /// Taken for an empty answer, or without a terminal.
    pub default: Option<String>,
    /// Ask twice until both answers match.
    pub confirm: bool,
    /// The answer is data, never rendered as a template.
    pub unsafe_: bool,
    pub location: Location,
}

const KEYS: &[&str] = &[
    "name",
    "prompt",
    "private",
    "default",
    "confirm",
    "unsafe",
    "encrypt",
    "salt",
    "salt_size",
];

/// `vars_prompt:`, a list of mappings with a `name` each.
pub(super) fn parse(src: Src, node: &Node) -> Result<Vec<VarPrompt>, Diagnostic> {
    let items = node.as_seq().ok_or_else(|| {
        src.err(node, "'vars_prompt' must be a list of prompts")
            .with_help("write e.g. '- name: release_version' with 'prompt: Which version?'")
    })?;
    items.iter().map(|item| prompt(src, item)).collect()
}

fn prompt(src: Src, item: &Node) -> Result<VarPrompt, Diagnostic> {
    let pairs = item
        .as_map()
        .ok_or_else(|| src.err(item, "a vars_prompt entry must be a mapping with a 'name'"))?;
    for (key, _) in pairs {
        let k = key.key_text();
        if !KEYS.contains(&k.as_str()) {
            return Err(src
                .err(key, format!("unknown vars_prompt key '{k}'"))
                .suggest(&k, KEYS.iter().copied()));
        }
        if matches!(k.as_str(), "encrypt" | "salt" | "salt_size") {
            return Err(src
                .err(key, format!("vars_prompt's '{k}' is not supported by rollout"))
                .with_help("prompt for the plain value and hash it where it is used, e.g. with the password_hash filter"));
        }
    }
    let name_node = item
        .get("name")
        .ok_or_else(|| src.err(item, "this vars_prompt entry has no 'name'"))?;
    let text = |key: &str| {
        item.get(key)
            .map(|n| string(src, n, "a string"))
            .transpose()
    };
    let flag = |key: &str, default: bool| {
        (item.get(key).map(|n| boolean(src, n)).transpose()).map(|b| b.unwrap_or(default))
    };
    Ok(VarPrompt {
        name: string(src, name_node, "a variable name")?,
        prompt: text("prompt")?,
        private: flag("private", true)?,
        default: text("default")?,
        confirm: flag("confirm", false)?,
        unsafe_: flag("unsafe", false)?,
        location: src.loc(item),
    })
}
