//! A host's variables as the templates see them.
//!
//! Variables are layered (inventory < play vars < vars_files < task vars <
//! include_vars < facts/registered < extra vars, with magic variables on top) and templated
//! lazily, like Ansible: `vars: {url: "http://{{ host }}"}` is rendered when
//! `url` is used, with the same scope, so later layers are visible.
//!
//! What a host returned (registered results, module facts, loop items) is
//! data, never a template (Ansible's `AnsibleUnsafe`): a file holding
//! `{{ secret }}` read back with `cat` must stay those characters, so data
//! layers are handed out as they are and never rendered again.

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

/// One layer of variables, and whether its values are templates.
#[derive(Debug, Clone, Default)]
pub struct Layer {
    vars: Arc<Vars>,
    /// The values came from a host: never rendered.
    data: bool,
}

impl Layer {
    /// Values a host returned: used as they are.
    pub fn data(vars: Arc<Vars>) -> Layer {
        Layer { vars, data: true }
    }
}

impl From<Arc<Vars>> for Layer {
    /// User-written values: rendered lazily.
    fn from(vars: Arc<Vars>) -> Layer {
        Layer { vars, data: false }
    }
}

/// A host's facts for the rest of the run: what the user wrote (set_fact
/// literals, rendered lazily) apart from what hosts returned (registered
/// results, module facts, set_fact values built from them). A name lives in
/// one of the two maps only: the newest value wins. Below both, the
/// variables of include_vars files (templates too): a set_fact or a
/// register of the same name outranks them, whichever came first, as in
/// Ansible. Apart from all three, the fact cache: what modules (`setup`,
/// gathering) return and `set_fact` with `cacheable`, ranked just above
/// inventory variables as in Ansible.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub user: Arc<Vars>,
    pub data: Arc<Vars>,
    pub included: Arc<Vars>,
    /// The fact cache as templates see it (Ansible's namespace_facts and
    /// INJECT_FACTS_AS_VARS): each fact under the name it was returned
    /// with (`ansible_hostname`), and all of them in `ansible_facts`
    /// without the `ansible_` prefix (`ansible_facts['hostname']`).
    pub cache: Arc<Vars>,
}

/// The variable holding the fact cache without prefixes.
const ANSIBLE_FACTS: &str = "ansible_facts";

impl Facts {
    pub fn is_empty(&self) -> bool {
        self.user.is_empty()
            && self.data.is_empty()
            && self.included.is_empty()
            && self.cache.is_empty()
    }

    /// Facts for the fact cache, as a module returned them.
    pub fn cached(facts: Vars) -> Facts {
        let namespaced: Vars = (facts.iter())
            .map(|(name, value)| {
                let short = match name.strip_prefix("ansible_") {
                    Some(short) if name != "ansible_local" => short,
                    _ => name,
                };
                (short.to_string(), value.clone())
            })
            .collect();
        let mut cache = facts;
        cache.insert(ANSIBLE_FACTS.into(), Json::Object(namespaced));
        Facts {
            cache: Arc::new(cache),
            ..Facts::default()
        }
    }

    /// `meta: clear_facts`: forgets the fact cache (set_fact and
    /// registered variables stay, as in Ansible).
    pub fn clear_cache(&mut self) {
        self.cache = Arc::default();
    }

    /// Adds `new` over the current facts.
    pub fn merge(&mut self, new: Facts) {
        for (name, _) in new.user.iter().chain(new.data.iter()) {
            Arc::make_mut(&mut self.user).remove(name);
            Arc::make_mut(&mut self.data).remove(name);
        }
        Arc::make_mut(&mut self.user).extend(Arc::unwrap_or_clone(new.user));
        Arc::make_mut(&mut self.data).extend(Arc::unwrap_or_clone(new.data));
        Arc::make_mut(&mut self.included).extend(Arc::unwrap_or_clone(new.included));
        if new.cache.is_empty() {
            return;
        }
        let cache = Arc::make_mut(&mut self.cache);
        for (name, value) in Arc::unwrap_or_clone(new.cache) {
            match (cache.get_mut(&name), value) {
                (Some(Json::Object(old)), Json::Object(added)) if name == ANSIBLE_FACTS => {
                    old.extend(added);
                }
                (_, value) => {
                    cache.insert(name, value);
                }
            }
        }
    }

    /// The fact cache's scope layer (data: facts are never templates);
    /// `ansible_facts` is defined, empty, before any fact is known.
    pub fn cache_layer(&self) -> Layer {
        static EMPTY: std::sync::LazyLock<Arc<Vars>> = std::sync::LazyLock::new(|| {
            Arc::new(Vars::from_iter([(
                ANSIBLE_FACTS.into(),
                Json::Object(Vars::new()),
            )]))
        });
        if self.cache.is_empty() {
            Layer::data(EMPTY.clone())
        } else {
            Layer::data(self.cache.clone())
        }
    }

    /// The scope layers, lowest first (user and data are disjoint).
    pub fn layers(&self) -> [Layer; 3] {
        [
            self.included.clone().into(),
            self.user.clone().into(),
            Layer::data(self.data.clone()),
        ]
    }

    /// The value of `name`, whichever map holds it.
    pub fn get(&self, name: &str) -> Option<&Json> {
        (self.user.get(name).or_else(|| self.data.get(name))).or_else(|| self.included.get(name))
    }
}

#[derive(Debug, Clone)]
pub struct Scope {
    /// Lowest precedence first.
    layers: Vec<Layer>,
    /// Magic variables, above every layer.
    magic: Arc<Vars>,
    /// Loop variables and registered results, above everything (data).
    top: Vec<Arc<Vars>>,
    hostvars: Option<Value>,
    templar: Arc<Templar>,
}

impl Scope {
    pub fn new(
        templar: Arc<Templar>,
        layers: Vec<Layer>,
        magic: Vars,
        hostvars: Option<Value>,
    ) -> Self {
        Scope {
            layers,
            magic: Arc::new(magic),
            top: Vec::new(),
            hostvars,
            templar,
        }
    }

    /// A scope with one more top layer of data (loop items, a registered
    /// result): values a template produced or a host returned.
    pub fn with_data(&self, vars: Vars) -> Scope {
        let mut next = self.clone();
        next.top.push(Arc::new(vars));
        next
    }

    /// Whether `name` resolves to data (never rendered).
    pub fn is_data(&self, name: &str) -> bool {
        self.raw(name).is_some_and(|(_, data)| data)
    }

    pub fn into_value(self) -> Value {
        Value::from_object(self)
    }

    /// The value of `key` and whether it is data.
    fn raw(&self, key: &str) -> Option<(&Json, bool)> {
        let top = self.top.iter().rev().find_map(|vars| vars.get(key));
        (top.map(|v| (v, true)))
            .or_else(|| self.magic.get(key).map(|v| (v, false)))
            .or_else(|| {
                (self.layers.iter().rev())
                    .find_map(|layer| Some((layer.vars.get(key)?, layer.data)))
            })
    }

    /// Every variable name visible in this scope.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        let top = self.top.iter().rev().map(|vars| &**vars);
        let layers = self.layers.iter().rev().map(|layer| &*layer.vars);
        for vars in top.chain([&*self.magic]).chain(layers) {
            names.extend(
                vars.keys()
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
        let (raw, data) = self.raw(key)?;
        if data || !holds_template(raw) {
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
