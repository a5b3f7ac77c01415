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

/// Removes one level of matching surrounding quotes, as Ansible does for values.
pub fn unquote(value: &str) -> String {
    let bytes = value.as_bytes();
    if bytes.len() >= 2 {
        let (first, last) = (bytes[0], bytes[bytes.len() - 1]);
        if first == last && (first == b'"' || first == b'\'') {
            let inner = &value[1..value.len() - 1];
            let q = first as char;
            return inner.replace(&format!("\\{q}"), &q.to_string());
        }
    }
    value.to_string()
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
        assert_eq!(unquote("'a b'"), "a b");
        assert_eq!(unquote(r#""say \"hi\"""#), r#"say "hi""#);
        assert_eq!(unquote("plain"), "plain");
    }
}
