//! Ansible's filters.
//!
//! minijinja's builtins already cover the Jinja ones (`join`, `map`,
//! `selectattr`, `unique`, `zip` ...). `bool`, `int` and `float` are replaced
//! because Ansible's versions differ: `"yes" | bool` is true and
//! `"abc" | int` is 0 instead of an error.

use super::yaml_dump::{self, FlowStyle};
use super::{entries, invalid, list_of, require_defined, text};
use crate::core::{parse_bool, python_json};
use base64::Engine as _;
use indexmap::IndexMap;
use minijinja::value::{Kwargs, Rest, Value, ValueKind, ValueOrKwargs, from_args};
use minijinja::{Environment, Error, ErrorKind};
use regex::{Captures, Regex, RegexBuilder};
use serde_json::Value as Json;
use sha2::Digest;
use std::sync::LazyLock;

pub(super) fn register(env: &mut Environment<'static>) {
    env.add_filter("bool", to_bool);
    env.add_filter("int", to_int);
    env.add_filter("float", to_float);
    env.add_filter("mandatory", mandatory);
    env.add_filter("from_json", from_json);
    env.add_filter("to_json", |v: Value, kw: Kwargs| dump_json(&v, kw, false));
    env.add_filter("to_nice_json", |v: Value, kw: Kwargs| {
        dump_json(&v, kw, true)
    });
    env.add_filter("from_yaml", from_yaml);
    env.add_filter("to_yaml", |v: Value, kw: Kwargs| {
        dump_yaml(&v, None, kw, false)
    });
    env.add_filter(
        "to_nice_yaml",
        |v: Value, indent: Option<usize>, kw: Kwargs| dump_yaml(&v, indent, kw, true),
    );
    env.add_filter("quote", quote);
    env.add_filter("regex_replace", regex_replace);
    env.add_filter("regex_search", regex_search);
    env.add_filter("regex_findall", regex_findall);
    env.add_filter("regex_escape", |s: String| regex::escape(&s));
    env.add_filter("b64encode", b64encode);
    env.add_filter("b64decode", b64decode);
    env.add_filter("basename", basename);
    env.add_filter("dirname", dirname);
    env.add_filter("splitext", splitext);
    env.add_filter("path_join", path_join);
    env.add_filter("combine", combine);
    env.add_filter("dict2items", dict2items);
    env.add_filter("items2dict", items2dict);
    env.add_filter("ternary", ternary);
    env.add_filter("flatten", flatten);
    for (name, op) in [
        ("union", SetOp::Union),
        ("intersect", SetOp::Intersect),
        ("difference", SetOp::Difference),
        ("symmetric_difference", SetOp::SymmetricDifference),
    ] {
        env.add_filter(name, move |a: Value, b: Value| set_op(&a, &b, op));
    }
    env.add_filter("hash", hash);
    env.add_filter("checksum", |v: Value| hash(&v, None));
    env.add_filter("type_debug", type_debug);
    env.add_filter("extract", extract);
}

// ---- type conversions ----

/// Ansible's `bool`: only `true`, 1 and the "yes" words are true.
fn to_bool(value: &Value) -> Result<bool, Error> {
    require_defined(value)?;
    Ok(match value.kind() {
        ValueKind::Bool => value.is_true(),
        ValueKind::String => parse_bool(value.as_str().unwrap_or_default()).unwrap_or(false),
        ValueKind::Number => as_f64(value) == Some(1.0),
        _ => false,
    })
}

fn to_int(
    value: &Value,
    default: Option<Value>,
    base: Option<u32>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let base = match base {
        Some(base) => base,
        None => kwargs.get::<Option<u32>>("base")?.unwrap_or(10),
    };
    let rv = number_or_default(value, default, Value::from(0), &kwargs, |v| {
        let parsed = match v.kind() {
            ValueKind::Bool => Some(i64::from(v.is_true())),
            ValueKind::Number => v.as_i64().or_else(|| as_f64(v).map(|f| f as i64)),
            ValueKind::String => parse_int(v.as_str().unwrap_or_default(), base),
            _ => None,
        };
        parsed.map(Value::from)
    })?;
    kwargs.assert_all_used()?;
    Ok(rv)
}

fn to_float(value: &Value, default: Option<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let rv = number_or_default(value, default, Value::from(0.0), &kwargs, |v| {
        let parsed = match v.kind() {
            ValueKind::Bool => Some(if v.is_true() { 1.0 } else { 0.0 }),
            ValueKind::Number => as_f64(v),
            ValueKind::String => v.as_str().unwrap_or_default().trim().parse().ok(),
            _ => None,
        };
        parsed.map(Value::from)
    })?;
    kwargs.assert_all_used()?;
    Ok(rv)
}

/// Shared by `int` and `float`: like Python's Jinja, a value that does not
/// convert gives the default (positional or `default=`), not an error.
fn number_or_default(
    value: &Value,
    default: Option<Value>,
    zero: Value,
    kwargs: &Kwargs,
    convert: impl Fn(&Value) -> Option<Value>,
) -> Result<Value, Error> {
    let default = match default {
        Some(default) => default,
        None => kwargs.get::<Option<Value>>("default")?.unwrap_or(zero),
    };
    require_defined(value)?;
    Ok(convert(value).unwrap_or(default))
}

/// Python's `int(s, base)`, falling back to `int(float(s))` for "12.5".
fn parse_int(s: &str, base: u32) -> Option<i64> {
    let s = s.trim();
    let prefix = match base {
        16 => "0x",
        8 => "0o",
        2 => "0b",
        _ => "",
    };
    let digits = s.strip_prefix(prefix).unwrap_or(s);
    i64::from_str_radix(digits, base).ok().or_else(|| {
        let float: f64 = s.parse().ok()?;
        float.is_finite().then_some(float as i64)
    })
}

fn as_f64(value: &Value) -> Option<f64> {
    f64::try_from(value.clone()).ok()
}

/// `mandatory`: the engine's error message names the variable.
fn mandatory(value: &Value, message: Option<String>) -> Result<Value, Error> {
    if !value.is_undefined() {
        return Ok(value.clone());
    }
    Err(match message {
        Some(message) => invalid(message),
        None => Error::new(ErrorKind::UndefinedError, super::MANDATORY),
    })
}

/// Python's name of a value's type, as Ansible reports it.
pub(super) fn type_debug(value: &Value) -> &'static str {
    match value.kind() {
        ValueKind::Undefined => "AnsibleUndefined",
        ValueKind::None => "NoneType",
        ValueKind::Bool => "bool",
        ValueKind::Number if value.is_integer() => "int",
        ValueKind::Number => "float",
        ValueKind::String => "str",
        ValueKind::Bytes => "bytes",
        ValueKind::Seq => "list",
        ValueKind::Map => "dict",
        _ => "object",
    }
}

// ---- JSON and YAML ----

fn from_json(s: &str) -> Result<Value, Error> {
    serde_json::from_str(s).map_err(|e| invalid(format!("from_json: {e}")))
}

/// `to_json` and `to_nice_json` (indent 4, sorted keys); both take Python's
/// `indent=` and `sort_keys=`.
fn dump_json(value: &Value, kwargs: Kwargs, nice: bool) -> Result<String, Error> {
    let indent: Option<usize> = kwargs.get("indent")?;
    let sort_keys: Option<bool> = kwargs.get("sort_keys")?;
    kwargs.assert_all_used()?;
    require_defined(value)?;
    let indent = indent.or(nice.then_some(4));
    if sort_keys.unwrap_or(nice) {
        let json = serde_json::to_value(value).map_err(|e| invalid(e.to_string()))?;
        python_json(&sorted(json), indent)
    } else {
        python_json(value, indent)
    }
    .map_err(|e| invalid(format!("cannot write JSON: {e}")))
}

/// Sorts map keys at every level (serde_json may be built to keep order).
fn sorted(json: Json) -> Json {
    match json {
        Json::Object(map) => {
            let mut pairs: Vec<(String, Json)> = map.into_iter().collect();
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            Json::Object(pairs.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Json::Array(items) => Json::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

fn from_yaml(s: &str) -> Result<Value, Error> {
    let node = crate::yaml::parse(s)
        .map_err(|e| invalid(format!("from_yaml: {} at line {}", e.message, e.span.line)))?;
    Ok(yaml_node_value(&node))
}

/// Converts directly (not via JSON) to keep mapping order.
fn yaml_node_value(node: &crate::yaml::Node) -> Value {
    use crate::yaml::Value as Y;
    match &node.value {
        Y::Null => Value::from(()),
        Y::Bool(b) => Value::from(*b),
        Y::Int(i) => Value::from(*i),
        Y::Float(f) => Value::from(*f),
        Y::Str(s) => Value::from(s.as_str()),
        Y::Seq(items) => items.iter().map(yaml_node_value).collect(),
        Y::Map(pairs) => Value::from_pairs(
            pairs
                .iter()
                .map(|(k, v)| (k.key_text(), yaml_node_value(v))),
        ),
    }
}

/// `to_yaml` (flow style for collections of scalars, indent 2) and
/// `to_nice_yaml` (block style, indent 4), with their `indent=` and
/// `default_flow_style=`.
fn dump_yaml(
    value: &Value,
    indent: Option<usize>,
    kwargs: Kwargs,
    nice: bool,
) -> Result<String, Error> {
    let indent = match indent {
        Some(indent) => Some(indent),
        None => kwargs.get("indent")?,
    };
    let flow: Option<Value> = kwargs.get("default_flow_style")?;
    kwargs.assert_all_used()?;
    let style = match flow {
        Some(v) if v.is_none() => FlowStyle::Auto,
        Some(v) if v.is_true() => FlowStyle::Flow,
        Some(_) => FlowStyle::Block,
        None if nice => FlowStyle::Block,
        None => FlowStyle::Auto,
    };
    let default_indent = if nice { 4 } else { 2 };
    yaml_dump::dump(value, indent.unwrap_or(default_indent), style)
}

// ---- strings ----

/// Python's `shlex.quote`.
fn quote(value: &Value) -> Result<String, Error> {
    let s = if value.is_none() {
        String::new()
    } else {
        text(value)?
    };
    let safe = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c);
    Ok(if !s.is_empty() && s.chars().all(safe) {
        s
    } else {
        format!("'{}'", s.replace('\'', r#"'"'"'"#))
    })
}

fn b64encode(value: &Value) -> Result<String, Error> {
    Ok(base64::engine::general_purpose::STANDARD.encode(text(value)?))
}

fn b64decode(value: &Value) -> Result<String, Error> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text(value)?.trim())
        .map_err(|e| invalid(format!("b64decode: {e}")))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn hash(value: &Value, algorithm: Option<String>) -> Result<String, Error> {
    let data = text(value)?;
    let data = data.as_bytes();
    Ok(match algorithm.as_deref().unwrap_or("sha1") {
        "sha1" => hex::encode(sha1::Sha1::digest(data)),
        "sha224" => hex::encode(sha2::Sha224::digest(data)),
        "sha256" => hex::encode(sha2::Sha256::digest(data)),
        "sha384" => hex::encode(sha2::Sha384::digest(data)),
        "sha512" => hex::encode(sha2::Sha512::digest(data)),
        "md5" => hex::encode(md5::Md5::digest(data)),
        other => return Err(invalid(format!("hash: unsupported hash type '{other}'"))),
    })
}

// ---- regular expressions ----

/// Compiles a pattern with the `ignorecase=`/`multiline=` flags of Ansible's
/// regex filters and tests.
pub(super) fn compile_regex(pattern: &str, kwargs: &Kwargs) -> Result<Regex, Error> {
    let ignorecase: Option<bool> = kwargs.get("ignorecase")?;
    let multiline: Option<bool> = kwargs.get("multiline")?;
    RegexBuilder::new(pattern)
        .case_insensitive(ignorecase.unwrap_or(false))
        .multi_line(multiline.unwrap_or(false))
        .build()
        .map_err(|e| invalid(format!("invalid regular expression '{pattern}': {e}")))
}

fn regex_replace(
    value: &Value,
    pattern: &str,
    replacement: Option<&str>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let re = compile_regex(pattern, &kwargs)?;
    let count: Option<usize> = kwargs.get("count")?;
    kwargs.assert_all_used()?;
    let replacement = python_replacement(replacement.unwrap_or(""));
    Ok(re
        .replacen(&text(value)?, count.unwrap_or(0), replacement.as_str())
        .into_owned())
}

/// Translates Python's `\1` and `\g<name>` group references to the regex
/// crate's `${1}` / `${name}`, escaping literal `$`.
fn python_replacement(replacement: &str) -> String {
    static REFS: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\\g<(\w+)>|\\(\d+)|\\\\|\$").expect("valid regex"));
    REFS.replace_all(replacement, |caps: &Captures| {
        match caps.get(1).or_else(|| caps.get(2)) {
            Some(group) => format!("${{{}}}", group.as_str()),
            None if &caps[0] == "$" => "$$".to_string(),
            None => "\\".to_string(),
        }
    })
    .into_owned()
}

/// The match, or `None`; with group arguments (`'\\1'`, `'\\g<name>'`), the
/// list of those groups.
fn regex_search(value: &Value, pattern: &str, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let (groups, kwargs) = split_kwargs(args)?;
    let re = compile_regex(pattern, &kwargs)?;
    kwargs.assert_all_used()?;
    let haystack = text(value)?;
    let Some(caps) = re.captures(&haystack) else {
        return Ok(Value::from(()));
    };
    if groups.is_empty() {
        return Ok(Value::from(&caps[0]));
    }
    groups
        .iter()
        .map(|group| {
            let group = group.as_str().unwrap_or_default();
            let found = match group.strip_prefix("\\g<").and_then(|g| g.strip_suffix('>')) {
                Some(name) => caps.name(name),
                None => match group.strip_prefix('\\').map(str::parse::<usize>) {
                    Some(Ok(index)) => caps.get(index),
                    _ => return Err(invalid(format!("regex_search: unknown argument '{group}'"))),
                },
            };
            Ok(found.map_or(Value::from(()), |m| Value::from(m.as_str())))
        })
        .collect()
}

/// Python's `re.findall`: whole matches, the one group, or lists of groups.
fn regex_findall(value: &Value, pattern: &str, kwargs: Kwargs) -> Result<Value, Error> {
    let re = compile_regex(pattern, &kwargs)?;
    kwargs.assert_all_used()?;
    let haystack = text(value)?;
    let group = |caps: &Captures, i: usize| Value::from(caps.get(i).map_or("", |m| m.as_str()));
    Ok(re
        .captures_iter(&haystack)
        .map(|caps| match caps.len() {
            1 => group(&caps, 0),
            2 => group(&caps, 1),
            n => (1..n).map(|i| group(&caps, i)).collect(),
        })
        .collect())
}

// ---- paths (POSIX, like Python's posixpath) ----

fn basename(path: &str) -> String {
    path.rsplit('/').next().unwrap_or_default().to_string()
}

fn dirname(path: &str) -> String {
    let head = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    match head.trim_end_matches('/') {
        "" => head.to_string(),
        trimmed => trimmed.to_string(),
    }
}

/// `[root, ext]`; a leading dot (`.bashrc`) is not an extension.
fn splitext(path: &str) -> Value {
    let name_start = path.rfind('/').map_or(0, |i| i + 1);
    let dot = path
        .rfind('.')
        .filter(|&dot| dot >= name_start && path[name_start..dot].chars().any(|c| c != '.'));
    let (root, ext) = path.split_at(dot.unwrap_or(path.len()));
    Value::from(vec![Value::from(root), Value::from(ext)])
}

/// `['/etc', 'app', 'x.conf'] | path_join`; an absolute part restarts.
fn path_join(parts: &Value) -> Result<String, Error> {
    let parts = match parts.kind() {
        ValueKind::String => vec![parts.clone()],
        _ => list_of(parts)?,
    };
    let mut joined = String::new();
    for part in parts {
        let part = text(&part)?;
        if part.starts_with('/') || joined.is_empty() {
            joined = part;
        } else {
            if !joined.ends_with('/') {
                joined.push('/');
            }
            joined.push_str(&part);
        }
    }
    Ok(joined)
}

// ---- dictionaries and lists ----

const LIST_MERGE_MODES: [&str; 6] = [
    "replace",
    "keep",
    "append",
    "prepend",
    "append_rp",
    "prepend_rp",
];

/// Merges dictionaries left to right. Lists of dictionaries are accepted
/// as terms too (`[a, b] | combine`).
fn combine(first: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let (rest, kwargs) = split_kwargs(args)?;
    let recursive = kwargs.get::<Option<bool>>("recursive")?.unwrap_or(false);
    let list_merge: Option<String> = kwargs.get("list_merge")?;
    kwargs.assert_all_used()?;
    let list_merge = list_merge.as_deref().unwrap_or("replace");
    if !LIST_MERGE_MODES.contains(&list_merge) {
        return Err(invalid(format!(
            "combine: unknown list_merge '{list_merge}'"
        )));
    }
    let mut merged = IndexMap::new();
    for term in std::iter::once(first.clone()).chain(rest) {
        let dicts = match term.kind() {
            ValueKind::Seq => list_of(&term)?,
            _ => vec![term],
        };
        for dict in dicts {
            merge_into(
                &mut merged,
                entries(&dict, "combine")?,
                recursive,
                list_merge,
            )?;
        }
    }
    Ok(Value::from_pairs(merged))
}

fn merge_into(
    target: &mut IndexMap<Value, Value>,
    other: IndexMap<Value, Value>,
    recursive: bool,
    list_merge: &str,
) -> Result<(), Error> {
    for (key, new) in other {
        let merged = match target.get(&key).map(|old| (old.kind(), new.kind())) {
            Some((ValueKind::Map, ValueKind::Map)) if recursive => {
                let mut inner = entries(&target[&key], "combine")?;
                merge_into(&mut inner, entries(&new, "combine")?, recursive, list_merge)?;
                Value::from_pairs(inner)
            }
            Some((ValueKind::Seq, ValueKind::Seq)) => merge_lists(&target[&key], &new, list_merge)?,
            _ => new,
        };
        target.insert(key, merged);
    }
    Ok(())
}

fn merge_lists(old: &Value, new: &Value, mode: &str) -> Result<Value, Error> {
    let (old, new) = (list_of(old)?, list_of(new)?);
    let old_only: Vec<Value> = old.iter().filter(|x| !new.contains(x)).cloned().collect();
    let items = match mode {
        "keep" => old,
        "append" => [old, new].concat(),
        "prepend" => [new, old].concat(),
        "append_rp" => [old_only, new].concat(),
        "prepend_rp" => [new, old_only].concat(),
        _ => new,
    };
    Ok(Value::from(items))
}

fn dict2items(dict: &Value, kwargs: Kwargs) -> Result<Value, Error> {
    let (key_name, value_name) = item_names(&kwargs)?;
    Ok(entries(dict, "dict2items")?
        .into_iter()
        .map(|(k, v)| Value::from_pairs([(key_name.as_str(), k), (value_name.as_str(), v)]))
        .collect())
}

fn items2dict(items: &Value, kwargs: Kwargs) -> Result<Value, Error> {
    let (key_name, value_name) = item_names(&kwargs)?;
    let field = |item: &Value, name: &str| match item.get_attr(name) {
        Ok(v) if !v.is_undefined() => Ok(v),
        _ => Err(invalid(format!("items2dict: an item has no '{name}'"))),
    };
    let pairs = list_of(items)?
        .iter()
        .map(|item| Ok((field(item, &key_name)?, field(item, &value_name)?)))
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(Value::from_pairs(pairs))
}

/// The `key_name=`/`value_name=` options of `dict2items` and `items2dict`.
fn item_names(kwargs: &Kwargs) -> Result<(String, String), Error> {
    let key: Option<String> = kwargs.get("key_name")?;
    let value: Option<String> = kwargs.get("value_name")?;
    kwargs.assert_all_used()?;
    Ok((key.unwrap_or("key".into()), value.unwrap_or("value".into())))
}

fn ternary(value: &Value, yes: Value, no: Value, none: Option<Value>) -> Result<Value, Error> {
    require_defined(value)?;
    Ok(match none {
        Some(none) if value.is_none() => none,
        _ if value.is_true() => yes,
        _ => no,
    })
}

/// Flattens nested lists (`levels=` deep), dropping nulls unless
/// `skip_nulls=false`.
fn flatten(list: &Value, levels: Option<usize>, kwargs: Kwargs) -> Result<Value, Error> {
    let levels = match levels {
        Some(levels) => Some(levels),
        None => kwargs.get("levels")?,
    };
    let skip_nulls = kwargs.get::<Option<bool>>("skip_nulls")?.unwrap_or(true);
    kwargs.assert_all_used()?;
    let mut out = Vec::new();
    flatten_into(&mut out, list_of(list)?, levels, skip_nulls)?;
    Ok(Value::from(out))
}

fn flatten_into(
    out: &mut Vec<Value>,
    items: Vec<Value>,
    levels: Option<usize>,
    skip_nulls: bool,
) -> Result<(), Error> {
    for item in items {
        let is_null = item.is_none() || matches!(item.as_str(), Some("None" | "null"));
        if skip_nulls && is_null {
            continue;
        }
        if item.kind() == ValueKind::Seq && levels != Some(0) {
            flatten_into(out, list_of(&item)?, levels.map(|l| l - 1), skip_nulls)?;
        } else {
            out.push(item);
        }
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum SetOp {
    Union,
    Intersect,
    Difference,
    SymmetricDifference,
}

/// The set filters; results keep first-seen order and hold no duplicates.
fn set_op(a: &Value, b: &Value, op: SetOp) -> Result<Value, Error> {
    let (a, b) = (list_of(a)?, list_of(b)?);
    let items: Vec<&Value> = match op {
        SetOp::Union => a.iter().chain(&b).collect(),
        SetOp::Intersect => a.iter().filter(|x| b.contains(x)).collect(),
        SetOp::Difference => a.iter().filter(not_in(&b)).collect(),
        SetOp::SymmetricDifference => a
            .iter()
            .filter(not_in(&b))
            .chain(b.iter().filter(not_in(&a)))
            .collect(),
    };
    let mut unique: Vec<Value> = Vec::new();
    for item in items {
        if !unique.contains(item) {
            unique.push(item.clone());
        }
    }
    Ok(Value::from(unique))
}

fn not_in(other: &[Value]) -> impl Fn(&&Value) -> bool + '_ {
    move |x| !other.contains(x)
}

/// `['a'] | map('extract', hostvars, 'ansible_host')`: looks `key` up in
/// `container`, then each of `more` in the result.
fn extract(key: &Value, container: &Value, more: Option<Value>) -> Result<Value, Error> {
    let more = match more {
        None => vec![],
        Some(m) if m.kind() == ValueKind::Seq => list_of(&m)?,
        Some(m) => vec![m],
    };
    let mut value = container.get_item(key)?;
    for k in more {
        value = value.get_item(&k)?;
    }
    Ok(value)
}

/// Splits variadic arguments into positional values and keyword arguments.
fn split_kwargs(args: Rest<ValueOrKwargs>) -> Result<(Vec<Value>, Kwargs), Error> {
    let values = args.into_values();
    let (positional, kwargs): (&[Value], Kwargs) = from_args(&values)?;
    Ok((positional.to_vec(), kwargs))
}

#[cfg(test)]
mod tests {
    use crate::template::Templar;
    use minijinja::value::{Serde, Value};
    use serde_json::json;

    fn ctx() -> Value {
        Value::from(Serde(json!({
            "d": {"b": 2, "a": 1},
            "nums": [1, 2, 3],
            "path": "/etc/app/app.conf",
        })))
    }

    fn render(src: &str) -> String {
        Templar::new()
            .render_str(src, &ctx())
            .unwrap_or_else(|e| panic!("{src}: {e}"))
    }

    fn eval(expr: &str) -> serde_json::Value {
        Templar::new()
            .eval(expr, &ctx())
            .unwrap_or_else(|e| panic!("{expr}: {e}"))
    }

    fn fails(src: &str) -> String {
        Templar::new()
            .render_str(src, &ctx())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn bool_follows_ansible_words() {
        assert_eq!(
            eval("['yes', 'On', 'true', '1', 1, true] | map('bool') | list"),
            json!(vec![true; 6])
        );
        assert_eq!(
            eval("['no', 'off', 'false', '0', 2, none, 'abc'] | map('bool') | list"),
            json!(vec![false; 7])
        );
    }

    #[test]
    fn int_parses_or_defaults() {
        assert_eq!(eval("'12' | int"), json!(12));
        assert_eq!(eval("'abc' | int"), json!(0));
        assert_eq!(eval("'abc' | int(7)"), json!(7));
        assert_eq!(eval("'abc' | int(default=8)"), json!(8));
        assert_eq!(eval("'12.7' | int"), json!(12));
        assert_eq!(eval("'0x1A' | int(base=16)"), json!(26));
        assert_eq!(eval("true | int"), json!(1));
    }

    #[test]
    fn float_parses_or_defaults() {
        assert_eq!(eval("'1.5' | float"), json!(1.5));
        assert_eq!(eval("'x' | float"), json!(0.0));
        assert_eq!(eval("3 | float"), json!(3.0));
    }

    #[test]
    fn string_filter_stringifies() {
        assert_eq!(eval("5 | string"), json!("5"));
    }

    #[test]
    fn mandatory_names_the_variable() {
        assert_eq!(render("{{ nums | mandatory | length }}"), "3");
        let err = fails("{{ app_port | mandatory }}");
        assert!(
            err.starts_with("mandatory variable 'app_port' not defined"),
            "{err}"
        );
        assert!(fails("{{ x | mandatory('set x!') }}").contains("set x!"));
    }

    #[test]
    fn json_round_trip() {
        assert_eq!(
            eval("'{\"z\": [1, 2], \"a\": null}' | from_json"),
            json!({"z": [1, 2], "a": null})
        );
        assert_eq!(
            render("{{ {'b': 2, 'a': 1} | to_json }}"),
            r#"{"b": 2, "a": 1}"#
        );
        assert_eq!(
            render("{{ {'b': 2, 'a': 1} | to_nice_json }}"),
            "{\n    \"a\": 1,\n    \"b\": 2\n}"
        );
        assert_eq!(
            render("{{ nums | to_nice_json(indent=2) }}"),
            "[\n  1,\n  2,\n  3\n]"
        );
        // Recorded from Ansible 2.19's filters.
        let v = "{'b': [1, 'é', none, {}], 'a': {'x': true, 'y': []}, 'f': 1.5}";
        assert_eq!(
            render(&format!("{{{{ {v} | to_nice_json }}}}")),
            "{\n    \"a\": {\n        \"x\": true,\n        \"y\": []\n    },\n    \"b\": [\n        1,\n        \"\\u00e9\",\n        null,\n        {}\n    ],\n    \"f\": 1.5\n}"
        );
        assert_eq!(
            render(&format!("{{{{ {v} | to_json }}}}")),
            r#"{"b": [1, "\u00e9", null, {}], "a": {"x": true, "y": []}, "f": 1.5}"#
        );
    }

    #[test]
    fn yaml_round_trip() {
        assert_eq!(
            eval("'a: 1\\nb: [x, y]' | from_yaml"),
            json!({"a": 1, "b": ["x", "y"]})
        );
        // Layouts: the cases of `yaml_dump`'s tests.
        assert_eq!(render("{{ {'b': 2, 'a': 1} | to_yaml }}"), "{a: 1, b: 2}\n");
        assert_eq!(render("{{ {'l': [1]} | to_nice_yaml }}"), "l:\n- 1\n");
        assert_eq!(render("{{ {'l': [1]} | to_nice_yaml(2) }}"), "l:\n- 1\n");
        assert_eq!(
            render("{{ {'l': {'m': 1}} | to_yaml(default_flow_style=false) }}"),
            "l:\n  m: 1\n"
        );
        assert_eq!(eval("d | to_yaml | from_yaml"), json!({"a": 1, "b": 2}));
    }

    #[test]
    fn quote_is_shell_safe() {
        assert_eq!(
            render("{{ 'plain/path-1.txt' | quote }}"),
            "plain/path-1.txt"
        );
        assert_eq!(render("{{ \"it's here\" | quote }}"), r#"'it'"'"'s here'"#);
        assert_eq!(render("{{ '' | quote }}"), "''");
    }

    #[test]
    fn regex_replace_uses_python_groups() {
        assert_eq!(
            render(r"{{ 'host-01' | regex_replace('-(\d+)$', '_\1') }}"),
            "host_01"
        );
        assert_eq!(
            render("{{ 'aaa' | regex_replace('a', 'b', count=2) }}"),
            "bba"
        );
        assert_eq!(
            render("{{ 'ABC' | regex_replace('b', 'x', ignorecase=true) }}"),
            "AxC"
        );
        assert_eq!(render("{{ 'a' | regex_replace('a', '$0') }}"), "$0");
    }

    #[test]
    fn regex_search_returns_match_groups_or_none() {
        assert_eq!(
            eval("'v1.2.3' | regex_search('\\\\d+\\\\.\\\\d+')"),
            json!("1.2")
        );
        assert_eq!(eval("'abc' | regex_search('z')"), json!(null));
        assert_eq!(
            eval("'k=v' | regex_search('(?P<key>\\\\w)=(\\\\w)', '\\\\g<key>', '\\\\2')"),
            json!(["k", "v"])
        );
    }

    #[test]
    fn regex_findall_and_escape() {
        assert_eq!(
            eval("'a1b22' | regex_findall('\\\\d+')"),
            json!(["1", "22"])
        );
        assert_eq!(
            eval("'a=1,b=2' | regex_findall('(\\\\w)=(\\\\d)')"),
            json!([["a", "1"], ["b", "2"]])
        );
        assert_eq!(eval("'a.b' | regex_escape"), json!("a\\.b"));
    }

    #[test]
    fn base64_round_trip() {
        assert_eq!(render("{{ 'hello' | b64encode }}"), "aGVsbG8=");
        assert_eq!(render("{{ 'aGVsbG8=' | b64decode }}"), "hello");
    }

    #[test]
    fn path_filters_follow_posixpath() {
        assert_eq!(render("{{ path | basename }}"), "app.conf");
        assert_eq!(render("{{ path | dirname }}"), "/etc/app");
        assert_eq!(render("{{ '/x' | dirname }}|{{ 'x' | dirname }}"), "/|");
        assert_eq!(eval("'a/b.tar.gz' | splitext"), json!(["a/b.tar", ".gz"]));
        assert_eq!(eval("'.bashrc' | splitext"), json!([".bashrc", ""]));
        assert_eq!(
            eval("['/etc', 'app', 'x.conf'] | path_join"),
            json!("/etc/app/x.conf")
        );
    }

    #[test]
    fn combine_merges_dicts() {
        assert_eq!(
            eval("d | combine({'a': 9, 'c': 3})"),
            json!({"a": 9, "b": 2, "c": 3})
        );
        assert_eq!(
            eval("{'x': {'y': 1}} | combine({'x': {'z': 2}}, recursive=true)"),
            json!({"x": {"y": 1, "z": 2}})
        );
        assert_eq!(
            eval("{'x': {'y': 1}} | combine({'x': {'z': 2}})"),
            json!({"x": {"z": 2}})
        );
        assert_eq!(
            eval("[{'a': 1}, {'b': 2}] | combine({'c': 3})"),
            json!({"a": 1, "b": 2, "c": 3})
        );
        assert_eq!(
            eval("{'l': [1]} | combine({'l': [2]}, list_merge='append')"),
            json!({"l": [1, 2]})
        );
    }

    #[test]
    fn dict2items_and_back() {
        assert_eq!(
            eval("{'b': 2, 'a': 1} | dict2items"),
            json!([{"key": "b", "value": 2}, {"key": "a", "value": 1}])
        );
        assert_eq!(
            eval("{'k': 1} | dict2items(key_name='n', value_name='v')"),
            json!([{"n": "k", "v": 1}])
        );
        assert_eq!(eval("d | dict2items | items2dict"), json!({"a": 1, "b": 2}));
        assert_eq!(
            eval("[{'n': 'k', 'v': 1}] | items2dict(key_name='n', value_name='v')"),
            json!({"k": 1})
        );
    }

    #[test]
    fn ternary_picks_by_truth_and_none() {
        assert_eq!(
            render("{{ true | ternary('y', 'n') }}{{ 0 | ternary('y', 'n') }}"),
            "yn"
        );
        assert_eq!(render("{{ none | ternary('y', 'n', 'null') }}"), "null");
    }

    #[test]
    fn flatten_with_levels_and_nulls() {
        assert_eq!(eval("[1, [2, [3, none]]] | flatten"), json!([1, 2, 3]));
        assert_eq!(eval("[1, [2, [3]]] | flatten(1)"), json!([1, 2, [3]]));
        assert_eq!(
            eval("[1, [2, [3]]] | flatten(levels=1)"),
            json!([1, 2, [3]])
        );
    }

    #[test]
    fn set_filters() {
        assert_eq!(eval("[1, 2, 2] | union([3, 1])"), json!([1, 2, 3]));
        assert_eq!(eval("[1, 2, 3] | intersect([3, 1])"), json!([1, 3]));
        assert_eq!(eval("[1, 2, 3] | difference([2])"), json!([1, 3]));
        assert_eq!(eval("[1, 2] | symmetric_difference([2, 3])"), json!([1, 3]));
        assert_eq!(eval("[1, 2, 1] | unique | list"), json!([1, 2]));
        assert_eq!(
            eval("[1, 2] | zip(['a', 'b']) | list"),
            json!([[1, "a"], [2, "b"]])
        );
    }

    #[test]
    fn hashes_and_checksum() {
        let sha1 = "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d";
        assert_eq!(render("{{ 'hello' | hash('sha1') }}"), sha1);
        assert_eq!(render("{{ 'hello' | checksum }}"), sha1);
        assert_eq!(
            render("{{ 'hello' | hash('sha256') }}"),
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(
            render("{{ 'hello' | hash('md5') }}"),
            "5d41402abc4b2a76b9719d911017c592"
        );
        assert!(fails("{{ 'x' | hash('crc') }}").contains("unsupported hash type 'crc'"));
    }

    #[test]
    fn type_debug_names_python_types() {
        assert_eq!(
            eval("[1, 1.5, 'a', true, none, [], {}] | map('type_debug') | list"),
            json!(["int", "float", "str", "bool", "NoneType", "list", "dict"])
        );
    }

    #[test]
    fn extract_looks_up_keys() {
        assert_eq!(eval("['a', 'b'] | map('extract', d) | list"), json!([1, 2]));
        assert_eq!(eval("'x' | extract({'x': {'y': 5}}, 'y')"), json!(5));
    }

    #[test]
    fn undefined_input_fails() {
        assert!(fails("{{ nope | union([1]) }}").contains("'nope'"));
        assert!(fails("{{ nope | bool }}").contains("'nope'"));
    }
}
