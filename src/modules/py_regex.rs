//! Python's `re` as far as the `regex` crate allows, for the modules whose
//! arguments are Python regular expressions (`lineinfile`, `replace`,
//! `blockinfile`): compiling with a clear error, and expanding a Python
//! replacement template (`\1`, `\g<1>`, `\g<name>`, `\n`...).

use super::TaskResult;
use regex::bytes::{Captures, Regex};

/// Compiles a pattern (with inline flags prepended, e.g. `(?m)`), failing
/// the task with the pattern and the reason.
pub fn compile_with(flags: &str, pattern: &str) -> Result<Regex, TaskResult> {
    Regex::new(&format!("{flags}{pattern}")).map_err(|e| {
        TaskResult::failed(format!(
            "invalid regular expression '{pattern}': {e} (lookaround and backreferences are not supported)"
        ))
    })
}

pub fn compile(pattern: &str) -> Result<Regex, TaskResult> {
    compile_with("", pattern)
}

/// A Python replacement template with group references (`\1`, `\g<1>`,
/// `\g<name>`) and character escapes (`\n`, `\t`, `\\`...) replaced from the
/// match, as Python's `Match.expand` and `re.sub` do.
pub fn expand(caps: &Captures<'_>, template: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < template.len() {
        if template[i] == b'\\' {
            let rest = &template[i + 1..];
            if let Some((group, len)) = group_ref(rest) {
                let m = match group {
                    GroupRef::Index(n) => caps.get(n),
                    GroupRef::Name(name) => caps.name(&name),
                };
                out.extend_from_slice(m.map_or(&b""[..], |m| m.as_bytes()));
                i += 1 + len;
                continue;
            }
            if let Some(byte) = rest.first().and_then(|b| escaped(*b)) {
                out.push(byte);
                i += 2;
                continue;
            }
        }
        out.push(template[i]);
        i += 1;
    }
    out
}

/// The byte a template escape stands for (Python's template escapes).
fn escaped(b: u8) -> Option<u8> {
    Some(match b {
        b'n' => b'\n',
        b't' => b'\t',
        b'r' => b'\r',
        b'a' => 0x07,
        b'b' => 0x08,
        b'f' => 0x0c,
        b'v' => 0x0b,
        b'\\' => b'\\',
        _ => return None,
    })
}

enum GroupRef {
    Index(usize),
    Name(String),
}

/// The group named after a backslash, and how many bytes name it.
fn group_ref(rest: &[u8]) -> Option<(GroupRef, usize)> {
    if let Some(inner) = rest.strip_prefix(b"g<") {
        let end = inner.iter().position(|b| *b == b'>')?;
        let name = std::str::from_utf8(&inner[..end]).ok()?;
        let group = match name.parse::<usize>() {
            Ok(n) => GroupRef::Index(n),
            Err(_) => GroupRef::Name(name.to_string()),
        };
        return Some((group, end + 3));
    }
    let digits = rest
        .iter()
        .take(2)
        .take_while(|b| b.is_ascii_digit())
        .count();
    let n = std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()?;
    Some((GroupRef::Index(n), digits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_groups_and_escapes() {
        let re = compile(r"(?P<k>\w+)=(\d+)").unwrap();
        let caps = re.captures(b"port=80").unwrap();
        assert_eq!(expand(&caps, br"\g<k>: \2\n\\"), b"port: 80\n\\");
        assert_eq!(expand(&caps, br"\1\g<2>\.x"), b"port80\\.x");
    }

    #[test]
    fn a_bad_pattern_names_itself() {
        let err = compile("(unclosed").unwrap_err();
        assert!(err.msg.unwrap().contains("'(unclosed'"));
    }
}
