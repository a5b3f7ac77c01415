//! What each module accepts: its parameters, their types and aliases.
//!
//! The playbook loader checks literal arguments against these specs so that a
//! typo or a wrong type stops the run before any task executes; templated
//! arguments are checked again by [`validate`] once rendered.
//!
//! Each module's spec lives in its own file, in its row of the
//! [`registry`]; this file owns the vocabulary those rows are written in
//! ([`p`], [`required`], [`aliases`], [`choices`], [`ATTRS`]), the lookup by
//! name and the validation.

use super::registry;
use crate::core::{duration_from_secs, parse_bool, parse_duration};
use serde_json::{Map, Value as Json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    Bool,
    Int,
    /// Seconds as a number or a string such as `90s`, `5m`.
    Duration,
    List,
    Map,
    Any,
    /// A regular expression (a string that must compile: a literal one is
    /// checked when the playbook loads).
    Regex,
}

impl Kind {
    fn describe(self) -> &'static str {
        match self {
            Kind::Str => "a string",
            Kind::Bool => "a boolean",
            Kind::Int => "an integer",
            Kind::Duration => "a duration (seconds, or e.g. \"90s\", \"5m\")",
            Kind::List => "a list",
            Kind::Map => "a mapping",
            Kind::Any => "any value",
            Kind::Regex => "a regular expression",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
    pub aliases: &'static [&'static str],
    pub choices: &'static [&'static str],
}

pub const fn p(name: &'static str, kind: Kind) -> Param {
    Param {
        name,
        kind,
        required: false,
        aliases: &[],
        choices: &[],
    }
}

pub const fn required(mut param: Param) -> Param {
    param.required = true;
    param
}

pub const fn aliases(mut param: Param, names: &'static [&'static str]) -> Param {
    param.aliases = names;
    param
}

pub const fn choices(mut param: Param, names: &'static [&'static str]) -> Param {
    param.choices = names;
    param
}

/// Whether a module takes free-form text (`command: ls -l /tmp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreeForm {
    No,
    /// The free-form text is stored as this parameter.
    Into(&'static str),
}

#[derive(Debug)]
pub struct ModuleSpec {
    pub name: &'static str,
    pub free_form: FreeForm,
    pub params: &'static [Param],
    /// `set_fact` takes any variable name as a parameter.
    pub open_params: bool,
}

impl ModuleSpec {
    /// A module with these parameters and no free-form text.
    pub const fn new(name: &'static str, params: &'static [Param]) -> Self {
        ModuleSpec {
            name,
            free_form: FreeForm::No,
            params,
            open_params: false,
        }
    }

    /// Free-form text (`command: ls -l`) is stored as `param`.
    pub const fn free_form(mut self, param: &'static str) -> Self {
        self.free_form = FreeForm::Into(param);
        self
    }

    /// Any variable name is a parameter too.
    pub const fn open(mut self) -> Self {
        self.open_params = true;
        self
    }
}

use Kind::*;

/// `mode`, `owner`, `group`: shared by the modules that manage files.
pub const ATTRS: [Param; 3] = [p("mode", Str), p("owner", Str), p("group", Str)];

/// Every `meta:` action rollout accepts; the playbook's `MetaAction` parses
/// each of them.
pub const META_ACTIONS: [&str; 9] = [
    "flush_handlers",
    "noop",
    "end_play",
    "end_host",
    "end_batch",
    "clear_host_errors",
    "clear_facts",
    "refresh_inventory",
    "reset_connection",
];

/// `meta`: not a module the registry runs, but a directive the loader turns
/// into a `playbook::MetaAction` for the engine; its arguments are checked
/// like a module's.
pub static META: ModuleSpec = ModuleSpec::new(
    "meta",
    &[required(choices(p("action", Str), &META_ACTIONS))],
)
.free_form("action");

/// Modules rollout refuses by name, with what to use instead: the loader
/// reports these at the task's line rather than as unknown modules.
pub const UNSUPPORTED: &[(&str, &str)] = &[(
    "synchronize",
    "rollout does not run 'synchronize': rsync needs its own duplex SSH \
     session, and rollout carries every command over the host's one \
     connection, which has none. Use 'copy' (a file or a directory tree), \
     'archive' on the controller with 'unarchive' on the host for large \
     trees, or 'command: rsync -a SRC HOST:DEST' with 'delegate_to: localhost' \
     to run rsync on the controller over its own ssh",
)];

/// Why rollout refuses the module `name` (short or fully qualified), if it
/// is one it refuses on purpose.
pub fn unsupported(name: &str) -> Option<&'static str> {
    let short = canonical_name(name);
    UNSUPPORTED
        .iter()
        .find(|(n, _)| *n == short)
        .map(|(_, why)| *why)
}

/// Finds a module by its short or fully qualified name (`ansible.builtin.x`).
pub fn lookup(name: &str) -> Option<&'static ModuleSpec> {
    let short = canonical_name(name);
    match registry::find(short) {
        Some(module) => Some(&module.spec),
        None => (short == META.name).then_some(&META),
    }
}

/// `ansible.builtin.command` and `ansible.legacy.command` are `command`.
pub fn canonical_name(name: &str) -> &str {
    for prefix in [
        "ansible.builtin.",
        "ansible.legacy.",
        "community.general.",
        "community.aws.",
        "amazon.aws.",
        "ansible.posix.",
    ] {
        if let Some(short) = name.strip_prefix(prefix) {
            return short;
        }
    }
    name
}

/// Every module name, then `meta`.
pub fn module_names() -> impl Iterator<Item = &'static str> {
    registry::MODULES
        .iter()
        .map(|m| m.spec.name)
        .chain([META.name])
}

impl ModuleSpec {
    pub fn param(&self, name: &str) -> Option<&'static Param> {
        self.params
            .iter()
            .find(|p| p.name == name || p.aliases.contains(&name))
    }

    pub fn param_names(&self) -> impl Iterator<Item = &'static str> {
        self.params.iter().map(|p| p.name)
    }
}

/// A problem with one argument, reported with the argument's name so the
/// loader can point at it.
#[derive(Debug, Clone, PartialEq)]
pub struct ArgError {
    pub param: Option<String>,
    pub message: String,
    pub help: Option<String>,
}

/// Checks arguments against the spec and normalises them: aliases become the
/// canonical name and scalar strings become the declared type. Values that
/// still hold a template (`{{`) are left alone when `allow_templates` is set,
/// since they can only be checked once rendered.
pub fn validate(
    spec: &ModuleSpec,
    args: &Map<String, Json>,
    allow_templates: bool,
) -> Result<Map<String, Json>, ArgError> {
    let mut out = Map::new();
    for (name, value) in args {
        let Some(param) = spec.param(name) else {
            if spec.open_params {
                out.insert(name.clone(), value.clone());
                continue;
            }
            let help = crate::diag::did_you_mean(name, spec.param_names())
                .map(|s| format!("did you mean '{s}'?"))
                .or_else(|| {
                    Some(format!(
                        "'{}' accepts: {}",
                        spec.name,
                        spec.param_names().collect::<Vec<_>>().join(", ")
                    ))
                });
            return Err(ArgError {
                param: Some(name.clone()),
                message: format!("unsupported parameter '{name}' for module '{}'", spec.name),
                help,
            });
        };
        let value = if allow_templates && is_templated(value) {
            value.clone()
        } else {
            coerce(param, value)?
        };
        out.insert(param.name.to_string(), value);
    }
    for param in spec.params.iter().filter(|p| p.required) {
        if !out.contains_key(param.name) {
            return Err(ArgError {
                param: None,
                message: format!(
                    "module '{}' is missing the required parameter '{}'",
                    spec.name, param.name
                ),
                help: None,
            });
        }
    }
    Ok(out)
}

fn is_templated(value: &Json) -> bool {
    match value {
        Json::String(s) => s.contains("{{") || s.contains("{%"),
        _ => false,
    }
}

fn coerce(param: &Param, value: &Json) -> Result<Json, ArgError> {
    let wrong = || ArgError {
        param: Some(param.name.to_string()),
        message: format!(
            "parameter '{}' must be {}, got {}",
            param.name,
            param.kind.describe(),
            describe_json(value)
        ),
        help: None,
    };
    let coerced = match (param.kind, value) {
        (Any, v) => v.clone(),
        (_, Json::Null) => Json::Null,
        (Str, Json::String(_)) => value.clone(),
        (Regex, Json::String(s)) => {
            if let Err(failure) = crate::modules::py_regex::compile(s) {
                return Err(ArgError {
                    param: Some(param.name.to_string()),
                    message: format!("{}: {}", param.name, failure.msg.unwrap_or_default()),
                    help: Some("write the pattern in the syntax of Rust's regex crate (Python's without lookaround or backreferences in the pattern)".into()),
                });
            }
            value.clone()
        }
        (Regex, Json::Number(n)) => Json::String(n.to_string()),
        (Str, Json::Number(n)) => Json::String(n.to_string()),
        (Str, Json::Bool(b)) => Json::String(b.to_string()),
        (Bool, Json::Bool(_)) => value.clone(),
        (Bool, Json::String(s)) => Json::Bool(parse_bool(s).ok_or_else(wrong)?),
        (Bool, Json::Number(n)) if n.as_i64() == Some(0) || n.as_i64() == Some(1) => {
            Json::Bool(n.as_i64() == Some(1))
        }
        (Int, Json::Number(n)) if n.is_i64() => value.clone(),
        (Int, Json::String(s)) => Json::from(s.trim().parse::<i64>().map_err(|_| wrong())?),
        (Duration, Json::Number(n)) => {
            checked_secs(param, n.as_f64().ok_or_else(wrong)?)?;
            value.clone()
        }
        (Duration, Json::String(s)) => {
            let secs = parse_duration(s).ok_or_else(wrong)?;
            checked_secs(param, secs)?;
            Json::from(secs)
        }
        (List, Json::Array(_)) => value.clone(),
        // Ansible accepts a comma-separated string for list parameters.
        (List, Json::String(s)) => Json::Array(
            s.split(',')
                .map(|x| Json::String(x.trim().to_string()))
                .collect(),
        ),
        (Map, Json::Object(_)) => value.clone(),
        _ => return Err(wrong()),
    };
    if !param.choices.is_empty()
        && let Json::String(s) = &coerced
        && !param.choices.contains(&s.as_str())
    {
        let mut err = ArgError {
            param: Some(param.name.to_string()),
            message: format!(
                "value '{s}' of '{}' is not one of: {}",
                param.name,
                param.choices.join(", ")
            ),
            help: None,
        };
        if let Some(best) = crate::diag::did_you_mean(s, param.choices.iter().copied()) {
            err.help = Some(format!("did you mean '{best}'?"));
        }
        return Err(err);
    }
    Ok(coerced)
}

/// Refuses a duration argument out of range, naming the parameter (at load
/// time for a literal, when the task runs for a templated value).
fn checked_secs(param: &Param, secs: f64) -> Result<(), ArgError> {
    duration_from_secs(secs).map(drop).map_err(|e| ArgError {
        param: Some(param.name.to_string()),
        message: format!("parameter '{}': {e}", param.name),
        help: None,
    })
}

fn describe_json(value: &Json) -> String {
    match value {
        Json::Null => "null".into(),
        Json::Bool(b) => format!("the boolean {b}"),
        Json::Number(n) => format!("the number {n}"),
        Json::String(s) => format!("the string '{s}'"),
        Json::Array(_) => "a list".into(),
        Json::Object(_) => "a mapping".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Json) -> Map<String, Json> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn fully_qualified_names() {
        assert_eq!(lookup("ansible.builtin.command").unwrap().name, "command");
        assert!(lookup("comand").is_none());
    }

    #[test]
    fn unknown_param_suggests() {
        let err = validate(
            lookup("command").unwrap(),
            &obj(json!({"chdri": "/tmp"})),
            true,
        )
        .unwrap_err();
        assert_eq!(err.help.as_deref(), Some("did you mean 'chdir'?"));
    }

    #[test]
    fn coercion_and_types() {
        let spec = lookup("pause").unwrap();
        let out = validate(spec, &obj(json!({"seconds": "1m30s"})), false).unwrap();
        assert_eq!(out["seconds"], json!(90.0));
        for bad in [json!(-1), json!(1e20), json!("-5"), json!("99999999999h")] {
            let err = validate(spec, &obj(json!({ "seconds": bad })), false).unwrap_err();
            assert!(
                err.message.contains("parameter 'seconds'"),
                "{}",
                err.message
            );
        }
        let err = validate(spec, &obj(json!({"seconds": [1]})), false).unwrap_err();
        assert!(
            err.message.contains("must be a duration"),
            "{}",
            err.message
        );
        let out = validate(
            lookup("assert").unwrap(),
            &obj(json!({"that": "x", "msg": "m"})),
            false,
        )
        .unwrap();
        assert_eq!(out["fail_msg"], json!("m"), "alias becomes canonical name");
    }

    #[test]
    fn templates_are_checked_later() {
        let spec = lookup("pause").unwrap();
        assert!(validate(spec, &obj(json!({"seconds": "{{ n }}"})), true).is_ok());
        assert!(validate(spec, &obj(json!({"seconds": "{{ n }}"})), false).is_err());
    }

    #[test]
    fn required_and_choices() {
        let err = validate(lookup("assert").unwrap(), &Map::new(), false).unwrap_err();
        assert!(err.message.contains("required parameter 'that'"));
        let err = validate(
            lookup("meta").unwrap(),
            &obj(json!({"action": "flush_handler"})),
            false,
        )
        .unwrap_err();
        assert_eq!(err.help.as_deref(), Some("did you mean 'flush_handlers'?"));
    }
}
