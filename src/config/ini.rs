//! ansible.cfg's INI dialect: what Python's `configparser.ConfigParser`
//! (with `inline_comment_prefixes=(';',)`, as Ansible builds it) accepts.
//!
//! `[section]` headers; `key = value` or `key: value` (keys lower-cased,
//! values trimmed); whole-line comments starting with `#` or `;`; inline
//! comments only after whitespace and `;`; indented lines continue the
//! previous value. A duplicate section or key, a key before any section or
//! a line without a delimiter is an error, as in configparser. Values are
//! read raw (Ansible reads with `raw=True`): `%` is not interpolated.

use crate::diag::Diagnostic;
use crate::yaml::Span;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniFile {
    pub path: PathBuf,
    pub sections: Vec<Section>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    pub line: usize,
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: String,
    pub line: usize,
}

impl IniFile {
    pub fn parse(path: &Path, text: &str) -> Result<IniFile, Diagnostic> {
        let error = |line: usize, message: String| {
            Diagnostic::at(path, Span { line, col: 1 }, message)
                .with_help("ansible.cfg is INI: '[section]' headers, then 'key = value' lines")
        };
        let mut sections: Vec<Section> = Vec::new();
        // The indentation of the current entry's line, for continuations.
        let mut entry_indent: Option<usize> = None;
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let trimmed = raw.trim();
            let indent = raw.len() - raw.trim_start().len();
            if trimmed.starts_with('#') || trimmed.starts_with(';') {
                continue;
            }
            let content = strip_inline_comment(raw).trim();
            if content.is_empty() {
                continue;
            }
            if let Some(current) = entry_indent
                && indent > current
                && let Some(entry) = sections.last_mut().and_then(|s| s.entries.last_mut())
            {
                entry.value.push('\n');
                entry.value.push_str(content);
                continue;
            }
            entry_indent = None;
            if let Some(name) = content.strip_prefix('[').and_then(|c| c.strip_suffix(']')) {
                if let Some(first) = sections.iter().find(|s| s.name == name) {
                    return Err(error(
                        line,
                        format!("section [{name}] already appeared at line {}", first.line),
                    ));
                }
                sections.push(Section {
                    name: name.to_string(),
                    line,
                    entries: Vec::new(),
                });
                continue;
            }
            let Some(at) = content.find(['=', ':']) else {
                return Err(error(
                    line,
                    format!("'{content}' is neither a '[section]' nor 'key = value'"),
                ));
            };
            let key = content[..at].trim().to_lowercase();
            let value = content[at + 1..].trim().to_string();
            let Some(section) = sections.last_mut() else {
                return Err(error(
                    line,
                    format!("'{key}' comes before any [section] header"),
                ));
            };
            if let Some(first) = section.entries.iter().find(|e| e.key == key) {
                return Err(error(
                    line,
                    format!(
                        "'{key}' is already set in [{}] at line {}",
                        section.name, first.line
                    ),
                ));
            }
            section.entries.push(Entry { key, value, line });
            entry_indent = Some(indent);
        }
        Ok(IniFile {
            path: path.to_path_buf(),
            sections,
        })
    }

    /// The entry for `key` in `section`, else in `[DEFAULT]` (whose keys
    /// configparser shows in every section).
    pub fn get(&self, section: &str, key: &str) -> Option<&Entry> {
        let find = |name: &str| {
            self.sections
                .iter()
                .find(|s| s.name == name)
                .and_then(|s| s.entries.iter().find(|e| e.key == key))
        };
        find(section).or_else(|| find("DEFAULT"))
    }
}

/// Drops a `;` comment that follows whitespace (configparser's rule).
fn strip_inline_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b';' && i > 0 && bytes[i - 1].is_ascii_whitespace() {
            return &line[..i];
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<IniFile, Diagnostic> {
        IniFile::parse(Path::new("/p/ansible.cfg"), text)
    }

    #[test]
    fn configparser_syntax() {
        let ini = parse(
            "# comment\n; comment\n[defaults]\nInventory = hosts ; inline\nremote_user: deploy\n\
             ssh = a;b\n  # indented comment\n[ssh_connection]\nssh_args = -o A=1\n    -o B=2\n\
             pct = 100%(x)s\n[DEFAULT]\nforks = 9\n",
        )
        .unwrap();
        let value = |s: &str, k: &str| ini.get(s, k).map(|e| e.value.as_str());
        assert_eq!(value("defaults", "inventory"), Some("hosts"));
        assert_eq!(ini.get("defaults", "inventory").unwrap().line, 4);
        assert_eq!(value("defaults", "remote_user"), Some("deploy"));
        assert_eq!(
            value("defaults", "ssh"),
            Some("a;b"),
            "';' needs whitespace"
        );
        assert_eq!(value("ssh_connection", "ssh_args"), Some("-o A=1\n-o B=2"));
        assert_eq!(value("ssh_connection", "pct"), Some("100%(x)s"), "raw");
        assert_eq!(value("defaults", "forks"), Some("9"), "[DEFAULT] applies");
        assert_eq!(value("nosuch", "forks"), Some("9"));
        assert_eq!(value("defaults", "nosuch"), None);
    }

    #[test]
    fn configparser_errors_name_the_line() {
        for (text, line, says) in [
            ("forks = 3\n", 1, "before any [section]"),
            (
                "[defaults]\nforks = 3\nforks = 4\n",
                3,
                "already set in [defaults] at line 2",
            ),
            (
                "[a]\n[b]\n[a]\n",
                3,
                "section [a] already appeared at line 1",
            ),
            ("[defaults]\njust words\n", 2, "neither a '[section]'"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.message.contains(says), "{text:?}: {err}");
            assert_eq!(err.location.unwrap().line, line, "{text:?}");
        }
    }
}
