//! The values vault decrypted, masked in every output.
//!
//! Ansible prints decrypted values like any other; rollout does not (a
//! documented divergence): every value that came out of a vault is put
//! here, and the output sinks, the journal, webhooks and error messages
//! replace each occurrence with a mask. Values shorter than
//! [`MIN_LEN`] characters are not masked: masking `80` or `yes`
//! everywhere would garble the output without hiding anything.

use serde_json::Value as Json;
use std::sync::RwLock;

pub const MASK: &str = "********";
pub const MIN_LEN: usize = 4;

/// Known secrets, longest first (so a secret that contains another is
/// masked whole).
static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Remembers a decrypted value (and each of its lines, for multi-line
/// values shown line by line, as in diffs).
pub fn register(value: &str) {
    let candidates = std::iter::once(value.trim()).chain(value.lines().map(str::trim));
    let mut secrets = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    for candidate in candidates {
        if candidate.chars().count() >= MIN_LEN && !secrets.iter().any(|s| s == candidate) {
            secrets.push(candidate.to_string());
        }
    }
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// Remembers a decrypted file: every value of a vars document (a YAML or
/// JSON mapping or list), or every line of any other text (a template, a
/// config file).
pub fn register_document(text: &str) {
    use yaml_rust2::Yaml;
    let docs = yaml_rust2::YamlLoader::load_from_str(text).unwrap_or_default();
    if !docs
        .iter()
        .any(|d| matches!(d, Yaml::Hash(_) | Yaml::Array(_)))
    {
        register(text);
        return;
    }
    fn walk(node: &yaml_rust2::Yaml) {
        use yaml_rust2::Yaml;
        match node {
            Yaml::String(s) | Yaml::Real(s) => register(s),
            Yaml::Integer(i) => register(&i.to_string()),
            Yaml::Array(items) => items.iter().for_each(walk),
            Yaml::Hash(map) => map.values().for_each(walk),
            _ => {}
        }
    }
    docs.iter().for_each(walk);
}

/// Whether any secret is known (so outputs can skip the work otherwise).
pub fn active() -> bool {
    !SECRETS.read().unwrap_or_else(|e| e.into_inner()).is_empty()
}

/// The text with every known secret masked.
pub fn text(value: &str) -> String {
    let secrets = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    let mut out = value.to_string();
    for secret in secrets.iter() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), MASK);
        }
    }
    out
}

/// Masks every string in a JSON value, in place.
pub fn json(value: &mut Json) {
    match value {
        Json::String(s) => {
            let masked = text(s);
            if masked != *s {
                *s = masked;
            }
        }
        Json::Array(items) => items.iter_mut().for_each(json),
        Json::Object(map) => map.values_mut().for_each(json),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_values_are_masked_in_text_and_json() {
        register("s3cr3t-redact-test");
        register("ab");
        register_document("user: dbadmin-redact-test\nport: 54321\nlist: [one-redact-test]\n");
        assert_eq!(text("pw=s3cr3t-redact-test!"), "pw=********!");
        assert_eq!(text("ab stays"), "ab stays", "short values are not masked");
        let mut value = serde_json::json!({"msg": ["dbadmin-redact-test", 54321, "port 54321"], "k": "one-redact-test"});
        json(&mut value);
        assert_eq!(
            value,
            serde_json::json!({"msg": ["********", 54321, "port ********"], "k": "********"})
        );
        register_document("name={{ host }}\nkey=a-template-redact-test\n");
        assert_eq!(text("+key=a-template-redact-test"), "+********");
        assert!(active());
    }
}
