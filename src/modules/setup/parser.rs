//! The gathering script's output, cut into its sections (`@@name` lines),
//! and the small readers the fact builders share.

use std::collections::HashMap;

/// The sections of one run of `script.sh`, by name.
#[derive(Debug, Default)]
pub struct Sections<'a> {
    by_name: HashMap<&'a str, &'a str>,
}

impl<'a> Sections<'a> {
    pub fn parse(output: &'a str) -> Self {
        let mut by_name = HashMap::new();
        let mut rest = output;
        // Every section starts with "\n@@name\n"; the text before the first is noise.
        while let Some(start) = rest.find("\n@@") {
            let after = &rest[start + 3..];
            let name_end = after.find('\n').unwrap_or(after.len());
            let name = &after[..name_end];
            let body_start = (name_end + 1).min(after.len());
            let body = &after[body_start..];
            let body_end = body.find("\n@@").unwrap_or(body.len());
            by_name.insert(name, &body[..body_end]);
            rest = &body[body_end..];
        }
        Sections { by_name }
    }

    /// A section's text, empty when the script printed nothing for it.
    pub fn get(&self, name: &str) -> &'a str {
        self.by_name.get(name).copied().unwrap_or("")
    }

    /// A section's non-empty lines, trimmed.
    pub fn lines(&self, name: &str) -> impl Iterator<Item = &'a str> {
        self.get(name)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
    }

    /// The section's first non-empty line.
    pub fn first(&self, name: &str) -> Option<&'a str> {
        self.lines(name).next()
    }

    /// Whether the script reached its end (a cut-off output is an error).
    pub fn complete(&self) -> bool {
        self.by_name.contains_key("end")
    }
}

/// `KEY=value` lines (os-release, lsb-release), quotes removed.
pub fn key_values(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            (k.trim().to_string(), v.to_string())
        })
        .collect()
}

/// Python's `round()` (half to even), which Ansible's CPU counts use.
pub fn round_half_even(x: f64) -> i64 {
    let r = x.round();
    if (x - x.trunc()).abs() == 0.5 && r % 2.0 != 0.0 {
        (r - x.signum()) as i64
    } else {
        r as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_split_on_markers() {
        let s = Sections::parse("\n@@a\nx\ny\n\n@@b\n\n@@end\n");
        assert_eq!(s.get("a"), "x\ny\n");
        assert_eq!(s.first("b"), None);
        assert!(s.complete());
        assert!(!Sections::parse("\n@@a\nx").complete());
    }

    #[test]
    fn python_rounding() {
        assert_eq!(round_half_even(0.5), 0);
        assert_eq!(round_half_even(1.5), 2);
        assert_eq!(round_half_even(2.5), 2);
        assert_eq!(round_half_even(1.0), 1);
    }

    #[test]
    fn key_values_unquote() {
        let kv = key_values("A=\"x y\"\nB='z'\nC=w\n");
        assert_eq!(kv["A"], "x y");
        assert_eq!(kv["B"], "z");
        assert_eq!(kv["C"], "w");
    }
}
