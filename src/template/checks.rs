//! Ansible's Jinja tests (`x is failed`, `v is version('1.2', '>=')` ...).
//!
//! minijinja's builtins cover `defined`, `undefined`, `none`, `string`,
//! `number`, `integer`, `float`, `mapping`, `iterable`,
//! `boolean`, `in` and the comparisons.

use super::filters::compile_regex;
use super::{invalid, list_of, require_defined, text};
use crate::core::parse_bool;
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
    for (name, kind) in [
        ("match", "match"),
        ("search", "search"),
        ("regex", "search"),
    ] {
        env.add_test(name, move |v: Value, p: String, kw: Kwargs| {
            regex_test(&v, &p, kw, kind)
        });
    }
    // Jinja's: anything with a length and items, strings and dicts too.
    env.add_test("sequence", |v: Value| {
        v.is_undefined()
            || matches!(
                v.kind(),
                ValueKind::Seq | ValueKind::String | ValueKind::Map | ValueKind::Bytes
            )
    });
    env.add_test("version", version);
    // Ansible has both tests, and no `version_compare` filter.
    env.add_test("version_compare", version);
    for (name, key, negated) in RESULT_TESTS {
        env.add_test(name, move |r: Value| {
            result_flag(&r, key, name).map(|f| f != negated)
        });
    }
    // Async job results: a result without the key (not an async task)
    // counts as started and finished, as in Ansible.
    for name in ["started", "finished"] {
        env.add_test(name, move |r: Value| {
            let present =
                r.kind() == ValueKind::Map && r.get_attr(name).is_ok_and(|v| !v.is_undefined());
            if present {
                result_flag(&r, name, name)
            } else {
                result_flag(&r, name, name).map(|_| true)
            }
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
        Some(s) if convert => parse_bool(s).unwrap_or(false),
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

/// `version('1.2', '>=')`, also named `version_compare`. Compares like
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
        Some(s) => parse_bool(s).unwrap_or(false),
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

#[cfg(test)]
mod tests {
    use crate::template::Templar;
    use minijinja::value::{Serde, Value};
    use serde_json::json;

    fn ctx() -> Value {
        Value::from(Serde(json!({
            "ok": {"changed": false, "rc": 0},
            "bad": {"failed": true, "changed": true},
            "skip": {"skipped": true},
            "job": {"started": true, "finished": false},
            "s": "hello world",
            "n": null,
            "dir": env!("CARGO_MANIFEST_DIR"),
        })))
    }

    fn is(expr: &str) -> bool {
        Templar::new()
            .eval_bool(expr, &ctx())
            .unwrap_or_else(|e| panic!("{expr}: {e}"))
    }

    #[test]
    fn async_job_tests() {
        assert!(is("job is started and job is not finished"));
        // Not an async result: started and finished.
        assert!(is("ok is started and ok is finished"));
        assert!(Templar::new().eval_bool("s is finished", &ctx()).is_err());
    }

    #[test]
    fn builtin_type_tests() {
        assert!(is(
            "s is string and 1 is number and 1 is integer and 1.5 is float"
        ));
        assert!(is("ok is mapping and [1] is sequence and [1] is iterable"));
        assert!(is(
            "true is boolean and n is none and s is defined and zz is undefined"
        ));
        assert!(is("1 in [1, 2] and 'a' is in 'abc'"));
        assert!(is(
            "'a' is sequence and {} is sequence and 1 is not sequence"
        ));
        assert!(is(
            "'a' is iterable and {} is iterable and 1 is not iterable"
        ));
    }

    #[test]
    fn truthy_and_falsy() {
        assert!(is("'x' is truthy and '' is falsy and 0 is falsy"));
        assert!(is("'no' is truthy and 'no' is falsy(convert_bool=true)"));
    }

    #[test]
    fn match_is_anchored_search_is_not() {
        assert!(is("s is match('hel')"));
        assert!(!is("s is match('world')"));
        assert!(is("s is search('world')"));
        assert!(is("s is regex('WORLD', ignorecase=true)"));
        assert!(!is("s is regex('world', match_type='match')"));
        assert!(is("'abc' is regex('a.c', match_type='fullmatch')"));
    }

    #[test]
    fn version_comparisons() {
        assert!(is("'1.10' is version('1.9', '>')"));
        assert!(is("'2.0' is version('2.0')"));
        assert!(is("'1.2.3' is version('1.3', 'lt')"));
        assert!(is("'1.2' is version_compare('1.2', '!=') == false"));
        assert!(is("'7.9' is version_compare('7', operator='ge')"));
        assert!(
            Templar::new()
                .eval("'7.9' | version_compare('7')", &ctx())
                .is_err()
        );
        assert!(is("8 is version('7.5', '>=')"));
    }

    #[test]
    fn registered_result_tests() {
        assert!(is("ok is succeeded and ok is success and ok is not failed"));
        assert!(is(
            "bad is failed and bad is failure and bad is changed and bad is change"
        ));
        assert!(is(
            "ok is not changed and skip is skipped and skip is skip and ok is not skipped"
        ));
        let err = Templar::new().eval_bool("s is failed", &ctx()).unwrap_err();
        assert!(err.message.contains("expects a registered result"), "{err}");
    }

    #[test]
    fn containment_tests() {
        assert!(is("[1, 2] is contains(2) and not ([1] is contains(3))"));
        assert!(is("[1] is subset([1, 2]) and [1, 2] is superset([2])"));
        assert!(!is("[1, 3] is subset([1, 2])"));
    }

    #[test]
    fn filesystem_tests() {
        assert!(is("dir is directory and dir is exists and dir is abs"));
        assert!(is("(dir ~ '/Cargo.toml') is file"));
        assert!(!is("'/definitely/not/here' is exists"));
        assert!(!is("'relative' is abs"));
        assert!(!is("dir is link"));
    }
}
