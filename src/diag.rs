//! Diagnostics: an error message tied to a place in a source file.
//!
//! Every input error the user can fix (YAML, playbook, inventory, template)
//! ends up as a [`Diagnostic`], which renders as the message, `file:line:col`,
//! the offending line with a caret under the column, and a hint.

use crate::yaml::Span;
use std::fmt;
use std::path::{Path, PathBuf};

/// A place in a source file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
}

impl Location {
    pub fn new(file: impl Into<PathBuf>, span: Span) -> Self {
        Location {
            file: file.into(),
            line: span.line,
            col: span.col,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub message: String,
    pub location: Option<Location>,
    /// What to do about it ("did you mean ...?", "define it with -e ...").
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(message: impl Into<String>) -> Self {
        Diagnostic {
            message: message.into(),
            location: None,
            help: None,
        }
    }

    pub fn at(file: &Path, span: Span, message: impl Into<String>) -> Self {
        Diagnostic::new(message).with_location(Location::new(file, span))
    }

    pub fn with_location(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// [`Diagnostic::with_help`] when there is a help.
    pub fn with_help_if(self, help: Option<&str>) -> Self {
        match help {
            Some(help) => self.with_help(help),
            None => self,
        }
    }

    /// Adds a did-you-mean hint when a candidate is close enough.
    pub fn suggest<'a>(self, word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Self {
        match suggestion(word, candidates) {
            Some(hint) => self.with_help(hint),
            None => self,
        }
    }
}

/// A file that cannot be read or decrypted: the message names it, the
/// help says which password option to pass.
impl From<crate::vault::ReadError> for Diagnostic {
    fn from(e: crate::vault::ReadError) -> Self {
        Diagnostic::new(e.to_string()).with_help_if(e.help())
    }
}

impl Diagnostic {
    /// A YAML error in `file`: syntax errors get `syntax_prefix`, a
    /// `!vault` value that cannot be decrypted its own help.
    pub fn yaml(file: &Path, e: &crate::yaml::YamlError, syntax_prefix: &str) -> Self {
        match e.help {
            Some(help) => Diagnostic::at(file, e.span, &e.message).with_help(help),
            None => Diagnostic::at(file, e.span, format!("{syntax_prefix}{}", e.message)),
        }
    }
}

/// "did you mean 'X'?" when a candidate is close enough.
pub fn suggestion<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    did_you_mean(word, candidates).map(|best| format!("did you mean '{best}'?"))
}

/// The closest candidate by edit distance, if it is plausibly a typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, c)| *d <= (word.len().max(c.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

impl std::error::Error for Diagnostic {}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ERROR! {}", self.message)?;
        if let Some(loc) = &self.location {
            write!(f, "\n  --> {loc}")?;
            if let Some(line) = source_line(&loc.file, loc.line) {
                let number = loc.line.to_string();
                let pad = " ".repeat(number.len());
                let caret_pad = " ".repeat(loc.col.saturating_sub(1));
                write!(f, "\n{pad} |\n{number} | {line}\n{pad} | {caret_pad}^")?;
            }
        }
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// Reads one line of a file for display; files are small and errors rare.
fn source_line(file: &Path, line: usize) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines()
        .nth(line.checked_sub(1)?)
        .map(|l| l.trim_end().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_location_line_and_caret() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("site.yaml");
        std::fs::write(&file, "- hosts: all\n  taks: []\n").unwrap();
        let d = Diagnostic::at(
            &file,
            Span { line: 2, col: 3 },
            "unknown play keyword 'taks'",
        )
        .suggest("taks", ["tasks", "hosts", "vars"]);
        let text = d.to_string();
        assert!(text.contains("site.yaml:2:3"), "{text}");
        assert!(text.contains("2 |   taks: []"), "{text}");
        assert!(text.contains("  |   ^"), "{text}");
        assert!(text.contains("did you mean 'tasks'?"), "{text}");
    }

    #[test]
    fn no_suggestion_for_distant_words() {
        assert_eq!(did_you_mean("xyzzy", ["tasks", "hosts"]), None);
        assert_eq!(
            did_you_mean("comand", ["command", "shell"]),
            Some("command")
        );
    }
}
