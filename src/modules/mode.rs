//! File modes as users write them: octal (`'0644'`, `644`) or chmod's
//! symbolic form (`u=rw,g=r,o=r`, `a+X`, `g-w,o=`).
//!
//! Modules compute the resulting octal mode on the controller, so that they
//! can tell whether anything would change before touching the host, and
//! always hand the host a plain octal `chmod`.

/// Permission bits a mode may carry (`07777`).
const ALL_BITS: u32 = 0o7777;

/// The mode `spec` gives a path whose mode is `current` (`is_dir` matters for
/// `X`). Octal specs ignore `current`.
pub fn apply_mode(spec: &str, current: u32, is_dir: bool) -> Result<u32, String> {
    let spec = spec.trim();
    if let Some(octal) = parse_octal(spec) {
        return Ok(octal);
    }
    let mut mode = current & ALL_BITS;
    for clause in spec.split(',') {
        mode = apply_clause(clause, mode, is_dir).ok_or_else(|| {
            format!(
                "invalid mode '{spec}': expected octal like '0644' or symbolic like 'u=rw,g=r,o=r'"
            )
        })?;
    }
    Ok(mode)
}

/// Whether a mode spec names an absolute mode (does not depend on the
/// current one), so a new path gets exactly it.
pub fn is_octal(spec: &str) -> bool {
    parse_octal(spec.trim()).is_some()
}

/// `0644` style, as the four-digit string Ansible reports.
pub fn format_mode(mode: u32) -> String {
    format!("{:04o}", mode & ALL_BITS)
}

fn parse_octal(spec: &str) -> Option<u32> {
    let digits = spec.strip_prefix("0o").unwrap_or(spec);
    if digits.is_empty() || digits.len() > 5 || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b))
    {
        return None;
    }
    u32::from_str_radix(digits, 8)
        .ok()
        .filter(|m| *m <= ALL_BITS)
}

/// One `who op perms [op perms...]` clause.
fn apply_clause(clause: &str, mut mode: u32, is_dir: bool) -> Option<u32> {
    let who_len = clause
        .find(|c: char| !matches!(c, 'u' | 'g' | 'o' | 'a'))
        .unwrap_or(clause.len());
    let who = who_mask(&clause[..who_len]);
    let mut rest = &clause[who_len..];
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let op = rest.chars().next()?;
        if !matches!(op, '+' | '-' | '=') {
            return None;
        }
        let perms_len = rest[1..]
            .find(['+', '-', '='])
            .map_or(rest.len(), |i| i + 1);
        let bits = perm_bits(&rest[1..perms_len], who, mode, is_dir)?;
        mode = match op {
            '+' => mode | bits,
            '-' => mode & !bits,
            _ => (mode & !class_bits(who)) | bits,
        };
        rest = &rest[perms_len..];
    }
    Some(mode)
}

/// The classes a `who` string names, as a mask over `rwx` in each class
/// (`u` = 0o700...). Empty means all, as for Ansible.
fn who_mask(who: &str) -> u32 {
    if who.is_empty() || who.contains('a') {
        return 0o777;
    }
    who.chars().fold(0, |mask, c| {
        mask | match c {
            'u' => 0o700,
            'g' => 0o070,
            _ => 0o007,
        }
    })
}

/// Everything `=` resets for the classes in `who`: their rwx bits plus the
/// special bit each class owns (setuid, setgid, sticky).
fn class_bits(who: u32) -> u32 {
    let mut bits = who;
    if who & 0o700 != 0 {
        bits |= 0o4000;
    }
    if who & 0o070 != 0 {
        bits |= 0o2000;
    }
    if who & 0o007 != 0 {
        bits |= 0o1000;
    }
    bits
}

/// The bits `perms` (`rwxXst` or one of `ugo` to copy a class) stand for
/// within the classes of `who`.
fn perm_bits(perms: &str, who: u32, mode: u32, is_dir: bool) -> Option<u32> {
    let mut bits = 0;
    for c in perms.chars() {
        bits |= match c {
            'r' => 0o444 & who,
            'w' => 0o222 & who,
            'x' => 0o111 & who,
            'X' if is_dir || mode & 0o111 != 0 => 0o111 & who,
            'X' => 0,
            's' => class_bits(who) & 0o6000,
            't' => class_bits(who) & 0o1000,
            'u' => spread((mode >> 6) & 7) & who,
            'g' => spread((mode >> 3) & 7) & who,
            'o' => spread(mode & 7) & who,
            _ => return None,
        };
    }
    Some(bits)
}

/// One class's `rwx` bits copied into all three classes.
fn spread(rwx: u32) -> u32 {
    rwx << 6 | rwx << 3 | rwx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octal_forms() {
        assert_eq!(apply_mode("0644", 0o777, false), Ok(0o644));
        assert_eq!(apply_mode("644", 0, false), Ok(0o644));
        assert_eq!(apply_mode("4755", 0, false), Ok(0o4755));
        assert_eq!(apply_mode("0o600", 0, false), Ok(0o600));
        assert!(is_octal("0755") && !is_octal("u+x"));
        assert_eq!(format_mode(0o644), "0644");
    }

    #[test]
    fn symbolic_forms() {
        assert_eq!(apply_mode("u=rw,g=r,o=r", 0o777, false), Ok(0o644));
        assert_eq!(apply_mode("u+x", 0o644, false), Ok(0o744));
        assert_eq!(apply_mode("go-w", 0o666, false), Ok(0o644));
        assert_eq!(apply_mode("a+X", 0o644, true), Ok(0o755));
        assert_eq!(apply_mode("a+X", 0o644, false), Ok(0o644));
        assert_eq!(apply_mode("a+X", 0o744, false), Ok(0o755));
        assert_eq!(apply_mode("o=", 0o1777, true), Ok(0o770));
        assert_eq!(apply_mode("g=u", 0o704, false), Ok(0o774));
        assert_eq!(apply_mode("u+s,+t", 0o755, true), Ok(0o5755));
        assert_eq!(apply_mode("u=rwx,g=rx-x", 0, false), Ok(0o740));
        assert_eq!(apply_mode("+r", 0, false), Ok(0o444));
    }

    #[test]
    fn invalid_modes() {
        for bad in ["", "rw", "u", "u=rz", "99", "0999", "u=rw,,"] {
            assert!(apply_mode(bad, 0, false).is_err(), "{bad}");
        }
    }
}
