//! Typed readers for the loader's scalar keyword values (strings, names,
//! booleans, counts, durations, percentages, mappings, string lists,
//! conditions) and [`Src`], the file a node came from. Each reads one YAML
//! node and turns a wrong value into a diagnostic at that node.

use super::model::Vars;
use crate::diag::{Diagnostic, Location};
use crate::yaml::{Node, Value};
use serde_json::{Map, Value as Json};
use std::path::{Path, PathBuf};

/// The file a node came from, for error locations.
#[derive(Clone, Copy)]
pub(super) struct Src<'a> {
    pub(super) file: &'a Path,
}

impl Src<'_> {
    pub(super) fn err(&self, node: &Node, message: impl Into<String>) -> Diagnostic {
        Diagnostic::at(self.file, node.span, message)
    }
    pub(super) fn loc(&self, node: &Node) -> Location {
        Location::new(self.file, node.span)
    }
    pub(super) fn dir(&self) -> PathBuf {
        self.file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    }
}

pub(super) fn string(src: Src, node: &Node, what: &str) -> Result<String, Diagnostic> {
    match &node.value {
        Value::Str(s) => Ok(s.clone()),
        Value::Int(_) | Value::Float(_) | Value::Bool(_) => Ok(node.key_text()),
        _ => Err(src.err(node, format!("expected {what}, found {}", node.type_name()))),
    }
}

/// `become_method`: rollout becomes other users with sudo or su.
pub(super) fn become_method(src: Src, node: &Node) -> Result<String, Diagnostic> {
    let method = string(src, node, "a become method")?;
    // A templated value cannot be checked before the run.
    if matches!(method.as_str(), "sudo" | "su") || method.contains("{{") {
        return Ok(method);
    }
    Err(src
        .err(
            node,
            format!("become_method '{method}' is not supported: rollout becomes with sudo or su"),
        )
        .with_help("use sudo or su"))
}

/// The `connection:` keyword (plays, blocks, tasks): what rollout can reach
/// a host with.
pub(super) fn connection(src: Src, node: &Node) -> Result<String, Diagnostic> {
    let name = string(src, node, "a connection (ssh or local)")?;
    if matches!(name.as_str(), "ssh" | "smart" | "paramiko" | "local") {
        return Ok(name);
    }
    Err(src
        .err(
            node,
            format!("connection '{name}' is not supported: rollout connects with ssh or local"),
        )
        .with_help("use ssh or local"))
}

pub(super) fn identifier(src: Src, node: &Node) -> Result<String, Diagnostic> {
    let s = string(src, node, "a variable name")?;
    let valid = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(src
            .err(node, format!("'{s}' is not a valid variable name"))
            .with_help("use letters, digits and underscores, not starting with a digit"));
    }
    Ok(s)
}

pub(super) fn boolean(src: Src, node: &Node) -> Result<bool, Diagnostic> {
    match &node.value {
        Value::Bool(b) => Ok(*b),
        Value::Str(s) => crate::core::parse_bool(s).ok_or_else(|| {
            src.err(
                node,
                format!("expected a boolean (true/false), found '{s}'"),
            )
        }),
        _ => Err(src.err(
            node,
            format!(
                "expected a boolean (true/false), found {}",
                node.type_name()
            ),
        )),
    }
}

pub(super) fn integer(src: Src, node: &Node) -> Result<u32, Diagnostic> {
    match &node.value {
        Value::Int(i) => u32::try_from(*i).map_err(|_| {
            src.err(
                node,
                format!("expected a whole number up to {}, found {i}", u32::MAX),
            )
        }),
        Value::Str(s) => s
            .trim()
            .parse()
            .map_err(|_| src.err(node, format!("expected a whole number, found '{s}'"))),
        _ => Err(src.err(
            node,
            format!("expected a whole number, found {}", node.type_name()),
        )),
    }
}

/// A duration at `node`, in range (see [`crate::core::duration_from_secs`]).
pub(super) fn seconds(src: Src, node: &Node) -> Result<std::time::Duration, Diagnostic> {
    let parsed = match &node.value {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        Value::Str(s) => crate::core::parse_duration(s),
        _ => None,
    };
    let secs = parsed.ok_or_else(|| {
        src.err(
            node,
            format!(
                "expected a duration in seconds (or e.g. \"30s\", \"5m\"), found {}",
                node.type_name()
            ),
        )
    })?;
    crate::core::duration_from_secs(secs).map_err(|e| src.err(node, e))
}

pub(super) fn percentage(src: Src, node: &Node) -> Result<f64, Diagnostic> {
    let value = match &node.value {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        Value::Str(s) => s
            .trim_end_matches('%')
            .trim()
            .parse()
            .map_err(|_| src.err(node, format!("expected a percentage, found '{s}'")))?,
        _ => {
            return Err(src.err(
                node,
                format!("expected a percentage, found {}", node.type_name()),
            ));
        }
    };
    if !(0.0..=100.0).contains(&value) {
        return Err(src.err(
            node,
            format!("max_fail_percentage must be between 0 and 100, found {value}"),
        ));
    }
    Ok(value)
}

pub(super) fn mapping(src: Src, node: &Node) -> Result<Vars, Diagnostic> {
    match node.to_json() {
        Json::Object(map) => Ok(map),
        Json::Null => Ok(Map::new()),
        _ => Err(src.err(
            node,
            format!("expected a mapping, found {}", node.type_name()),
        )),
    }
}

pub(super) fn string_list(src: Src, node: &Node) -> Result<Vec<String>, Diagnostic> {
    match &node.value {
        Value::Seq(items) => items.iter().map(|n| string(src, n, "a string")).collect(),
        Value::Str(s) => Ok(s
            .split(',')
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect()),
        _ => Ok(vec![string(src, node, "a string or a list of strings")?]),
    }
}

/// `when:` and friends: a string, a boolean, or a list of those.
pub(super) fn conditions(src: Src, node: &Node) -> Result<Vec<String>, Diagnostic> {
    let one = |n: &Node| match &n.value {
        Value::Str(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Int(i) => Ok((*i != 0).to_string()),
        _ => Err(src.err(
            n,
            format!(
                "expected a condition (a Jinja expression), found {}",
                n.type_name()
            ),
        )),
    };
    match &node.value {
        Value::Seq(items) => items.iter().map(one).collect(),
        _ => Ok(vec![one(node)?]),
    }
}
