//! `fileglob`: controller files matching a glob. A bare pattern looks in
//! `files/` then in the playbook's directory (the first with a match wins);
//! a pattern with a directory looks in that directory, found as a file
//! lookup finds it.

use super::{Call, Outcome};
use minijinja::Value;
use std::path::{Path, PathBuf};

pub fn run(call: &Call<'_>) -> Outcome {
    let mut values = Vec::new();
    for term in call.text_terms()? {
        let (dirs, pattern) = match term.rsplit_once('/') {
            Some((dir, pattern)) => (
                call.find_file(Some("files"), dir).into_iter().collect(),
                pattern,
            ),
            None => {
                let base = call.base_dir();
                (vec![base.join("files"), base], term.as_str())
            }
        };
        let glob = globset::Glob::new(pattern)
            .map_err(|e| format!("invalid pattern '{term}': {e}"))?
            .compile_matcher();
        if let Some(found) = dirs
            .iter()
            .map(|d| matches(d, &glob))
            .find(|m| !m.is_empty())
        {
            values.extend(found.iter().map(|p| Value::from(p.to_string_lossy())));
        }
    }
    Ok(values)
}

/// The regular files of `dir` whose names match, sorted.
fn matches(dir: &Path, glob: &globset::GlobMatcher) -> Vec<PathBuf> {
    let dotted = glob.glob().glob().starts_with('.');
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        // As Python's glob: `*` does not match a leading dot.
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.') || dotted)
        .filter(|e| glob.is_match(e.file_name()) && e.path().is_file())
        .map(|e| e.path())
        .collect();
    found.sort();
    found
}
