//! Shared vocabulary: the variable map and the few ways of reading and
//! writing values (Ansible's booleans, durations, shell words, display text)
//! that several layers need. A leaf: it imports nothing of ours, so any
//! module may use it without creating a loop.

use serde_json::{Map, Value as Json};
use std::time::Duration;

/// A set of variables, as used everywhere in `rollout`.
pub type Vars = Map<String, Json>;

/// Ansible's boolean words (`boolean()` in ansible's `convert_bool.py`):
/// y/yes/on/1/true/t and n/no/off/0/false/f, case-insensitive, surrounding
/// space ignored; `None` for any other string. Unlike Ansible's strict
/// `boolean()`, the empty string is `false` (as `| bool` treats it).
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" | "on" | "1" | "true" | "t" => Some(true),
        "n" | "no" | "off" | "0" | "false" | "f" | "" => Some(false),
        _ => None,
    }
}

/// Seconds from `90`, `90s`, `5m`, `1h`, `1.5`, `1m30s`.
pub fn parse_duration(s: &str) -> Option<f64> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<f64>() {
        return (secs >= 0.0).then_some(secs);
    }
    let mut total = 0.0;
    let mut number = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1.0,
            'm' => 60.0,
            'h' => 3600.0,
            'd' => 86400.0,
            _ => return None,
        };
        total += number.parse::<f64>().ok()? * unit;
        number.clear();
    }
    number.is_empty().then_some(total)
}

/// The longest wait a playbook may ask for: a year. Longer is a typo (or
/// `1e20`), and `Duration::from_secs_f64` panics past ~584 billion years.
pub const MAX_DURATION_SECS: f64 = 365.0 * 86400.0;

/// Seconds from a playbook as a `Duration`: the one checked conversion
/// every input-driven duration goes through (negative, NaN, infinite and
/// over [`MAX_DURATION_SECS`] are errors, never a panic).
pub fn duration_from_secs(secs: f64) -> Result<Duration, String> {
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!(
            "{secs} is not a duration: it must be 0 seconds or more"
        ));
    }
    if secs > MAX_DURATION_SECS {
        // 1e30 as written, not as thirty digits.
        let shown = if secs < 1e12 {
            format!("{secs}")
        } else {
            format!("{secs:e}")
        };
        return Err(format!(
            "{shown} seconds is too long: at most {MAX_DURATION_SECS} (a year)"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// [`parse_duration`] then [`duration_from_secs`]: text such as `5m` as a
/// checked `Duration`.
pub fn parse_duration_checked(s: &str) -> Result<Duration, String> {
    let secs = parse_duration(s)
        .ok_or_else(|| format!("'{s}' is not a duration such as 90, \"90s\" or \"5m\""))?;
    duration_from_secs(secs)
}

/// Quotes one word for a POSIX shell: the result is always a single word,
/// whatever the input holds (`;`, `$()`, quotes, newlines).
pub fn shell_quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@%+=:,./-_".contains(&b))
    {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// Turns any JSON value into the text a user expects to see (strings bare).
pub fn display_text(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Python's `json.dumps(data)` (or with `indent=`), as Ansible writes JSON:
/// `", "` and `": "` between items on one line, `","` at line ends when
/// indented, and non-ASCII escaped as `\uXXXX` (`ensure_ascii`).
pub fn python_json(
    data: &impl serde::Serialize,
    indent: Option<usize>,
) -> Result<String, serde_json::Error> {
    let mut out = Vec::new();
    match indent {
        Some(width) => {
            let pad = vec![b' '; width];
            let pretty = serde_json::ser::PrettyFormatter::with_indent(&pad);
            data.serialize(&mut serde_json::Serializer::with_formatter(
                &mut out, pretty,
            ))?
        }
        None => data.serialize(&mut serde_json::Serializer::with_formatter(
            &mut out, PyJson,
        ))?,
    }
    let text = String::from_utf8(out).expect("serde_json writes UTF-8");
    // Outside strings JSON is ASCII, so escaping the whole text is exact.
    let mut ascii = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            ' '..='~' | '\n' => ascii.push(c),
            _ => {
                for unit in c.encode_utf16(&mut [0; 2]) {
                    ascii.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    Ok(ascii)
}

/// Python's `json.dumps` separators on one line: `", "` and `": "`.
struct PyJson;

impl serde_json::ser::Formatter for PyJson {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.begin_array_value(w, first)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }
}

/// A module argument as the text Python's `str()` makes of it, as
/// Ansible's modules receive it where they need a string: strings bare,
/// `True`/`False`, and lists and dictionaries as [`python_json`].
pub fn python_text(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        Json::Bool(true) => "True".into(),
        Json::Bool(false) => "False".into(),
        Json::Null => "None".into(),
        Json::Number(n) => n.to_string(),
        other => python_json(other, None).unwrap_or_else(|_| other.to_string()),
    }
}

/// Python's `fnmatch.translate`: `*`, `?`, `[seq]` and `[!seq]`, no
/// escapes, an unclosed `[` taken literally, matched whole and
/// case-sensitively (POSIX). `None` when the pattern has no wildcard.
pub fn fnmatch_regex(pattern: &str) -> Option<regex::Regex> {
    if !pattern.contains(['*', '?', '[']) {
        return None;
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut re = String::from("(?s)^");
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            '[' => {
                // The class ends at the first `]` after an optional `!` and
                // a leading `]` (which is literal), as in Python.
                let mut j = i;
                if chars.get(j) == Some(&'!') {
                    j += 1;
                }
                if chars.get(j) == Some(&']') {
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    j += 1;
                }
                if j >= chars.len() {
                    re.push_str("\\[");
                    continue;
                }
                let mut class: String = chars[i..j].iter().collect();
                i = j + 1;
                let negated = class.starts_with('!');
                if negated {
                    class.remove(0);
                }
                let body: String = class
                    .chars()
                    .map(|ch| match ch {
                        '\\' | '[' | ']' | '^' | '&' | '~' => format!("\\{ch}"),
                        _ => ch.to_string(),
                    })
                    .collect();
                re.push('[');
                if negated {
                    re.push('^');
                }
                re.push_str(&body);
                re.push(']');
            }
            _ => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    regex::Regex::new(&re).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ansible_booleans() {
        for word in ["y", "YES", "On", "1", "true", "T", " yes "] {
            assert_eq!(parse_bool(word), Some(true), "{word}");
        }
        for word in ["n", "No", "OFF", "0", "False", "f", ""] {
            assert_eq!(parse_bool(word), Some(false), "{word}");
        }
        for word in ["2", "yess", "enabled", "none"] {
            assert_eq!(parse_bool(word), None, "{word}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Some(90.0));
        assert_eq!(parse_duration("5m"), Some(300.0));
        assert_eq!(parse_duration("1h2m3s"), Some(3723.0));
        assert_eq!(parse_duration("5x"), None);
        assert_eq!(parse_duration("-3"), None);
    }

    #[test]
    fn checked_durations_refuse_what_would_panic() {
        assert_eq!(duration_from_secs(1.5), Ok(Duration::from_millis(1500)));
        assert_eq!(
            duration_from_secs(MAX_DURATION_SECS),
            Ok(Duration::from_secs(365 * 86400))
        );
        for bad in [-1.0, -0.5, 1e20, 1e30, f64::NAN, f64::INFINITY] {
            assert!(duration_from_secs(bad).is_err(), "{bad}");
        }
        assert!(
            duration_from_secs(-5.0)
                .unwrap_err()
                .contains("0 seconds or more")
        );
        assert!(duration_from_secs(1e20).unwrap_err().contains("too long"));
        assert!(parse_duration_checked("1e20").is_err());
        assert!(parse_duration_checked("99999999999999999999h").is_err());
        assert_eq!(parse_duration_checked("5m"), Ok(Duration::from_secs(300)));
    }

    #[test]
    fn json_as_python_writes_it() {
        let v = json!({"b": [1, "h\u{e9}llo \u{1f600}", null], "a": {"c": true, "d": {}}});
        assert_eq!(
            python_json(&v, None).unwrap(),
            r#"{"b": [1, "h\u00e9llo \ud83d\ude00", null], "a": {"c": true, "d": {}}}"#
        );
        assert_eq!(
            python_json(&json!({"a": [1, 2], "e": []}), Some(2)).unwrap(),
            "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"e\": []\n}"
        );
        assert_eq!(
            python_json(&json!("\u{7f}\n"), None).unwrap(),
            r#""\u007f\n""#
        );
        assert_eq!(python_text(&json!(true)), "True");
        assert_eq!(python_text(&json!({"a": 3})), r#"{"a": 3}"#);
    }

    #[test]
    fn quoting_keeps_one_word() {
        assert_eq!(shell_quote("plain/path-1.0"), "plain/path-1.0");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("; touch /tmp/x"), "'; touch /tmp/x'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn display_text_leaves_strings_bare() {
        assert_eq!(display_text(&json!("a b")), "a b");
        assert_eq!(display_text(&json!(3)), "3");
        assert_eq!(display_text(&json!(["x"])), r#"["x"]"#);
        assert_eq!(display_text(&Json::Null), "null");
    }
}
