//! Jinja templating with Ansible semantics, on top of minijinja.
//!
//! [`Templar`] renders strings, evaluates conditionals (`when:`, `until:`,
//! `failed_when:` ...) and renders whole variable trees "natively": a string
//! that is a single `{{ expr }}` becomes the expression's value (a list stays a
//! list), as in current Ansible.
//!
//! Undefined variables are errors (strict mode), except for `is defined`,
//! `is undefined` and `default`. Errors name the undefined variable so the
//! engine can point the user at it.
//!
//! Ansible's filters live in [`filters`], its tests in [`checks`], its
//! lookup plugins in [`lookups`].

mod checks;
mod filters;
mod lookups;
mod yaml_dump;

use indexmap::IndexMap;
use minijinja::syntax::SyntaxConfig;
use minijinja::value::{Value, ValueKind};
use minijinja::{AutoEscape, Environment, Error, ErrorKind, Expression, UndefinedBehavior};
use serde_json::Value as Json;
use std::collections::HashSet;

/// A template or expression that failed to render, in one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    pub message: String,
    /// The undefined variable (e.g. `app_version` or `result.nope`), when
    /// that is the cause.
    pub undefined: Option<String>,
}

/// The Jinja environment with Ansible's filters and tests.
pub struct Templar {
    env: Environment<'static>,
    /// What `errors=warn` lookups reported, for the engine to show.
    warnings: lookups::Warnings,
}

impl std::fmt::Debug for Templar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Templar")
    }
}

impl Default for Templar {
    fn default() -> Self {
        Self::new()
    }
}

impl Templar {
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // Playbooks render shell commands and config files: never HTML-escape.
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_syntax(ansible_syntax());
        env.set_formatter(ansible_formatter);
        env.add_global("omit", Value::from(OMIT));
        // `s.startswith(..)`, `d.items()`, `s.split(',')` ... as in Python.
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        filters::register(&mut env);
        checks::register(&mut env);
        let warnings = lookups::Warnings::default();
        lookups::register(&mut env, warnings.clone());
        Templar { env, warnings }
    }

    /// The warnings of lookups since the last call (`errors=warn`).
    pub fn take_warnings(&self) -> Vec<String> {
        lookups::take_warnings(&self.warnings)
    }

    /// Renders a template string from a playbook. Plain strings are
    /// returned unchanged.
    pub fn render_str(&self, source: &str, ctx: &Value) -> Result<String, TemplateError> {
        if !is_template(source) {
            return Ok(source.to_string());
        }
        self.render(&escape_backslashes(source), ctx)
            .map(|(text, _)| text)
    }

    /// Renders a template file (the `template` module): its string
    /// literals keep Jinja's backslash escapes, unlike a playbook's.
    pub fn render_file(&self, source: &str, ctx: &Value) -> Result<String, TemplateError> {
        self.render(source, ctx).map(|(text, _)| text)
    }

    /// Renders every string in a value tree (keys too). A template whose
    /// output is one non-`None` value and nothing else (`"{{ port }}"`, and
    /// `"{{ port }}\n"` too, since the final newline is not part of the
    /// output) becomes that value, as Ansible 2.19's native concat does.
    pub fn render_value(&self, value: &Json, ctx: &Value) -> Result<Json, TemplateError> {
        match value {
            Json::String(s) if !is_template(s) => Ok(value.clone()),
            Json::String(s) => match self.render(&escape_backslashes(s), ctx)? {
                (_, Some(native)) => data(native, s),
                (text, None) => Ok(Json::String(text)),
            },
            Json::Array(items) => items
                .iter()
                .map(|item| self.render_value(item, ctx))
                .collect::<Result<_, _>>()
                .map(Json::Array),
            Json::Object(map) => map
                .iter()
                .map(|(k, v)| Ok((self.render_str(k, ctx)?, self.render_value(v, ctx)?)))
                .collect::<Result<_, _>>()
                .map(Json::Object),
            other => Ok(other.clone()),
        }
    }

    /// The items of a `with_<lookup>` loop on a `module` task:
    /// `query(lookup, *terms)`, a term that is not a list being the only
    /// one (Ansible's `listify_lookup_plugin_terms`).
    pub fn query(
        &self,
        lookup: &str,
        terms: Json,
        module: &str,
        ctx: &Value,
    ) -> Result<Json, TemplateError> {
        let terms = match terms {
            Json::Array(terms) => terms,
            other => vec![other],
        };
        let vars = [
            (
                "with_terms".to_string(),
                Value::from(minijinja::value::Serde(&terms)),
            ),
            (lookups::WITH_MODULE.to_string(), Value::from(module)),
        ];
        let ctx = lookups::overlay(vars.into_iter().collect(), ctx.clone());
        self.eval(&format!("query({lookup:?}, *with_terms)"), &ctx)
    }

    /// Evaluates a conditional (`when:`, `until:`, `that:` ...). A string
    /// result counts as Ansible's booleans do ("yes", "on", "false" ...).
    pub fn eval_bool(&self, expr: &str, ctx: &Value) -> Result<bool, TemplateError> {
        let value = self.eval_value(expr, ctx)?;
        // ansible-core 2.19 takes no truthiness: a conditional that is not
        // a boolean fails the task (its `evaluate_conditional`).
        if value.kind() != ValueKind::Bool {
            return Err(TemplateError {
                message: format!(
                    "Conditional result ({}) was derived from value of type '{}' at '{expr}'. \
                     Conditionals must have a boolean result.",
                    if value.is_true() { "True" } else { "False" },
                    filters::type_debug(&value)
                ),
                undefined: None,
            });
        }
        Ok(value.is_true())
    }

    /// Evaluates a bare expression (or a single `{{ expr }}`) to its value.
    pub fn eval(&self, expr: &str, ctx: &Value) -> Result<Json, TemplateError> {
        data(self.eval_value(expr, ctx)?, expr)
    }

    /// The top-level variable names a template (or, with `expression`, a
    /// bare expression) reads. Fails when the source does not compile, so
    /// this doubles as a syntax check before anything runs.
    pub fn referenced_variables(
        &self,
        source: &str,
        expression: bool,
    ) -> Result<HashSet<String>, TemplateError> {
        let no_ctx = Value::UNDEFINED;
        if expression {
            let expr = single_expression(source).unwrap_or(source);
            let compiled = self
                .env()
                .compile_expression(expr)
                .map_err(|e| self.error(e, expr, &no_ctx, HashSet::new()))?;
            return Ok(compiled.undeclared_variables(false));
        }
        let tmpl = self
            .env()
            .template_from_str(source)
            .map_err(|e| self.error(e, source, &no_ctx, HashSet::new()))?;
        Ok(tmpl.undeclared_variables(false))
    }

    /// Renders a template as Ansible does: Jinja drops the source's final
    /// newline, the output is the concatenation of the nodes (text and
    /// non-`None` values), and a text result gets back the trailing
    /// newlines it lacks. Also returns the value when it is the only node
    /// and is not a string.
    fn render(&self, source: &str, ctx: &Value) -> Result<(String, Option<Value>), TemplateError> {
        let tmpl = self
            .env()
            .template_from_str(source)
            .map_err(|e| self.error(e, source, ctx, HashSet::new()))?;
        let captured = lookups::with_context(ctx, || tmpl.render_captured(ctx))
            .map_err(|e| self.error(e, source, ctx, tmpl.undeclared_variables(true)))?;
        let mut text = captured.output().to_string();
        let only = match captured.state().get_extension::<Emitted>() {
            Some(Emitted {
                count: 1,
                first: Some((value, shown)),
            }) if *shown == text => Some(value.clone()),
            // No node at all: Ansible's concat gives `None`.
            None if text.is_empty() => Some(Value::from(())),
            _ => None,
        };
        if let Some(value) = only.filter(|v| v.kind() != ValueKind::String) {
            return Ok((text, Some(value)));
        }
        restore_trailing_newlines(source, &mut text);
        Ok((text, None))
    }

    /// The environment, borrowed for sources that live shorter than it.
    fn env(&self) -> &Environment<'_> {
        &self.env
    }

    fn eval_value(&self, expr: &str, ctx: &Value) -> Result<Value, TemplateError> {
        let expr = single_expression(expr).unwrap_or(expr);
        let compiled = self
            .env()
            .compile_expression(expr)
            .map_err(|e| self.error(e, expr, ctx, HashSet::new()))?;
        self.eval_compiled(expr, &compiled, ctx)
    }

    fn eval_compiled(
        &self,
        expr: &str,
        compiled: &Expression<'_, '_>,
        ctx: &Value,
    ) -> Result<Value, TemplateError> {
        let vars = || compiled.undeclared_variables(true);
        let value = lookups::with_context(ctx, || compiled.eval(ctx))
            .map_err(|e| self.error(e, expr, ctx, vars()))?;
        // A bare expression yields an undefined value instead of failing.
        if value.is_undefined() {
            let err = Error::from(ErrorKind::UndefinedError);
            return Err(self.error(err, expr, ctx, vars()));
        }
        Ok(value)
    }

    /// Turns a minijinja error into a one-line [`TemplateError`], naming the
    /// undefined variable when there is one.
    fn error(&self, err: Error, source: &str, ctx: &Value, vars: HashSet<String>) -> TemplateError {
        let shown = shorten(source);
        let detail = err.detail().unwrap_or_default();
        let undefined = (err.kind() == ErrorKind::UndefinedError)
            .then(|| undefined_in_detail(detail).or_else(|| self.first_missing(&vars, ctx)))
            .flatten();
        let message = match (&undefined, detail) {
            (Some(name), d) if d.starts_with(MANDATORY) => {
                format!("mandatory variable '{name}' not defined in '{shown}'")
            }
            (Some(name), _) => format!("undefined variable '{name}' in '{shown}'"),
            (None, "") => format!("template error: {} in '{shown}'", err.kind()),
            (None, d) => format!("template error: {}: {d} in '{shown}'", err.kind()),
        };
        TemplateError { message, undefined }
    }

    /// The first referenced variable path that the context lacks, shortened
    /// to its first missing segment (`a.b` for `a.b.c` when `a` has no `b`).
    fn first_missing(&self, vars: &HashSet<String>, ctx: &Value) -> Option<String> {
        let globals: HashSet<&str> = self.env.globals().map(|(name, _)| name).collect();
        let mut vars: Vec<&String> = vars.iter().collect();
        vars.sort();
        vars.into_iter()
            .filter(|path| !globals.contains(path.split('.').next().unwrap_or_default()))
            .find_map(|path| missing_prefix(path, ctx))
    }
}

/// The detail prefix of the `mandatory` filter's error, so the message can
/// name the variable.
const MANDATORY: &str = "mandatory variable not defined";

/// The value of `omit`: an argument rendered to it is left out.
pub const OMIT: &str = "__omit_place_holder__rollout";

/// Ansible's Jinja settings: drop the newline after a block tag, and the
/// template's final newline ([`Templar::render`] puts it back on text).
fn ansible_syntax() -> SyntaxConfig {
    SyntaxConfig::builder()
        .trim_blocks(true)
        .keep_trailing_newline(false)
        .build()
        .expect("default delimiters are valid")
}

/// The values a render printed: Ansible drops `None` nodes, and a lone
/// value keeps its type.
#[derive(Default)]
struct Emitted {
    count: usize,
    /// The first value and its text.
    first: Option<(Value, String)>,
}

fn ansible_formatter(
    out: &mut minijinja::Output,
    state: &mut minijinja::State,
    value: &Value,
) -> Result<(), Error> {
    if value.is_none() {
        return Ok(());
    }
    let emitted = state.get_or_insert_extension(Emitted::default());
    emitted.count += 1;
    if emitted.first.is_none() {
        emitted.first = Some((value.clone(), value.to_string()));
    }
    minijinja::escape_formatter(out, state, value)
}

/// Renders a template file's text with `env` from inside a render (the
/// `template` lookup), its final newlines kept as [`Templar::render`] does.
fn render_in(env: &Environment<'_>, source: &str, ctx: &Value) -> Result<String, Error> {
    let mut text = lookups::with_context(ctx, || env.render_str(source, ctx))?;
    restore_trailing_newlines(source, &mut text);
    Ok(text)
}

/// Gives back the final newlines of `source` that Jinja dropped.
fn restore_trailing_newlines(source: &str, text: &mut String) {
    let missing = trailing_newlines(source).saturating_sub(trailing_newlines(text));
    text.push_str(&"\n".repeat(missing));
}

/// How many `\n` end a string (Ansible's `_count_newlines_from_end`).
fn trailing_newlines(s: &str) -> usize {
    s.len() - s.trim_end_matches('\n').len()
}

/// An expression's value as data.
fn data(value: Value, expr: &str) -> Result<Json, TemplateError> {
    serde_json::to_value(&value).map_err(|e| TemplateError {
        message: format!("template error: cannot convert result to data: {e} in '{expr}'"),
        undefined: None,
    })
}

/// Leaves out what rendered to `omit`: the value itself (`None`), and the
/// list items and dictionary entries that did, as Ansible 2.19 does.
pub fn without_omitted(value: Json) -> Option<Json> {
    match value {
        Json::String(s) if s == OMIT => None,
        Json::Array(items) => Some(Json::Array(
            items.into_iter().filter_map(without_omitted).collect(),
        )),
        Json::Object(map) => Some(Json::Object(
            map.into_iter()
                .filter_map(|(k, v)| Some((k, without_omitted(v)?)))
                .collect(),
        )),
        other => Some(other),
    }
}

/// Whether a string holds template syntax (and so is known only once rendered).
pub fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}

/// The inner expression of a string that is exactly one `{{ ... }}` (with
/// optional whitespace control and surrounding whitespace). Whether the inner
/// text really is one expression (not `{{ a }} {{ b }}`) is for the compiler
/// to decide.
fn single_expression(s: &str) -> Option<&str> {
    let inner = s.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.strip_prefix(['-', '+']).unwrap_or(inner);
    let inner = inner.strip_suffix('-').unwrap_or(inner);
    (!inner.contains("{%") && !inner.trim().is_empty()).then_some(inner.trim())
}

/// Doubles the backslashes in the string literals of `{{ }}` blocks, as
/// Ansible's lexer does for playbook templates: YAML already processed the
/// escapes, so `'\\w'` in a block scalar stays two backslashes (statements
/// `{% %}` and conditionals are left alone, as in Ansible).
fn escape_backslashes(source: &str) -> std::borrow::Cow<'_, str> {
    if !source.contains('\\') {
        return source.into();
    }
    let mut out = String::with_capacity(source.len() + 8);
    let mut rest = source;
    while let Some(start) = rest.find('{') {
        let (data, tail) = rest.split_at(start);
        out.push_str(data);
        let (end, escape) = match tail.get(..2) {
            Some("{{") => ("}}", true),
            Some("{%") if is_raw_tag(tail) => ("endraw", false),
            Some("{%") => ("%}", false),
            Some("{#") => ("#}", false),
            _ => {
                out.push('{');
                rest = &tail[1..];
                continue;
            }
        };
        rest = copy_block(tail, end, escape, &mut out);
    }
    out.push_str(rest);
    out.into()
}

/// Whether a `{%` tag is `{% raw %}` (whitespace control allowed).
fn is_raw_tag(tail: &str) -> bool {
    let inner = tail[2..].trim_start_matches(['-', '+']).trim_start();
    inner.strip_prefix("raw").is_some_and(|after| {
        after
            .trim_start()
            .trim_start_matches(['-', '+'])
            .starts_with("%}")
    })
}

/// Copies a tag up to and including `end` (outside string literals),
/// doubling the backslashes of its literals when `escape`; returns the rest.
fn copy_block<'a>(tail: &'a str, end: &str, escape: bool, out: &mut String) -> &'a str {
    let mut quote = None;
    let mut chars = tail.char_indices().skip(2);
    out.push_str(&tail[..2]);
    while let Some((i, c)) = chars.next() {
        match quote {
            None if tail[i..].starts_with(end) => {
                out.push_str(end);
                return &tail[i + end.len()..];
            }
            None if (c == '\'' || c == '"') && end != "endraw" => quote = Some(c),
            // A backslash escapes the next character. Doubled, the pair
            // must still read as one literal: `\'` becomes `\\\'`.
            Some(q) if c == '\\' => {
                let next = chars.next().map(|(_, n)| n);
                out.push_str(if escape { "\\\\" } else { "\\" });
                match next {
                    Some(n) if escape && (n == q || n == '\\') => {
                        out.push('\\');
                        out.push(n);
                    }
                    Some(n) => out.push(n),
                    None => {}
                }
                continue;
            }
            Some(q) if c == q => quote = None,
            _ => {}
        }
        out.push(c);
    }
    ""
}

/// Pulls `name` out of minijinja's "`name` is undefined" error detail.
fn undefined_in_detail(detail: &str) -> Option<String> {
    let start = detail.find('`')? + 1;
    let len = detail[start..].find("` is undefined")?;
    Some(detail[start..start + len].to_string())
}

/// Walks a dotted path through the context; returns the path up to the
/// first missing segment, or `None` when everything exists.
fn missing_prefix(path: &str, ctx: &Value) -> Option<String> {
    let mut current = ctx.clone();
    for (depth, segment) in path.split('.').enumerate() {
        match current.get_attr(segment) {
            Ok(next) if !next.is_undefined() => current = next,
            _ => {
                let segments: Vec<&str> = path.split('.').take(depth + 1).collect();
                return Some(segments.join("."));
            }
        }
    }
    None
}

/// A template's source for an error message: one line, not too long.
fn shorten(source: &str) -> String {
    const MAX: usize = 120;
    let line = source.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &line[..cut]),
        None => line,
    }
}

/// An error raised by a filter or test on bad input.
fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

/// Fails on an undefined input, so filters that accept any value still
/// honour strict undefined.
fn require_defined(value: &Value) -> Result<(), Error> {
    match value.is_undefined() {
        true => Err(Error::from(ErrorKind::UndefinedError)),
        false => Ok(()),
    }
}

/// A value as text, for filters that work on strings (numbers are fine).
fn text(value: &Value) -> Result<String, Error> {
    require_defined(value)?;
    Ok(value.to_string())
}

/// The items of a list (or any iterable).
fn list_of(value: &Value) -> Result<Vec<Value>, Error> {
    require_defined(value)?;
    Ok(value.try_iter()?.collect())
}

/// The entries of a dictionary, in order; `what` names the filter for the
/// error on other values.
fn entries(value: &Value, what: &str) -> Result<IndexMap<Value, Value>, Error> {
    require_defined(value)?;
    if value.kind() != ValueKind::Map {
        return Err(invalid(format!(
            "{what} expects a dictionary, got {}",
            value.kind()
        )));
    }
    value
        .try_iter()?
        .map(|key| Ok((key.clone(), value.get_item(&key)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> Value {
        Value::from(minijinja::value::Serde(json!({
            "name": "web",
            "port": 80,
            "flag": true,
            "word": "yes",
            "nope_word": "off",
            "items": [1, 2, 3],
            "result": {"rc": 0, "stdout": "ok", "nested": {"a": 1}},
        })))
    }

    fn render(src: &str) -> Result<String, TemplateError> {
        Templar::new().render_str(src, &ctx())
    }

    #[test]
    fn surrounding_whitespace_keeps_a_string() {
        let t = Templar::new();
        let ctx = Value::from(minijinja::value::Serde(serde_json::json!({"v": "2.0"})));
        assert_eq!(
            t.render_value(&Json::String("{{ v }}\n".into()), &ctx)
                .unwrap(),
            Json::String("2.0\n".into())
        );
    }

    #[test]
    fn none_nodes_vanish_and_a_lone_value_keeps_its_type() {
        let t = Templar::new();
        let c = ctx();
        assert_eq!(render("a{{ none }}b").unwrap(), "ab");
        assert_eq!(render("{{ [none] }}").unwrap(), "[None]");
        assert_eq!(
            t.render_value(&json!("{{ none }}\n"), &c).unwrap(),
            json!(null)
        );
        assert_eq!(render("{{ none }}\n").unwrap(), "");
        // The final newline is not part of the output: a lone int stays one.
        assert_eq!(
            t.render_value(&json!("{{ port }}\n"), &c).unwrap(),
            json!(80)
        );
        assert_eq!(
            t.render_value(&json!("{{ port }}\n\n"), &c).unwrap(),
            json!("80\n\n")
        );
        assert_eq!(
            t.render_value(&json!("{% for i in items %}{{ i }}{% endfor %}\n"), &c)
                .unwrap(),
            json!("123\n")
        );
        assert_eq!(
            t.render_value(&json!("{% if flag %}{{ items }}{% endif %}"), &c)
                .unwrap(),
            json!([1, 2, 3])
        );
        assert_eq!(
            t.render_value(&json!("{{ '' }}{{ port }}"), &c).unwrap(),
            json!("80")
        );
    }

    #[test]
    fn omit_leaves_out_what_renders_to_it() {
        let t = Templar::new();
        let c = ctx();
        assert!(
            t.eval_bool("missing | default(omit) is defined", &c)
                .unwrap()
        );
        let rendered = t
            .render_value(
                &json!({"a": "{{ missing | default(omit) }}", "b": ["{{ omit }}", 1]}),
                &c,
            )
            .unwrap();
        assert_eq!(without_omitted(rendered), Some(json!({"b": [1]})));
    }

    #[test]
    fn playbook_string_literals_keep_their_backslashes() {
        // Expected values from Ansible 2.19's Templar.template.
        let cases = [
            (r"{{ '\\w' }}", r"\\w"),
            (r"{{ 'a\nb' }}", r"a\nb"),
            (r"{% set x = '\\w' %}{{ x }}", r"\w"),
            (r"{{ '}}\\' }}x{{ '\\' }}", r"}}\\x\\"),
            (r"{% raw %}{{ '\\' }}{% endraw %}", r"{{ '\\' }}"),
            (r"{# '\\' #}{{ 'it\'s' }}", r"it\'s"),
            (r"{{ 'x' ~ '\t' }}", r"x\t"),
        ];
        for (src, want) in cases {
            assert_eq!(render(src).unwrap(), want, "{src}");
        }
        // A template file keeps Jinja's escapes; conditionals too.
        let t = Templar::new();
        assert_eq!(t.render_file(r"{{ 'a\tb' }}", &ctx()).unwrap(), "a\tb");
        assert!(t.eval_bool(r"'a\tb' == 'a' ~ '\t' ~ 'b'", &ctx()).unwrap());
    }

    #[test]
    fn templar_can_be_shared_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Templar>();
    }

    #[test]
    fn plain_strings_pass_through() {
        assert_eq!(render("no templating here").unwrap(), "no templating here");
    }

    #[test]
    fn renders_variables_and_python_style_values() {
        assert_eq!(render("{{ name }}:{{ port }}").unwrap(), "web:80");
        assert_eq!(render("{{ flag }} {{ items }}").unwrap(), "True [1, 2, 3]");
    }

    #[test]
    fn keeps_trailing_newline_and_trims_blocks() {
        let out = render("{% if flag %}\nyes\n{% endif %}\n").unwrap();
        assert_eq!(out, "yes\n");
    }

    #[test]
    fn native_rendering_keeps_types() {
        let t = Templar::new();
        let c = ctx();
        assert_eq!(
            t.render_value(&json!("{{ [1,2] }}"), &c).unwrap(),
            json!([1, 2])
        );
        assert_eq!(t.render_value(&json!("{{ port }}"), &c).unwrap(), json!(80));
        // Text around the braces, whitespace included, makes a string.
        assert_eq!(
            t.render_value(&json!(" {{ port }} "), &c).unwrap(),
            json!(" 80 ")
        );
        assert_eq!(
            t.render_value(&json!("{{- flag -}}"), &c).unwrap(),
            json!(true)
        );
        assert_eq!(
            t.render_value(&json!("port {{ 80 }}"), &c).unwrap(),
            json!("port 80")
        );
        assert_eq!(
            t.render_value(&json!("{{ {'a': {'b': 1}} }}"), &c).unwrap(),
            json!({"a": {"b": 1}})
        );
        assert_eq!(
            t.render_value(&json!("{{ name }}-{{ port }}"), &c).unwrap(),
            json!("web-80")
        );
    }

    #[test]
    fn native_rendering_recurses_into_lists_and_maps() {
        let tree = json!({"{{ name }}": ["{{ port }}", {"k": "{{ items | length }}"}], "n": 5});
        let out = Templar::new().render_value(&tree, &ctx()).unwrap();
        assert_eq!(out, json!({"web": [80, {"k": 3}], "n": 5}));
    }

    #[test]
    fn undefined_variable_is_named() {
        let err = render("version {{ app_version }}").unwrap_err();
        assert_eq!(err.undefined.as_deref(), Some("app_version"));
        assert_eq!(
            err.to_string(),
            "undefined variable 'app_version' in 'version {{ app_version }}'"
        );
    }

    #[test]
    fn undefined_in_expression_is_named() {
        let t = Templar::new();
        let err = t.eval("app_version", &ctx()).unwrap_err();
        assert_eq!(err.undefined.as_deref(), Some("app_version"));
        let err = t.eval_bool("missing == 1", &ctx()).unwrap_err();
        assert_eq!(err.undefined.as_deref(), Some("missing"));
    }

    #[test]
    fn missing_attribute_is_an_error_naming_it() {
        let err = render("{{ result.nope }}").unwrap_err();
        assert_eq!(err.undefined.as_deref(), Some("result.nope"));
        let err = Templar::new()
            .eval("result.nested.x.y", &ctx())
            .unwrap_err();
        assert_eq!(err.undefined.as_deref(), Some("result.nested.x"));
        let err = render("{{ result.nope | upper }}").unwrap_err();
        assert_eq!(err.undefined.as_deref(), Some("result.nope"));
    }

    #[test]
    fn undefined_passed_to_a_filter_is_named() {
        let err = render("{{ missing | to_json }}").unwrap_err();
        assert_eq!(err.undefined.as_deref(), Some("missing"));
    }

    #[test]
    fn defined_tests_on_missing_things() {
        let t = Templar::new();
        let c = ctx();
        assert!(t.eval_bool("missing is undefined", &c).unwrap());
        assert!(!t.eval_bool("missing is defined", &c).unwrap());
        assert!(!t.eval_bool("result.nope is defined", &c).unwrap());
        assert!(t.eval_bool("result.rc is defined", &c).unwrap());
    }

    #[test]
    fn default_on_missing_attribute() {
        assert_eq!(render("{{ result.nope | default('x') }}").unwrap(), "x");
        assert_eq!(render("{{ missing | d(5) }}").unwrap(), "5");
        assert_eq!(render("{{ '' | default('e', true) }}").unwrap(), "e");
    }

    #[test]
    fn eval_bool_strips_braces_and_reads_words() {
        let t = Templar::new();
        let c = ctx();
        assert!(t.eval_bool("{{ flag }}", &c).unwrap());
        assert!(t.eval_bool("flag", &c).unwrap());
        assert!(t.eval_bool("word == 'yes'", &c).unwrap());
        // As in ansible-core 2.19, a non-boolean result is an error.
        for not_bool in ["word", "nope_word", "port", "1 + 1", "items"] {
            let err = t.eval_bool(not_bool, &c).unwrap_err();
            assert!(
                err.message
                    .contains("Conditionals must have a boolean result"),
                "{err}"
            );
        }
        assert!(t.eval_bool("result.rc == 0 and port > 10", &c).unwrap());
        assert!(!t.eval_bool("items | length > 3", &c).unwrap());
    }

    #[test]
    fn eval_returns_native_values() {
        let t = Templar::new();
        assert_eq!(
            t.eval("items | map('string') | list", &ctx()).unwrap(),
            json!(["1", "2", "3"])
        );
        assert_eq!(t.eval("{{ port + 1 }}", &ctx()).unwrap(), json!(81));
    }

    #[test]
    fn syntax_errors_are_one_line() {
        let err = render("{{ 1 + }}").unwrap_err();
        assert!(
            err.message.starts_with("template error: syntax error"),
            "{err}"
        );
        assert!(err.message.ends_with("in '{{ 1 + }}'"), "{err}");
        assert!(err.undefined.is_none());
    }

    #[test]
    fn python_string_methods_work() {
        assert_eq!(render("{{ name.startswith('w') }}").unwrap(), "True");
        assert_eq!(render("{{ 'a,b'.split(',') }}").unwrap(), "['a', 'b']");
        assert_eq!(render("{{ ' x '.strip() }}").unwrap(), "x");
        assert_eq!(
            render("{{ result.nested.items() | list }}").unwrap(),
            "[('a', 1)]"
        );
        assert_eq!(
            render("{{ result.nested.keys() | list }}").unwrap(),
            "['a']"
        );
    }

    #[test]
    fn builtin_filters_are_available() {
        let cases = [
            ("{{ items | length }}", "3"),
            ("{{ items | join('-') }}", "1-2-3"),
            ("{{ 'AbC' | lower }}{{ 'x' | upper }}", "abcX"),
            ("{{ ' t ' | trim }}", "t"),
            ("{{ 'aXa' | replace('X', 'b') }}", "aba"),
            ("{{ items | first }}{{ items | last }}", "13"),
            ("{{ [3, 1, 2] | sort | list }}", "[1, 2, 3]"),
            (
                "{{ [3, 1] | min }}{{ [3, 1] | max }}{{ items | sum }}",
                "136",
            ),
            ("{{ -2 | abs }} {{ 2.567 | round(1) }}", "2 2.6"),
            ("{{ [1, 1, 2] | unique | list }}", "[1, 2]"),
            ("{{ 'a b  c' | split | list }}", "['a', 'b', 'c']"),
            (
                "{{ [{'n': 1}, {'n': 2}] | map(attribute='n') | list }}",
                "[1, 2]",
            ),
            ("{{ items | select('odd') | list }}", "[1, 3]"),
            ("{{ items | reject('odd') | list }}", "[2]"),
            (
                "{{ [{'n': 1}, {'m': 2}] | selectattr('n', 'defined') | list }}",
                "[{'n': 1}]",
            ),
            ("{{ {'b': 1, 'a': 2} | dictsort }}", "[('a', 2), ('b', 1)]"),
            ("{{ {'a': 1} | tojson }}", "{\"a\": 1}"),
        ];
        for (src, want) in cases {
            assert_eq!(render(src).unwrap(), want, "{src}");
        }
    }
}
