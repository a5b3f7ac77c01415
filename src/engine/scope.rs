//! A host's variables as the templates see them.
//!
//! Variables are layered (inventory < play vars < vars_files < task vars <
//! facts/registered < extra vars, with magic variables on top) and templated
//! lazily, like Ansible: `vars: {url: "http://{{ host }}"}` is rendered when
//! `url` is used, with the same scope, so later layers are visible.

use crate::template::Templar;
use minijinja::value::{Enumerator, Object, Value};
use minijinja::{Error, ErrorKind};
use serde_json::Value as Json;
use std::cell::Cell;
use std::sync::Arc;

pub use crate::core::Vars;

/// Nesting of lazy variable renders; past this, a variable refers to itself.
const MAX_DEPTH: usize = 48;

thread_local! {
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

#[derive(Debug, Clone)]
pub struct Scope {
    /// Lowest precedence first.
    layers: Vec<Arc<Vars>>,
    /// Highest precedence: magic variables and loop variables.
    magic: Arc<Vars>,
    hostvars: Option<Value>,
    templar: Arc<Templar>,
}

impl Scope {
    pub fn new(
        templar: Arc<Templar>,
        layers: Vec<Arc<Vars>>,
        magic: Vars,
        hostvars: Option<Value>,
    ) -> Self {
        Scope {
            layers,
            magic: Arc::new(magic),
            hostvars,
            templar,
        }
    }

    /// A scope with one more top layer (loop items, a registered result).
    pub fn with_layer(&self, vars: Vars) -> Scope {
        let mut next = self.clone();
        let mut magic = (*self.magic).clone();
        magic.extend(vars);
        next.magic = Arc::new(magic);
        next
    }

    pub fn into_value(self) -> Value {
        Value::from_object(self)
    }

    fn raw(&self, key: &str) -> Option<&Json> {
        self.magic
            .get(key)
            .or_else(|| self.layers.iter().rev().find_map(|layer| layer.get(key)))
    }

    /// Every variable name visible in this scope.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.magic.keys().cloned().collect();
        for layer in self.layers.iter().rev() {
            names.extend(
                layer
                    .keys()
                    .filter(|k| !names.contains(k))
                    .cloned()
                    .collect::<Vec<_>>(),
            );
        }
        if self.hostvars.is_some() {
            names.push("hostvars".into());
        }
        names
    }
}

/// A JSON value as a template value.
pub fn to_value(value: &Json) -> Value {
    Value::from(minijinja::value::Serde(value))
}

fn holds_template(value: &Json) -> bool {
    match value {
        Json::String(s) => s.contains("{{") || s.contains("{%"),
        Json::Array(items) => items.iter().any(holds_template),
        Json::Object(map) => map.values().any(holds_template),
        _ => false,
    }
}

impl Object for Scope {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let key = key.as_str()?;
        if key == "hostvars"
            && let Some(hv) = &self.hostvars
        {
            return Some(hv.clone());
        }
        let raw = self.raw(key)?;
        if !holds_template(raw) {
            return Some(to_value(raw));
        }
        let depth = DEPTH.with(|d| {
            d.set(d.get() + 1);
            d.get()
        });
        let rendered = if depth > MAX_DEPTH {
            Err(format!(
                "variable '{key}' refers to itself (recursive templating)"
            ))
        } else {
            self.templar
                .render_value(raw, &Value::from_dyn_object(self.clone()))
                .map_err(|e| e.to_string())
        };
        DEPTH.with(|d| d.set(d.get() - 1));
        Some(match rendered {
            Ok(value) => to_value(&value),
            // An invalid value fails the template that uses it, with this message.
            Err(message) => Value::from(Error::new(ErrorKind::InvalidOperation, message)),
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.names().into_iter().map(Value::from).collect())
    }
}

/// Builds one host's scope on demand (`None` for an unknown host).
pub type ScopeBuilder = Box<dyn Fn(&str) -> Option<Scope> + Send + Sync>;

/// `hostvars`: every host's variables, each built only when a template
/// looks it up.
pub struct Hostvars {
    pub order: Vec<String>,
    pub build: ScopeBuilder,
}

impl std::fmt::Debug for Hostvars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hostvars({} hosts)", self.order.len())
    }
}

impl Object for Hostvars {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        (self.build)(key.as_str()?).map(Value::from_object)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.order.iter().map(|h| Value::from(h.as_str())).collect())
    }
}
