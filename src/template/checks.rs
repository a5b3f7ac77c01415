//! Ansible's Jinja tests (`x is failed`, `v is version('1.2', '>=')` ...).
//!
//! minijinja's builtins cover `defined`, `undefined`, `none`, `string`,
//! `number`, `integer`, `float`, `mapping`, `sequence`, `iterable`,
//! `boolean`, `in` and the comparisons.

use super::filters::compile_regex;
use super::{invalid, list_of, parse_bool_word, require_defined, text};
use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{Environment, Error, State};
use regex::Regex;
use std::cmp::Ordering;
use std::path::Path;
use std::sync::LazyLock;

/// Tests on registered results: (test name, result key, negated).
const RESULT_TESTS: [(&str, &str, bool); 8] = [
    ("failed", "failed", false),
    ("failure", "failed", false),
    ("succeeded", "failed", true),
    ("success", "failed", true),
    ("changed", "changed", false),
    ("change", "changed", false),
    ("skipped", "skipped", false),
    ("skip", "skipped", false),
];

pub(super) fn register(env: &mut Environment<'static>) {
    env.add_test("truthy", truthy);
    env.add_test("falsy", |v: Value, kw: Kwargs| truthy(&v, kw).map(|t| !t));
    for kind in ["match", "search", "regex"] {
        env.add_test(kind, move |v: Value, p: String, kw: Kwargs| {
            regex_test(&v, &p, kw, kind)
        });
    }
    env.add_test("version", version);
    env.add_test("version_compare", version);
    env.add_filter("version_compare", version);
    for (name, key, negated) in RESULT_TESTS {
        env.add_test(name, move |r: Value| {
            result_flag(&r, key, name).map(|f| f != negated)
        });
    }
    env.add_test("contains", |state: &State, seq: Value, item: Value| {
        minijinja::tests::is_in(state, &item, &seq)
    });
    env.add_test("subset", subset);
    env.add_test("superset", |state: &State, a: Value, b: Value| {
        subset(state, b, a)
    });
    env.add_test("file", |p: String| Path::new(&p).is_file());
    env.add_test("directory", |p: String| Path::new(&p).is_dir());
    env.add_test("exists", |p: String| Path::new(&p).exists());
    env.add_test("link", |p: String| Path::new(&p).is_symlink());
    env.add_test("abs", |p: String| Path::new(&p).is_absolute());
}

/// Jinja truthiness; with `convert_bool=true` strings count as Ansible
/// booleans ("no" is false).
fn truthy(value: &Value, kwargs: Kwargs) -> Result<bool, Error> {
    let convert = kwargs.get::<Option<bool>>("convert_bool")?.unwrap_or(false);
    kwargs.assert_all_used()?;
    require_defined(value)?;
    Ok(match value.as_str() {
        Some(s) if convert => parse_bool_word(s).unwrap_or(false),
        _ => value.is_true(),
    })
}

/// `match` is anchored at the start (Python's `re.match`), `search` is not;
/// `regex` searches unless `match_type=` says otherwise.
fn regex_test(value: &Value, pattern: &str, kwargs: Kwargs, kind: &str) -> Result<bool, Error> {
    let kind = kwargs
        .get::<Option<String>>("match_type")?
        .unwrap_or_else(|| kind.to_string());
    let pattern = match kind.as_str() {
        "search" => pattern.to_string(),
        "match" => format!(r"\A(?:{pattern})"),
        "fullmatch" => format!(r"\A(?:{pattern})\z"),
        other => return Err(invalid(format!("unknown match_type '{other}'"))),
    };
    let re = compile_regex(&pattern, &kwargs)?;
    kwargs.assert_all_used()?;
    Ok(re.is_match(&text(value)?))
}

/// `version('1.2', '>=')`, also the `version_compare` filter. Compares like
/// Python's LooseVersion: numbers numerically, words alphabetically.
fn version(
    value: &Value,
    other: &Value,
    operator: Option<String>,
    kwargs: Kwargs,
) -> Result<bool, Error> {
    let operator = match operator {
        Some(op) => op,
        None => kwargs
            .get::<Option<String>>("operator")?
            .unwrap_or_else(|| "eq".into()),
    };
    // Accepted for compatibility; all versions compare loosely.
    let _: Option<bool> = kwargs.get("strict")?;
    let _: Option<String> = kwargs.get("version_type")?;
    kwargs.assert_all_used()?;
    let order = version_parts(&text(value)?).cmp(&version_parts(&text(other)?));
    let wanted: &[Ordering] = match operator.as_str() {
        "==" | "=" | "eq" => &[Ordering::Equal],
        "!=" | "<>" | "ne" => &[Ordering::Less, Ordering::Greater],
        "<" | "lt" => &[Ordering::Less],
        "<=" | "le" => &[Ordering::Less, Ordering::Equal],
        ">" | "gt" => &[Ordering::Greater],
        ">=" | "ge" => &[Ordering::Greater, Ordering::Equal],
        other => return Err(invalid(format!("invalid version operator '{other}'"))),
    };
    Ok(wanted.contains(&order))
}

/// A version component; numbers sort before words, as in LooseVersion.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Part {
    Num(u64),
    Word(String),
}

fn version_parts(version: &str) -> Vec<Part> {
    static PARTS: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\d+|[a-zA-Z]+").expect("valid regex"));
    PARTS
        .find_iter(version)
        .map(|m| match m.as_str().parse() {
            Ok(n) => Part::Num(n),
            Err(_) => Part::Word(m.as_str().to_string()),
        })
        .collect()
}

/// `failed`, `changed`, `skipped` ... read the registered result's flag.
fn result_flag(result: &Value, key: &str, test: &str) -> Result<bool, Error> {
    require_defined(result)?;
    if result.kind() != ValueKind::Map {
        return Err(invalid(format!(
            "the '{test}' test expects a registered result (a dictionary), got {}",
            result.kind()
        )));
    }
    let flag = result.get_attr(key)?;
    Ok(match flag.as_str() {
        Some(s) => parse_bool_word(s).unwrap_or(false),
        None => flag.is_true(),
    })
}

/// Every item of `a` is in `b`.
fn subset(state: &State, a: Value, b: Value) -> Result<bool, Error> {
    for item in list_of(&a)? {
        if !minijinja::tests::is_in(state, &item, &b)? {
            return Ok(false);
        }
    }
    Ok(true)
}
