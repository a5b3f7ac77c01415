//! Ansible's lookup plugins: `lookup(name, terms...)`, `query(...)` and its
//! alias `q(...)`. They run on the controller while a template renders; each
//! plugin lives in its own module and turns its terms into a list of values.
//!
//! `lookup` shapes that list as Ansible 2.19 does (one value alone, several
//! strings joined with commas, anything else as the list); `query` and
//! `wantlist=true` keep the list. `errors=ignore|warn` turns a failure into
//! `None` (`[]` for a list).

mod env;
mod file;
mod fileglob;
mod first_found;
mod items;
mod password;
mod pipe;
mod template;
mod vars;

use super::invalid;
use minijinja::value::{Enumerator, Kwargs, Object, Rest, Value, ValueKind};
use minijinja::{Environment, Error, State};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// One call of a plugin: its terms and options, and the template state it
/// runs in (the variables, the playbook's directory).
pub struct Call<'a> {
    pub state: &'a State<'a, 'a>,
    pub terms: Vec<Value>,
    pub options: &'a Kwargs,
}

/// A plugin's values, or why it failed (in one sentence).
type Outcome = Result<Vec<Value>, String>;

type Plugin = fn(&Call<'_>) -> Outcome;

const PLUGINS: &[(&str, Plugin)] = &[
    ("file", file::run),
    ("env", env::run),
    ("template", template::run),
    ("pipe", pipe::run),
    ("lines", pipe::lines),
    ("password", password::run),
    ("first_found", first_found::run),
    ("vars", vars::run),
    ("items", items::flattened),
    ("list", items::as_given),
    ("fileglob", fileglob::run),
];

/// The variable that names the module of a `with_<lookup>` loop's task
/// (`first_found` searches the folder that module reads from).
pub const WITH_MODULE: &str = "__rollout_with_module";

/// Warnings of `errors=warn` lookups, taken by the engine after a task.
pub type Warnings = Arc<Mutex<Vec<String>>>;

/// Registers `lookup`, `query` and `q`.
pub fn register(env: &mut Environment<'static>, warnings: Warnings) {
    let sink = warnings.clone();
    env.add_function(
        "lookup",
        move |state: &State, name: String, terms: Rest<Value>, options: Kwargs| {
            invoke(state, &name, terms.0, &options, false, &sink)
        },
    );
    for alias in ["query", "q"] {
        let sink = warnings.clone();
        env.add_function(
            alias,
            move |state: &State, name: String, terms: Rest<Value>, options: Kwargs| {
                invoke(state, &name, terms.0, &options, true, &sink)
            },
        );
    }
}

fn invoke(
    state: &State,
    name: &str,
    terms: Vec<Value>,
    options: &Kwargs,
    query: bool,
    warnings: &Warnings,
) -> Result<Value, Error> {
    let name = name.strip_prefix("ansible.builtin.").unwrap_or(name);
    let wantlist = query || options.get::<Option<bool>>("wantlist")?.unwrap_or(false);
    let errors = options.get::<Option<String>>("errors")?;
    let errors = errors.as_deref().unwrap_or("strict");
    if !matches!(errors, "strict" | "warn" | "ignore") {
        return Err(invalid(format!(
            "errors must be one of strict, warn, ignore, got '{errors}'"
        )));
    }
    let Some((_, plugin)) = PLUGINS.iter().find(|(n, _)| *n == name) else {
        let known: Vec<&str> = PLUGINS.iter().map(|(n, _)| *n).collect();
        return Err(invalid(format!(
            "lookup plugin '{name}' is not supported (rollout has: {})",
            known.join(", ")
        )));
    };
    let call = Call {
        state,
        terms,
        options,
    };
    let outcome = plugin(&call);
    // An option the plugin does not know is an error whatever `errors` says.
    options.assert_all_used()?;
    let values = match outcome {
        Ok(values) => values,
        Err(message) => {
            let message = format!("The lookup plugin '{name}' failed: {message}");
            match errors {
                "strict" => return Err(invalid(message)),
                "warn" => lock(warnings).push(message),
                _ => {}
            }
            return Ok(if wantlist {
                Value::from(Vec::<Value>::new())
            } else {
                Value::from(())
            });
        }
    };
    Ok(shape(values, wantlist))
}

/// `lookup`'s result: one value alone, several strings joined with commas,
/// other lists as they are; `query` keeps the list.
fn shape(mut values: Vec<Value>, wantlist: bool) -> Value {
    if wantlist || values.is_empty() {
        return Value::from(values);
    }
    if values.len() == 1 {
        return values.remove(0);
    }
    if values.iter().all(|v| v.kind() == ValueKind::String) {
        let texts: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
        return Value::from(texts.join(","));
    }
    Value::from(values)
}

fn lock(warnings: &Warnings) -> std::sync::MutexGuard<'_, Vec<String>> {
    warnings
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Takes the warnings gathered so far.
pub fn take_warnings(warnings: &Warnings) -> Vec<String> {
    std::mem::take(&mut *lock(warnings))
}

impl Call<'_> {
    /// The terms as strings (numbers are fine; lists are not).
    pub fn text_terms(&self) -> Result<Vec<String>, String> {
        self.terms
            .iter()
            .map(|t| match t.kind() {
                ValueKind::String | ValueKind::Number | ValueKind::Bool => Ok(t.to_string()),
                _ => Err(format!("a term must be a string, got {t}")),
            })
            .collect()
    }

    /// An option's value, `None` when not given.
    pub fn option<T>(&self, key: &str) -> Result<Option<T>, String>
    where
        T: for<'v> minijinja::value::ArgType<'v, Output = T>,
    {
        self.options
            .get::<Option<T>>(key)
            .map_err(|e| format!("option '{key}': {e}"))
    }

    /// A variable of the template's context, if defined.
    pub fn var(&self, name: &str) -> Option<Value> {
        self.state
            .lookup(name)
            .filter(|v| !v.is_undefined() && !v.is_none())
    }

    /// The playbook's directory: where relative paths and commands start
    /// (Ansible's loader basedir), else the working directory.
    pub fn base_dir(&self) -> PathBuf {
        self.var("playbook_dir")
            .map(|v| PathBuf::from(v.to_string()))
            .unwrap_or_else(|| PathBuf::from("."))
    }

    /// Ansible's search path for a controller file: in the role's
    /// directory, then the playbook's, `<dir>/<subdir>/<needle>` before
    /// `<dir>/<needle>`; an absolute (or `~`) needle is taken as it is.
    pub fn find_file(&self, subdir: Option<&str>, needle: &str) -> Option<PathBuf> {
        if needle.starts_with('/') || needle.starts_with('~') {
            let path = expand_home(needle);
            return path.exists().then_some(path);
        }
        let dirs = self.var("role_path").map(|v| PathBuf::from(v.to_string()));
        let dirs = dirs.into_iter().chain([self.base_dir()]);
        dirs.flat_map(|dir| {
            let nested = subdir
                .filter(|s| needle.split('/').next() != Some(*s))
                .map(|s| dir.join(s).join(needle));
            nested.into_iter().chain([dir.join(needle)])
        })
        .find(|path| path.exists())
    }
}

/// `~/x` under the user's home directory.
fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => Path::new(&home).join(rest),
        _ => PathBuf::from(path),
    }
}

/// `vars` over the variables of `below`.
pub fn overlay(vars: BTreeMap<String, Value>, below: Value) -> Value {
    Value::from_object(Overlay { vars, below })
}

#[derive(Debug)]
struct Overlay {
    vars: BTreeMap<String, Value>,
    below: Value,
}

impl Object for Overlay {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        if let Some(value) = self.vars.get(key.as_str()?) {
            return Some(value.clone());
        }
        self.below.get_item(key).ok().filter(|v| !v.is_undefined())
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let below = self.below.try_iter().into_iter().flatten();
        let mut keys: Vec<Value> = self.vars.keys().map(|k| Value::from(k.as_str())).collect();
        keys.extend(below.filter(|k| !k.as_str().is_some_and(|k| self.vars.contains_key(k))));
        Enumerator::Values(keys)
    }
}

thread_local! {
    /// The contexts of the renders in progress on this thread, innermost
    /// last: the `template` lookup renders with its caller's variables.
    static CONTEXTS: RefCell<Vec<Value>> = const { RefCell::new(Vec::new()) };
}

/// Runs `render` with `ctx` as the current render's context.
pub fn with_context<T>(ctx: &Value, render: impl FnOnce() -> T) -> T {
    CONTEXTS.with(|c| c.borrow_mut().push(ctx.clone()));
    let out = render();
    CONTEXTS.with(|c| c.borrow_mut().pop());
    out
}

/// The context of the innermost render in progress.
fn current_context() -> Value {
    CONTEXTS.with(|c| c.borrow().last().cloned().unwrap_or(Value::UNDEFINED))
}

#[cfg(test)]
mod tests;
