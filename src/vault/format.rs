//! The vault envelope: `$ANSIBLE_VAULT;1.1;AES256` (or `1.2;AES256;label`)
//! on the first line, then the hexlified payload in lines of 80 columns.
//! The payload, once unhexlified, is three lines: the hex salt, the hex
//! HMAC and the hex ciphertext (Ansible hexlifies twice; so do we).

use super::VaultError;

pub const HEADER: &str = "$ANSIBLE_VAULT";
const CIPHER: &str = "AES256";
const LINE_WIDTH: usize = 80;

/// A parsed envelope: who it is for, and the three binary parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The label of a 1.2 envelope (`None` for 1.1).
    pub vault_id: Option<String>,
    pub salt: Vec<u8>,
    pub hmac: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

/// Whether the text is vault data (its header is the first thing in it).
pub fn is_encrypted(data: &[u8]) -> bool {
    data.starts_with(HEADER.as_bytes())
}

/// Parses an envelope; surrounding whitespace and CRLF line ends are fine.
pub fn parse(text: &str) -> Result<Envelope, VaultError> {
    let text = text.trim();
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default().trim();
    let fields: Vec<&str> = header.split(';').map(str::trim).collect();
    if fields.first() != Some(&HEADER) || fields.len() < 3 {
        return Err(VaultError::Format(
            "the first line is not a vault header".into(),
        ));
    }
    if !matches!(fields[1], "1.1" | "1.2") {
        return Err(VaultError::Format(format!(
            "vault format version '{}' is not supported (1.1 and 1.2 are)",
            fields[1]
        )));
    }
    if fields[2] != CIPHER {
        return Err(VaultError::Format(format!(
            "cipher '{}' is not supported (AES256 is)",
            fields[2]
        )));
    }
    let vault_id = fields
        .get(3)
        .filter(|id| !id.is_empty())
        .map(|id| id.to_string());
    let body: String = lines.map(str::trim).collect();
    let inner = unhex(&body, "payload")?;
    let inner = String::from_utf8(inner)
        .map_err(|_| VaultError::Format("the payload is not hex text".into()))?;
    let mut parts = inner.splitn(3, '\n');
    let (Some(salt), Some(hmac), Some(ciphertext)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(VaultError::Format(
            "the payload does not hold a salt, an HMAC and a ciphertext".into(),
        ));
    };
    Ok(Envelope {
        vault_id,
        salt: unhex(salt, "salt")?,
        hmac: unhex(hmac, "HMAC")?,
        ciphertext: unhex(ciphertext, "ciphertext")?,
    })
}

/// Formats an envelope as ansible-vault writes it: 1.2 with a label other
/// than `default`, 1.1 otherwise; 80 columns; a final newline.
pub fn format(envelope: &Envelope) -> String {
    let header = match envelope.vault_id.as_deref() {
        Some(id) if id != super::DEFAULT_ID => format!("{HEADER};1.2;{CIPHER};{id}"),
        _ => format!("{HEADER};1.1;{CIPHER}"),
    };
    let inner = format!(
        "{}\n{}\n{}",
        hex::encode(&envelope.salt),
        hex::encode(&envelope.hmac),
        hex::encode(&envelope.ciphertext)
    );
    let body = hex::encode(inner);
    let mut out = header;
    for chunk in body.as_bytes().chunks(LINE_WIDTH) {
        out.push('\n');
        out.push_str(std::str::from_utf8(chunk).expect("hex is ASCII"));
    }
    out.push('\n');
    out
}

fn unhex(text: &str, what: &str) -> Result<Vec<u8>, VaultError> {
    hex::decode(text.trim()).map_err(|_| VaultError::Format(format!("the {what} is not valid hex")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(vault_id: Option<&str>) -> Envelope {
        Envelope {
            vault_id: vault_id.map(String::from),
            salt: vec![1; 32],
            hmac: vec![2; 32],
            ciphertext: vec![3; 48],
        }
    }

    #[test]
    fn format_and_parse_round_trip() {
        for id in [None, Some("prod")] {
            let text = format(&sample(id));
            assert!(text.lines().skip(1).all(|l| l.len() <= 80), "{text}");
            assert!(text.ends_with('\n'));
            assert_eq!(parse(&text).unwrap(), sample(id));
        }
        assert!(format(&sample(Some("prod"))).starts_with("$ANSIBLE_VAULT;1.2;AES256;prod\n"));
        // The default label is not written: the envelope stays 1.1.
        let default = format(&sample(Some("default")));
        assert!(default.starts_with("$ANSIBLE_VAULT;1.1;AES256\n"));
    }

    #[test]
    fn indented_and_crlf_envelopes_parse() {
        let text = format(&sample(Some("dev")));
        let indented: String = text.lines().map(|l| format!("   {l}\r\n")).collect();
        assert_eq!(parse(&indented).unwrap(), sample(Some("dev")));
    }

    #[test]
    fn corrupt_envelopes_are_format_errors() {
        let good = format(&sample(None));
        let cases = [
            "not a vault".to_string(),
            "$ANSIBLE_VAULT;1.1".to_string(),
            good.replace("1.1;AES256", "1.0;AES256"),
            good.replace("AES256", "AES"),
            format!("{good}zz\n"),
            "$ANSIBLE_VAULT;1.1;AES256\n6162\n".to_string(),
        ];
        for case in cases {
            assert!(
                matches!(parse(&case), Err(VaultError::Format(_))),
                "{case:?} should not parse"
            );
        }
    }
}
