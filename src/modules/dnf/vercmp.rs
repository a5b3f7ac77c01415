//! rpm's version comparison (`rpmvercmp`, and epoch:version-release on
//! top of it), so that the module can tell an older spec from a newer
//! one without Python or rpm's own libraries on the host.

use std::cmp::Ordering;

/// rpm's `rpmvercmp`: alternating runs of digits and letters compared run
/// by run (numbers numerically, a number newer than letters), other
/// characters separating them; `~` sorts before everything, even the end.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    let separator = |c: &u8| !c.is_ascii_alphanumeric() && *c != b'~' && *c != b'^';
    loop {
        while a.first().is_some_and(separator) {
            a = &a[1..];
        }
        while b.first().is_some_and(separator) {
            b = &b[1..];
        }
        match (a.first(), b.first()) {
            (Some(b'~'), Some(b'~')) => {
                a = &a[1..];
                b = &b[1..];
                continue;
            }
            (Some(b'~'), _) => return Ordering::Less,
            (_, Some(b'~')) => return Ordering::Greater,
            // `^` sorts after the end but before anything else.
            (Some(b'^'), Some(b'^')) => {
                a = &a[1..];
                b = &b[1..];
                continue;
            }
            (Some(b'^'), None) => return Ordering::Greater,
            (None, Some(b'^')) => return Ordering::Less,
            (Some(b'^'), _) => return Ordering::Less,
            (_, Some(b'^')) => return Ordering::Greater,
            (None, _) | (_, None) => break,
            _ => {}
        }
        let numeric = a[0].is_ascii_digit();
        let run = |s: &[u8]| {
            s.iter()
                .take_while(|c| {
                    if numeric {
                        c.is_ascii_digit()
                    } else {
                        c.is_ascii_alphabetic()
                    }
                })
                .count()
        };
        let (la, lb) = (run(a), run(b));
        if lb == 0 {
            // Different kinds of run: a number is newer than letters.
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let (sa, sb) = (&a[..la], &b[..lb]);
        let order = if numeric {
            let trim = |s: &[u8]| {
                let zeros = s.iter().take_while(|c| **c == b'0').count();
                s[zeros..].to_vec()
            };
            let (ta, tb) = (trim(sa), trim(sb));
            ta.len().cmp(&tb.len()).then_with(|| ta.cmp(&tb))
        } else {
            sa.cmp(sb)
        };
        if order != Ordering::Equal {
            return order;
        }
        a = &a[la..];
        b = &b[lb..];
    }
    match (a.is_empty(), b.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

/// `[EPOCH:]VERSION[-RELEASE]` compared as rpm does; a side without a
/// release matches any release of the other.
pub fn evrcmp(a: &str, b: &str) -> Ordering {
    let split = |s: &str| {
        let (epoch, rest) = match s.split_once(':') {
            Some((e, rest)) if e.bytes().all(|c| c.is_ascii_digit()) => {
                (e.parse::<u64>().unwrap_or(0), rest.to_string())
            }
            _ => (0, s.to_string()),
        };
        match rest.rsplit_once('-') {
            Some((v, r)) => (epoch, v.to_string(), Some(r.to_string())),
            None => (epoch, rest, None),
        }
    };
    let (ea, va, ra) = split(a);
    let (eb, vb, rb) = split(b);
    ea.cmp(&eb)
        .then_with(|| rpmvercmp(&va, &vb))
        .then_with(|| match (ra, rb) {
            (Some(ra), Some(rb)) => rpmvercmp(&ra, &rb),
            _ => Ordering::Equal,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn versions_compare_as_rpm_does() {
        // Cases from rpm's own test suite (tests/rpmvercmp.at).
        for (a, b, want) in [
            ("1.0", "1.0", Equal),
            ("1.0", "2.0", Less),
            ("2.0.1", "2.0", Greater),
            ("5.5p1", "5.5p10", Less),
            ("10xyz", "10.1xyz", Less),
            ("xyz10", "xyz10.1", Less),
            ("1.0a", "1.0", Greater),
            ("1.0aa", "1.0a", Greater),
            ("10", "9", Greater),
            ("010", "10", Equal),
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1", "1.0~rc2", Less),
            ("1.0~rc1~git123", "1.0~rc1", Less),
            ("1.0^", "1.0", Greater),
            ("1.0^git1", "1.01", Less),
            ("a", "1", Less),
            ("2_0", "2.0", Equal),
        ] {
            assert_eq!(rpmvercmp(a, b), want, "{a} vs {b}");
            assert_eq!(rpmvercmp(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn epoch_version_release() {
        assert_eq!(evrcmp("1.1-1", "1.0-1"), Greater);
        assert_eq!(evrcmp("1:1.0-1", "2.0-1"), Greater);
        assert_eq!(evrcmp("1.0", "1.0-7"), Equal);
        assert_eq!(evrcmp("1.0-10.el9", "1.0-9.el9"), Greater);
    }
}
