//! Host names as written in an inventory: `web[01:12]`, `db-[a:f]`,
//! `web[1:10:2]`, optionally followed by `:port`.
//!
//! Errors are plain strings; the caller knows the file and line.

/// The most hosts one name may expand to, so a typo like `web[0:99999999]`
/// fails instead of exhausting memory.
const MAX_EXPANSION: usize = 100_000;

/// The hosts a host entry expands to, and the port it names if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct HostEntry {
    pub names: Vec<String>,
    pub port: Option<u16>,
}

/// Parses `name`, `name[1:3]` or `name:2222` into host names.
pub(super) fn parse_host_entry(text: &str) -> Result<HostEntry, String> {
    let text = text.trim();
    let (name, port) = split_port(text)?;
    let names = expand(name)?;
    for host in &names {
        check_host_name(host)?;
    }
    Ok(HostEntry { names, port })
}

/// Splits a trailing `:port` off, unless the colon belongs to an IPv6 address.
fn split_port(text: &str) -> Result<(&str, Option<u16>), String> {
    if let Some(inner) = text.strip_prefix('[')
        && let Some((addr, port)) = inner.split_once("]:")
        && is_ipv6(addr)
    {
        return Ok((addr, Some(parse_port(port)?)));
    }
    let Some((name, port)) = text.rsplit_once(':') else {
        return Ok((text, None));
    };
    if port.is_empty()
        || !port.bytes().all(|b| b.is_ascii_digit())
        || colons_outside_brackets(name) > 0
    {
        return Ok((text, None));
    }
    Ok((name, Some(parse_port(port)?)))
}

fn parse_port(port: &str) -> Result<u16, String> {
    port.parse()
        .map_err(|_| format!("invalid port '{port}': expected a number from 0 to 65535"))
}

fn colons_outside_brackets(text: &str) -> usize {
    let mut depth = 0usize;
    let mut count = 0;
    for c in text.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            ':' if depth == 0 => count += 1,
            _ => {}
        }
    }
    count
}

fn is_ipv6(text: &str) -> bool {
    text.matches(':').count() >= 2
        && text
            .chars()
            .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
}

/// Rejects characters that cannot be part of a host name, so that a broken
/// YAML file is not silently read as an INI file full of odd host names.
fn check_host_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty host name".into());
    }
    let bad = name
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || "=,'\"{}[]#;\\".contains(*c));
    if let Some(c) = bad {
        return Err(format!("invalid character '{c}' in host name '{name}'"));
    }
    if name.contains(':') && !is_ipv6(name) {
        return Err(format!(
            "invalid host name '{name}': ':' is only allowed before a port number"
        ));
    }
    Ok(())
}

/// Expands every `[start:end(:step)]` range in a name, left to right
/// (iteratively: a name may hold any number of ranges).
pub(super) fn expand(name: &str) -> Result<Vec<String>, String> {
    let mut names = vec![String::new()];
    let mut rest = name;
    while let Some(open) = rest.find('[') {
        let (prefix, after) = (&rest[..open], &rest[open + 1..]);
        let close = after
            .find(']')
            .ok_or_else(|| format!("unclosed '[' in host range '{name}'"))?;
        let values = range_values(&after[..close])?;
        if names.len().saturating_mul(values.len()) > MAX_EXPANSION {
            return Err(format!(
                "host range '{name}' expands to more than {MAX_EXPANSION} hosts"
            ));
        }
        names = names
            .iter()
            .flat_map(|head| values.iter().map(move |v| format!("{head}{prefix}{v}")))
            .collect();
        rest = &after[close + 1..];
    }
    for n in &mut names {
        n.push_str(rest);
    }
    Ok(names)
}

/// The values of one range: `01:12` keeps the zero-padded width, `a:f`
/// walks letters, an optional third part is the stride.
fn range_values(spec: &str) -> Result<Vec<String>, String> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (start, end, step) = match parts.as_slice() {
        [start, end] => (*start, *end, 1),
        [start, end, step] => (*start, *end, parse_step(step)?),
        _ => {
            return Err(format!(
                "invalid host range '[{spec}]': expected [start:end] or [start:end:step]"
            ));
        }
    };
    let start = if start.is_empty() { "0" } else { start };
    if let (Some(a), Some(b)) = (single_letter(start), single_letter(end)) {
        return letter_range(a, b, step, spec);
    }
    numeric_range(start, end, step, spec)
}

fn parse_step(step: &str) -> Result<usize, String> {
    match step.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "invalid host range step '{step}': expected a positive number"
        )),
    }
}

fn single_letter(s: &str) -> Option<char> {
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if c.is_ascii_alphabetic() => Some(c),
        _ => None,
    }
}

/// Letters run a..z then A..Z, as in Ansible (`string.ascii_letters`).
fn letter_range(a: char, b: char, step: usize, spec: &str) -> Result<Vec<String>, String> {
    const LETTERS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let (Some(i), Some(j)) = (LETTERS.find(a), LETTERS.find(b)) else {
        return Err(format!("invalid host range '[{spec}]'"));
    };
    if i > j {
        return Err(format!("host range '[{spec}]' must have start <= end"));
    }
    Ok(LETTERS[i..=j]
        .chars()
        .step_by(step)
        .map(String::from)
        .collect())
}

fn numeric_range(start: &str, end: &str, step: usize, spec: &str) -> Result<Vec<String>, String> {
    let parse = |s: &str| -> Result<u64, String> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "invalid host range '[{spec}]': '{s}' is neither a number nor a single letter"
            ));
        }
        s.parse()
            .map_err(|_| format!("host range '[{spec}]' is too large"))
    };
    let (a, b) = (parse(start)?, parse(end)?);
    if a > b {
        return Err(format!("host range '[{spec}]' must have start <= end"));
    }
    // A leading zero asks for fixed-width names: web01..web12.
    let width = if start.len() > 1 && start.starts_with('0') {
        if start.len() != end.len() {
            return Err(format!(
                "host range '[{spec}]' must use the same width for start and end"
            ));
        }
        start.len()
    } else {
        0
    };
    let count = (b - a) / step as u64 + 1;
    if count > MAX_EXPANSION as u64 {
        return Err(format!(
            "host range '[{spec}]' expands to more than {MAX_EXPANSION} hosts"
        ));
    }
    Ok((a..=b)
        .step_by(step)
        .map(|n| format!("{n:0width$}"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<String> {
        parse_host_entry(text).unwrap().names
    }

    #[test]
    fn numeric_ranges_keep_zero_padding() {
        let hosts = names("web[01:12].example.com");
        assert_eq!(hosts.len(), 12);
        assert_eq!(hosts[0], "web01.example.com");
        assert_eq!(hosts[11], "web12.example.com");
        assert_eq!(names("app[8:10]"), ["app8", "app9", "app10"]);
    }

    #[test]
    fn stride_and_letters() {
        assert_eq!(names("web[1:10:3]"), ["web1", "web4", "web7", "web10"]);
        assert_eq!(names("db-[a:c]"), ["db-a", "db-b", "db-c"]);
        assert_eq!(names("x[y:B]"), ["xy", "xz", "xA", "xB"]);
    }

    #[test]
    fn several_ranges_multiply() {
        assert_eq!(names("r[1:2]-[a:b]"), ["r1-a", "r1-b", "r2-a", "r2-b"]);
    }

    #[test]
    fn ports_and_ipv6() {
        let entry = parse_host_entry("web[1:2]:2222").unwrap();
        assert_eq!(entry.names, ["web1", "web2"]);
        assert_eq!(entry.port, Some(2222));
        assert_eq!(parse_host_entry("::1").unwrap().port, None);
        let v6 = parse_host_entry("[fe80::1]:22").unwrap();
        assert_eq!((v6.names, v6.port), (vec!["fe80::1".to_string()], Some(22)));
    }

    #[test]
    fn bad_ranges_are_errors() {
        for bad in [
            "web[3:1]",
            "web[1:2",
            "web[1]",
            "web[01:100]",
            "web[1:5:0]",
            "web[a:5]",
            "web[0:99999999999]",
            "web[0:999][0:999]",
            "host:",
            "a b",
            "web:99999",
        ] {
            assert!(parse_host_entry(bad).is_err(), "{bad} should fail");
        }
    }
}
