//! A play's `load_balancer:` section as loaded: the value as written (its
//! templates are rendered per host at run time) and where each key is
//! written, so that an error found at load time, or only after rendering,
//! points at the key's own line. The checks themselves are
//! [`LbConfig::read`]'s, the same at both times.

use crate::diag::{Diagnostic, Location};
use crate::traffic::config::{self, KeyError, LbConfig, OnFailure, Values};
use crate::yaml::{Node, Value};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, PartialEq)]
pub struct LoadBalancerSection {
    raw: Json,
    /// Key path (`elbv2.port`) to the key's location; the empty path is
    /// the `load_balancer:` key itself.
    keys: BTreeMap<String, Location>,
    /// Whether the play has `rollback:` tasks, which `on_failure: rollback`
    /// runs.
    has_rollback: bool,
}

impl LoadBalancerSection {
    /// Reads the section (`key` is the `load_balancer` key, `value` its
    /// value) and checks what is written; templated values wait for
    /// [`resolve`](Self::resolve).
    pub fn load(
        file: &Path,
        key: &Node,
        value: &Node,
        has_rollback: bool,
    ) -> Result<LoadBalancerSection, Diagnostic> {
        let mut keys = BTreeMap::from([(String::new(), Location::new(file, key.span))]);
        key_locations(file, value, "", &mut keys);
        let section = LoadBalancerSection {
            raw: value.to_json(),
            keys,
            has_rollback,
        };
        // A section that is one template (`load_balancer: "{{ lb }}"`) is
        // all checked once rendered.
        if !section
            .raw
            .as_str()
            .is_some_and(crate::template::is_template)
        {
            section.check(&section.raw, Values::Written)?;
        }
        Ok(section)
    }

    /// The section as written, to render with a host's variables.
    pub fn raw(&self) -> &Json {
        &self.raw
    }

    /// Each value written under a key (not the mappings that hold other
    /// keys), with the key's location: for checks on its templates.
    pub fn values(&self) -> impl Iterator<Item = (&Location, &Json)> {
        self.keys.iter().filter_map(|(path, location)| {
            let value = path
                .split('.')
                .filter(|key| !key.is_empty())
                .try_fold(&self.raw, |value, key| value.get(key))?;
            (!value.is_object()).then_some((location, value))
        })
    }

    /// The section rendered for a host, checked; an error points at the
    /// key whose value is wrong.
    pub fn resolve(&self, rendered: &Json) -> Result<LbConfig, Diagnostic> {
        self.check(rendered, Values::Rendered)
            .map_err(|e| match e.help {
                Some(_) => e,
                // What is written passed the load-time check: rendering made it wrong.
                None => {
                    e.with_help("this is the value after rendering: check the variables it uses")
                }
            })
    }

    /// An error about the whole section (rendering it), at `load_balancer:`.
    pub fn error(&self, message: impl std::fmt::Display) -> Diagnostic {
        self.at(KeyError {
            path: String::new(),
            message: format!("load_balancer: {message}"),
            help: None,
        })
    }

    fn check(&self, value: &Json, values: Values) -> Result<LbConfig, Diagnostic> {
        let config = LbConfig::read(value, values).map_err(|e| self.at(e))?;
        if config.on_failure == OnFailure::Rollback && !self.has_rollback {
            return Err(self.at(KeyError {
                path: "on_failure".into(),
                message: "on_failure: rollback needs the play's 'rollback' tasks".into(),
                help: Some(
                    "add a 'rollback:' section (a task list like 'tasks:') that puts the \
                     previous release back, or use keep_out or restore"
                        .into(),
                ),
            }));
        }
        Ok(config)
    }

    /// The error at its key, or at the nearest enclosing key written in
    /// the playbook (a key that only rendering produced has no line).
    fn at(&self, error: KeyError) -> Diagnostic {
        let mut path = error.path.as_str();
        let location = loop {
            if let Some(location) = self.keys.get(path) {
                break Some(location.clone());
            }
            if path.is_empty() {
                break None;
            }
            path = path.rsplit_once('.').map_or("", |(parent, _)| parent);
        };
        let diagnostic = Diagnostic::new(error.message);
        let diagnostic = match location {
            Some(location) => diagnostic.with_location(location),
            None => diagnostic,
        };
        match error.help {
            Some(help) => diagnostic.with_help(help),
            None => diagnostic,
        }
    }
}

/// Records where each key of the mappings under `node` is written.
fn key_locations(file: &Path, node: &Node, parent: &str, keys: &mut BTreeMap<String, Location>) {
    let Value::Map(pairs) = &node.value else {
        return;
    };
    for (key, value) in pairs {
        let path = config::join(parent, &key.key_text());
        key_locations(file, value, &path, keys);
        keys.insert(path, Location::new(file, key.span));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PLAY: &str = "load_balancer:
  elbv2:
    target_groups: [\"{{ tg }}\"]
    port: 8080
  drain_timeout: \"{{ drain }}\"
  on_failure: rollback
";

    fn load(text: &str, has_rollback: bool) -> Result<LoadBalancerSection, Diagnostic> {
        let root = crate::yaml::parse(text).unwrap();
        let (key, value) = root.entry("load_balancer").unwrap();
        LoadBalancerSection::load(Path::new("site.yaml"), key, value, has_rollback)
    }

    fn line_col(d: &Diagnostic) -> (usize, usize) {
        let l = d.location.as_ref().unwrap();
        (l.line, l.col)
    }

    #[test]
    fn load_time_errors_point_at_the_key() {
        let e = load(&PLAY.replace("drain_timeout", "drain_timout"), true).unwrap_err();
        assert_eq!(line_col(&e), (5, 3));
        assert_eq!(e.help.as_deref(), Some("did you mean 'drain_timeout'?"));
        let e = load(&PLAY.replace("8080", "http"), true).unwrap_err();
        assert_eq!(line_col(&e), (4, 5), "{e}");
        let e = load(&PLAY.replace("\"{{ drain }}\"", "1e30"), true).unwrap_err();
        assert!(
            e.message
                .contains("drain_timeout: 1e30 seconds is too long"),
            "{e}"
        );
        assert_eq!(line_col(&e), (5, 3));
        let e = load(&PLAY.replace("\"{{ drain }}\"", "-1"), true).unwrap_err();
        assert!(
            e.message.contains("drain_timeout: -1 is not a duration"),
            "{e}"
        );
        let e = load(PLAY, false).unwrap_err();
        assert!(e.message.contains("'rollback' tasks"), "{e}");
        assert_eq!(line_col(&e), (6, 3));
    }

    #[test]
    fn rendered_errors_point_at_the_templated_key() {
        let section = load(PLAY, true).unwrap();
        let rendered = |drain: Json| json!({"elbv2": {"target_groups": ["tg"], "port": 8080}, "drain_timeout": drain, "on_failure": "rollback"});
        let e = section.resolve(&rendered(json!("soon"))).unwrap_err();
        assert!(
            e.message.contains("drain_timeout must be a duration"),
            "{e}"
        );
        assert!(e.message.contains("\"soon\""), "{e}");
        assert_eq!(line_col(&e), (5, 3));
        let c = section.resolve(&rendered(json!("5m"))).unwrap();
        assert_eq!(c.drain_timeout, Some(std::time::Duration::from_secs(300)));
        assert_eq!(line_col(&section.error("undefined")), (1, 1));
    }

    #[test]
    fn values_come_with_their_keys_locations() {
        let section = load(PLAY, true).unwrap();
        let lines: Vec<(usize, &Json)> = section.values().map(|(l, v)| (l.line, v)).collect();
        assert_eq!(
            lines,
            [
                (5, &json!("{{ drain }}")),
                (4, &json!(8080)),
                (3, &json!(["{{ tg }}"])),
                (6, &json!("rollback")),
            ]
        );
    }

    #[test]
    fn a_templated_section_is_checked_once_rendered() {
        let section = load("load_balancer: \"{{ lb }}\"\n", false).unwrap();
        let e = section.resolve(&json!({"elbv2": {}})).unwrap_err();
        assert!(e.message.contains("target_groups"), "{e}");
        // A key only rendering produced has no line: the section's is used.
        assert_eq!(line_col(&e), (1, 1));
    }
}
