//! Host patterns, as in `hosts:` and `--limit`.
//!
//! A pattern is a list of terms separated by `,` (or `:` when there is no
//! comma). Like Ansible, plain terms are unioned first, then `&term`s
//! intersect and `!term`s exclude, whatever order they were written in.
//! A term is `all`/`*`, a group or host name, a glob (`web*`), or a regex
//! (`~web\d+`), optionally with a subscript (`web[0]`, `web[-1]`, `web[0:2]`,
//! inclusive like Ansible).

use super::{Inventory, LOCALHOST_NAMES};
use crate::diag::Diagnostic;
use globset::{GlobBuilder, GlobMatcher};
use indexmap::IndexSet;
use regex::Regex;
use std::collections::HashSet;
use std::path::Path;
use std::sync::LazyLock;

/// The hosts a pattern selects, and the terms that matched nothing (which
/// the CLI reports as "Could not match supplied host pattern, ignoring").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub hosts: Vec<String>,
    pub unmatched: Vec<String>,
}

/// `expr[3]`, `expr[-1]`, `expr[1:4]` or `expr[2:]`.
static SUBSCRIPT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(.+)\[(?:(-?[0-9]+)|([0-9]+):([0-9]*))\]$").expect("valid regex")
});

impl Inventory {
    /// The hosts a pattern selects, in the pattern's order, plus unmatched terms.
    pub fn resolve(&self, pattern: &str) -> Result<Selection, Diagnostic> {
        self.evaluate(&split_terms(pattern))
    }

    /// The hosts a pattern selects, in the pattern's order.
    pub fn select(&self, pattern: &str) -> Result<Vec<String>, Diagnostic> {
        Ok(self.resolve(pattern)?.hosts)
    }

    /// Terms of a pattern that match no group or host.
    pub fn unmatched_terms(&self, pattern: &str) -> Result<Vec<String>, Diagnostic> {
        Ok(self.resolve(pattern)?.unmatched)
    }

    /// Keeps those of `hosts` that the `--limit` pattern selects. Besides
    /// the usual terms, `@file` reads one pattern per line from a file.
    pub fn limit(&self, hosts: &[String], limit: &str) -> Result<Selection, Diagnostic> {
        let mut terms = Vec::new();
        for term in split_terms(limit) {
            match term.strip_prefix('@') {
                Some(file) => terms.extend(read_limit_file(Path::new(file))?),
                None => terms.push(term),
            }
        }
        let allowed = self.evaluate(&terms)?;
        let keep: HashSet<&str> = allowed.hosts.iter().map(String::as_str).collect();
        Ok(Selection {
            hosts: hosts
                .iter()
                .filter(|h| keep.contains(h.as_str()))
                .cloned()
                .collect(),
            unmatched: allowed.unmatched,
        })
    }

    /// `select` then `limit`, with the unmatched terms of both.
    pub fn select_limited(
        &self,
        pattern: &str,
        limit: Option<&str>,
    ) -> Result<Selection, Diagnostic> {
        let selected = self.resolve(pattern)?;
        let Some(limit) = limit else {
            return Ok(selected);
        };
        let mut limited = self.limit(&selected.hosts, limit)?;
        let mut unmatched = selected.unmatched;
        unmatched.append(&mut limited.unmatched);
        limited.unmatched = unmatched;
        Ok(limited)
    }

    fn evaluate(&self, terms: &[String]) -> Result<Selection, Diagnostic> {
        let mut unmatched = Vec::new();
        let (mut plain, mut narrowing): (Vec<&str>, Vec<&str>) = terms
            .iter()
            .map(String::as_str)
            .partition(|t| !t.starts_with(['&', '!']));
        if plain.is_empty() {
            plain.push("all");
        }
        // Intersections before exclusions, keeping the written order within each.
        narrowing.sort_by_key(|t| t.starts_with('!'));

        let mut hosts: IndexSet<String> = IndexSet::new();
        for term in plain {
            hosts.extend(self.match_term(term, &mut unmatched)?);
        }
        for term in narrowing {
            let (op, expr) = term.split_at(1);
            if expr.is_empty() {
                return Err(Diagnostic::new(format!("empty host pattern after '{op}'"))
                    .with_help("write e.g. 'web:&prod' or 'web:!web3'"));
            }
            let matched: HashSet<String> =
                self.match_term(expr, &mut unmatched)?.into_iter().collect();
            hosts.retain(|h| matched.contains(h) == (op == "&"));
        }
        // In the pattern's order, as Ansible: `db:web` touches db hosts
        // first (each term's hosts in inventory order).
        let hosts: Vec<String> = hosts.into_iter().collect();
        Ok(Selection { hosts, unmatched })
    }

    /// The hosts of one term, in inventory order, subscript applied.
    fn match_term(
        &self,
        term: &str,
        unmatched: &mut Vec<String>,
    ) -> Result<Vec<String>, Diagnostic> {
        let (expr, subscript) = split_subscript(term);
        let hosts = if expr == "all" || expr == "*" {
            self.hosts.keys().cloned().collect()
        } else {
            let matcher = Matcher::new(expr)?;
            let groups: Vec<&str> = self.groups().filter(|g| matcher.matches(g)).collect();
            let mut found: IndexSet<String> = IndexSet::new();
            for group in &groups {
                found.extend(self.group_hosts(group));
            }
            // A glob or regex may name hosts as well as groups.
            if groups.is_empty() || !matches!(matcher, Matcher::Exact(_)) || expr.contains('.') {
                found.extend(
                    self.hosts()
                        .filter(|h| matcher.matches(h))
                        .map(str::to_string),
                );
            }
            if found.is_empty() && LOCALHOST_NAMES.contains(&expr) {
                found.insert(expr.to_string());
            }
            if found.is_empty() && groups.is_empty() {
                unmatched.push(expr.to_string());
            }
            let mut found: Vec<String> = found.into_iter().collect();
            found.sort_by_key(|h| self.hosts.get_index_of(h).unwrap_or(usize::MAX));
            found
        };
        Ok(match subscript {
            Some(sub) => sub.apply(hosts),
            None => hosts,
        })
    }
}

/// Splits on commas if there are any, else on colons outside brackets (so
/// `web[0:2]` stays one term).
fn split_terms(pattern: &str) -> Vec<String> {
    let pieces: Vec<String> = if pattern.contains(',') {
        pattern.split(',').map(str::to_string).collect()
    } else {
        let mut pieces = vec![String::new()];
        let mut depth = 0usize;
        for c in pattern.chars() {
            match c {
                '[' => depth += 1,
                ']' => depth = depth.saturating_sub(1),
                ':' if depth == 0 => {
                    pieces.push(String::new());
                    continue;
                }
                _ => {}
            }
            pieces.last_mut().into_iter().for_each(|p| p.push(c));
        }
        pieces
    };
    pieces
        .into_iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

fn read_limit_file(path: &Path) -> Result<Vec<String>, Diagnostic> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Diagnostic::new(format!("cannot read limit file '{}': {e}", path.display()))
            .with_help("'--limit @FILE' reads host names or patterns, one per line")
    })?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}

enum Matcher {
    Exact(String),
    Glob(GlobMatcher),
    Regex(Regex),
}

impl Matcher {
    fn new(expr: &str) -> Result<Matcher, Diagnostic> {
        let invalid = |e: String| Diagnostic::new(format!("invalid host pattern '{expr}': {e}"));
        if let Some(re) = expr.strip_prefix('~') {
            // Anchored at the start only, like Python's re.match.
            let re = Regex::new(&format!("^(?:{re})")).map_err(|e| invalid(e.to_string()))?;
            return Ok(Matcher::Regex(re));
        }
        if expr.contains(['*', '?', '[']) {
            let glob = GlobBuilder::new(expr)
                .literal_separator(false)
                .backslash_escape(true)
                .build()
                .map_err(|e| invalid(e.to_string()))?;
            return Ok(Matcher::Glob(glob.compile_matcher()));
        }
        Ok(Matcher::Exact(expr.to_string()))
    }

    fn matches(&self, name: &str) -> bool {
        match self {
            Matcher::Exact(text) => text == name,
            Matcher::Glob(glob) => glob.is_match(name),
            Matcher::Regex(re) => re.is_match(name),
        }
    }
}

enum Subscript {
    Index(i64),
    /// Inclusive; no end means to the last host.
    Range(usize, Option<usize>),
}

fn split_subscript(term: &str) -> (&str, Option<Subscript>) {
    let Some(caps) = SUBSCRIPT.captures(term) else {
        return (term, None);
    };
    let expr = caps.get(1).map_or(term, |m| m.as_str());
    let number = |i: usize| caps.get(i).map(|m| m.as_str());
    let subscript = match (number(2), number(3), number(4)) {
        (Some(index), _, _) => index.parse().ok().map(Subscript::Index),
        (None, Some(start), end) => start
            .parse()
            .ok()
            .map(|start| Subscript::Range(start, end.and_then(|e| e.parse().ok()))),
        _ => None,
    };
    match subscript {
        Some(sub) => (expr, Some(sub)),
        None => (term, None),
    }
}

impl Subscript {
    fn apply(&self, hosts: Vec<String>) -> Vec<String> {
        let len = hosts.len();
        match *self {
            Subscript::Index(i) => {
                let index = if i < 0 {
                    len.checked_sub(i.unsigned_abs() as usize)
                } else {
                    Some(i as usize)
                };
                index
                    .and_then(|i| hosts.into_iter().nth(i))
                    .into_iter()
                    .collect()
            }
            Subscript::Range(start, end) => {
                let end = end.unwrap_or(usize::MAX);
                hosts
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| *i >= start && *i <= end)
                    .map(|(_, h)| h)
                    .collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_split_on_commas_or_colons() {
        assert_eq!(split_terms("web:db"), ["web", "db"]);
        assert_eq!(split_terms("web, db"), ["web", "db"]);
        assert_eq!(split_terms("web[0:2]:&prod"), ["web[0:2]", "&prod"]);
        assert_eq!(split_terms("a:b,c"), ["a:b", "c"]);
        assert!(split_terms(" : ").is_empty());
    }
}
