//! Ansible's `key=value` argument text: `command: ls -l chdir=/tmp`,
//! `debug: msg="hello {{ name }}"`.

/// Splits on whitespace, keeping quoted strings and `{{ }}` / `{% %}`
/// expressions whole. Returns the raw text of each token.
pub fn split_tokens(text: &str) -> Result<Vec<String>, String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut depth = 0usize;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            current.push(c);
            if c == '\\' {
                if let Some(next) = chars.next() {
                    current.push(next);
                }
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '{' if matches!(chars.peek(), Some('{') | Some('%')) => {
                depth += 1;
                current.push(c);
                current.push(chars.next().unwrap_or('{'));
            }
            '}' | '%' if depth > 0 && chars.peek() == Some(&'}') => {
                depth -= 1;
                current.push(c);
                current.push(chars.next().unwrap_or('}'));
            }
            '\'' | '"' => {
                quote = Some(c);
                current.push(c);
            }
            c if c.is_whitespace() && depth == 0 => {
                if !current.is_empty() {
                    tokens.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if let Some(q) = quote {
        return Err(format!("unbalanced quote {q} in '{text}'"));
    }
    if depth > 0 {
        return Err(format!("unclosed template expression in '{text}'"));
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    Ok(tokens)
}

/// `key=value` when the token starts with an identifier and `=`.
pub fn as_pair(token: &str) -> Option<(&str, &str)> {
    let (key, value) = token.split_once('=')?;
    let is_ident = !key.is_empty()
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !key.starts_with(|c: char| c.is_ascii_digit());
    is_ident.then_some((key, value))
}

/// A `key=value` token's value as Ansible's `parse_kv` reads it: escape
/// sequences decoded (in the whole value, quoted or not), then one level of
/// matching surrounding quotes removed.
pub fn value(raw: &str) -> String {
    unquote(&decode_escapes(raw))
}

/// Ansible's `unquote`: strips matching surrounding quotes unless the
/// closing one is escaped; nothing inside is touched.
fn unquote(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    match chars.as_slice() {
        [first, .., before, last]
            if first == last && matches!(first, '"' | '\'') && *before != '\\' =>
        {
            chars[1..chars.len() - 1].iter().collect()
        }
        [first, last] if first == last && matches!(first, '"' | '\'') => String::new(),
        _ => value.to_string(),
    }
}

/// The escapes of Ansible's `_decode_escapes` (Python's `unicode-escape`
/// of `\\`, `\'`, `\"`, `\a\b\f\n\r\t\v`, `\xHH`, `\uHHHH`,
/// `\UHHHHHHHH`); anything else, `\N{name}` included, stays as written.
fn decode_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let hex = |len: usize| {
            let digits =
                (after.get(1..=len)).filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))?;
            let c = char::from_u32(u32::from_str_radix(digits, 16).ok()?)?;
            Some((c, len + 1))
        };
        let decoded = match after.chars().next() {
            Some(c @ ('\\' | '\'' | '"')) => Some((c, 1)),
            Some('a') => Some(('\u{7}', 1)),
            Some('b') => Some(('\u{8}', 1)),
            Some('f') => Some(('\u{c}', 1)),
            Some('n') => Some(('\n', 1)),
            Some('r') => Some(('\r', 1)),
            Some('t') => Some(('\t', 1)),
            Some('v') => Some(('\u{b}', 1)),
            Some('x') => hex(2),
            Some('u') => hex(4),
            Some('U') => hex(8),
            _ => None,
        };
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &after[len..];
            }
            None => {
                out.push('\\');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_templates_stay_whole() {
        let t = split_tokens(r#"msg="hello {{ a | default('x y') }}" x=1 ls -l"#).unwrap();
        assert_eq!(
            t,
            vec![r#"msg="hello {{ a | default('x y') }}""#, "x=1", "ls", "-l"]
        );
        let t = split_tokens("echo {{ a }} b").unwrap();
        assert_eq!(t, vec!["echo", "{{ a }}", "b"]);
    }

    #[test]
    fn unbalanced_is_an_error() {
        assert!(split_tokens("msg='oops").is_err());
        assert!(split_tokens("echo {{ a").is_err());
    }

    #[test]
    fn pairs_and_unquote() {
        assert_eq!(as_pair("chdir=/tmp"), Some(("chdir", "/tmp")));
        assert_eq!(as_pair("--opt=1"), None);
        assert_eq!(as_pair("a==b").map(|p| p.0), Some("a"));
        assert_eq!(value("'a b'"), "a b");
        assert_eq!(value(r#""say \"hi\"""#), r#"say "hi""#);
        assert_eq!(value("plain"), "plain");
        assert_eq!(value("''"), "");
    }

    #[test]
    fn escapes_decode_as_in_parse_kv() {
        assert_eq!(value(r#""line1\nline2\ttab""#), "line1\nline2\ttab");
        assert_eq!(value(r"x\ny"), "x\ny", "unquoted values too");
        assert_eq!(value(r#""x\\ny""#), r"x\ny");
        assert_eq!(value(r"\u00e9\x41\U0001F600"), "\u{e9}A\u{1F600}");
        assert_eq!(value(r"C:\dir \d \N{DASH} \x4"), r"C:\dir \d \N{DASH} \x4");
        assert_eq!(
            value(r#""ends\\""#),
            r#""ends\""#,
            "an escaped closing quote stays"
        );
    }
}
