//! INI inventories:
//!
//! ```ini
//! bastion                       # ungrouped: before any section
//! [web]
//! web[01:03] ansible_user=deploy motd='hello world'
//! [web:vars]
//! http_port=8080
//! [prod:children]
//! web
//! ```

use super::{Inventory, UNGROUPED, range};
use crate::diag::{Diagnostic, Location};
use crate::yaml::Span;
use regex::Regex;
use serde_json::Value;
use std::path::Path;
use std::sync::LazyLock;

const SECTION_KINDS: [&str; 3] = ["hosts", "vars", "children"];

/// `[name]` or `[name:kind]`, optionally followed by a comment.
static SECTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\[([^:\]\s]+)(?::([^\]\s]*))?\]\s*(?:[#;].*)?$").expect("valid regex")
});

/// A child group line: a name and an optional comment.
static GROUP_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([^:\]\s#;]+)\s*(?:[#;].*)?$").expect("valid regex"));

enum Section {
    Hosts(String),
    Vars(String),
    Children(String),
}

struct Line<'a> {
    text: &'a str,
    number: usize,
}

pub(super) fn load(inv: &mut Inventory, text: &str, file: &Path) -> Result<(), Diagnostic> {
    let mut section = Section::Hosts(UNGROUPED.to_string());
    for (index, raw) in text.lines().enumerate() {
        let line = Line {
            text: raw,
            number: index + 1,
        };
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with(['#', ';']) {
            continue;
        }
        let error = |col: usize, message: String| line.error(file, col, message);
        if trimmed.starts_with('[') {
            section = parse_section(&line, file)?;
            let (Section::Hosts(name) | Section::Vars(name) | Section::Children(name)) = &section;
            inv.add_group(name);
            continue;
        }
        match &section {
            Section::Hosts(group) => host_line(inv, group, &line, file)?,
            Section::Vars(group) => {
                let (key, value) = trimmed.split_once('=').ok_or_else(|| {
                    error(
                        line.indent(),
                        format!("expected key=value in [{group}:vars], got '{trimmed}'"),
                    )
                })?;
                let key = key.trim();
                if key.is_empty() {
                    return Err(error(line.indent(), "variable name is empty".into()));
                }
                inv.group_vars_mut(group)
                    .insert(key.to_string(), vars_value(value.trim()));
            }
            Section::Children(parent) => {
                let child = GROUP_NAME
                    .captures(trimmed)
                    .and_then(|c| c.get(1))
                    .ok_or_else(|| {
                        error(
                            line.indent(),
                            format!(
                                "expected a group name in [{parent}:children], got '{trimmed}'"
                            ),
                        )
                    })?
                    .as_str();
                if child == super::ALL {
                    return Err(error(
                        line.indent(),
                        format!("group 'all' cannot be a child of '{parent}'"),
                    ));
                }
                let at = Location::new(file, line.span(line.indent()));
                inv.add_child(parent, child, Some(at));
            }
        }
    }
    Ok(())
}

impl Line<'_> {
    fn span(&self, col: usize) -> Span {
        Span {
            line: self.number,
            col,
        }
    }

    fn error(&self, file: &Path, col: usize, message: String) -> Diagnostic {
        Diagnostic::at(file, self.span(col), message)
    }

    /// The column of the first non-blank character.
    fn indent(&self) -> usize {
        self.text.chars().take_while(|c| c.is_whitespace()).count() + 1
    }
}

fn parse_section(line: &Line, file: &Path) -> Result<Section, Diagnostic> {
    let text = line.text.trim();
    let Some(caps) = SECTION.captures(text) else {
        return Err(line
            .error(
                file,
                line.indent(),
                format!("invalid section header '{text}'"),
            )
            .with_help("sections are [group], [group:vars] or [group:children]"));
    };
    let name = caps.get(1).map_or("", |m| m.as_str()).to_string();
    match caps.get(2).map(|m| m.as_str()) {
        None | Some("hosts") => Ok(Section::Hosts(name)),
        Some("vars") => Ok(Section::Vars(name)),
        Some("children") => Ok(Section::Children(name)),
        Some(kind) => Err(line
            .error(
                file,
                line.indent(),
                format!("section [{name}:{kind}] has unknown type '{kind}'"),
            )
            .suggest(kind, SECTION_KINDS)),
    }
}

/// `pattern key=value ...`: the hosts the pattern expands to, with variables.
fn host_line(inv: &mut Inventory, group: &str, line: &Line, file: &Path) -> Result<(), Diagnostic> {
    let tokens = split_words(line.text).map_err(|(col, msg)| line.error(file, col, msg))?;
    let Some((first, rest)) = tokens.split_first() else {
        return Ok(());
    };
    let entry = range::parse_host_entry(&first.text).map_err(|e| line.error(file, first.col, e))?;
    let mut vars = super::Vars::new();
    if let Some(port) = entry.port {
        vars.insert("ansible_port".into(), Value::from(port));
    }
    for token in rest {
        match token.text.split_once('=') {
            Some((key, value)) if !key.is_empty() => {
                vars.insert(key.to_string(), scalar(value));
            }
            _ => {
                return Err(line
                    .error(
                        file,
                        token.col,
                        format!("expected key=value host variable, got '{}'", token.text),
                    )
                    .with_help(
                        "host lines look like: web1 ansible_host=10.0.0.1 ansible_port=2222",
                    ));
            }
        }
    }
    for host in &entry.names {
        inv.add_host(group, host).extend(vars.clone());
    }
    Ok(())
}

/// A value from a `[group:vars]` line: quotes are stripped (and keep it a
/// string), otherwise as for host lines.
fn vars_value(text: &str) -> Value {
    for quote in ['\'', '"'] {
        if let Some(inner) = text.strip_prefix(quote).and_then(|t| t.strip_suffix(quote)) {
            return Value::from(inner);
        }
    }
    scalar(text)
}

/// An integer when the text is one (without leading zeros, which Ansible
/// leaves as strings), else the text.
fn scalar(text: &str) -> Value {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let is_int = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    match text.parse::<i64>() {
        Ok(n) if is_int => Value::from(n),
        _ => Value::from(text),
    }
}

struct Word {
    text: String,
    /// 1-based column where the word starts.
    col: usize,
}

/// Splits a line like a POSIX shell: quotes group words, `\` escapes, `#`
/// at the start of a word begins a comment. Errors carry a column.
fn split_words(line: &str) -> Result<Vec<Word>, (usize, String)> {
    let mut words = Vec::new();
    let mut current: Option<Word> = None;
    let mut quote: Option<(char, usize)> = None;
    let mut chars = line.chars().enumerate().peekable();
    while let Some((i, c)) = chars.next() {
        let col = i + 1;
        if let Some((q, _)) = quote {
            let word = current.get_or_insert_with(|| Word {
                text: String::new(),
                col,
            });
            match c {
                _ if c == q => quote = None,
                '\\' if q == '"'
                    && chars
                        .peek()
                        .is_some_and(|(_, n)| matches!(n, '"' | '\\' | '$' | '`')) =>
                {
                    word.text.extend(chars.next().map(|(_, n)| n));
                }
                _ => word.text.push(c),
            }
            continue;
        }
        match c {
            c if c.is_whitespace() => words.extend(current.take()),
            '#' if current.is_none() => break,
            '\'' | '"' => {
                current.get_or_insert_with(|| Word {
                    text: String::new(),
                    col,
                });
                quote = Some((c, col));
            }
            '\\' => {
                let word = current.get_or_insert_with(|| Word {
                    text: String::new(),
                    col,
                });
                word.text.extend(chars.next().map(|(_, n)| n));
            }
            _ => current
                .get_or_insert_with(|| Word {
                    text: String::new(),
                    col,
                })
                .text
                .push(c),
        }
    }
    if let Some((q, col)) = quote {
        return Err((col, format!("no closing quotation ({q}) on this line")));
    }
    words.extend(current);
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(line: &str) -> Vec<String> {
        split_words(line)
            .unwrap()
            .into_iter()
            .map(|w| w.text)
            .collect()
    }

    #[test]
    fn words_split_like_a_shell() {
        assert_eq!(
            texts("h1 a='x y' b=\"q\\\"z\" # note"),
            ["h1", "a=x y", "b=q\"z"]
        );
        assert_eq!(texts("h1 url=http://x#frag"), ["h1", "url=http://x#frag"]);
        assert_eq!(split_words("h1  a='x").err().map(|e| e.0), Some(7));
        assert_eq!(split_words("h1 b=2").unwrap()[1].col, 4);
    }

    #[test]
    fn scalars_are_ints_or_strings() {
        assert_eq!(scalar("22"), Value::from(22));
        assert_eq!(scalar("-3"), Value::from(-3));
        assert_eq!(scalar("007"), Value::from("007"));
        assert_eq!(scalar("1.5"), Value::from("1.5"));
        assert_eq!(
            scalar("99999999999999999999"),
            Value::from("99999999999999999999")
        );
        assert_eq!(vars_value("'22'"), Value::from("22"));
        assert_eq!(vars_value("\"a b\""), Value::from("a b"));
        assert_eq!(vars_value("'"), Value::from("'"));
    }
}
