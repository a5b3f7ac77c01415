//! Ansible's `diff` entry for a content change.

use serde_json::{Map, Value as Json};

/// Ansible's limit for showing a file in a diff.
pub const DIFF_MAX_BYTES: usize = 104_448;

/// Ansible's `diff` entry for a content change, when both sides are text;
/// binary or oversized sides are flagged instead of shown.
pub fn content_diff(
    before: Option<&[u8]>,
    before_truncated: bool,
    after: &[u8],
    before_header: &str,
    after_header: &str,
) -> Json {
    let mut diff = Map::new();
    diff.insert("before_header".into(), before_header.into());
    diff.insert("after_header".into(), after_header.into());
    match text_side(before.unwrap_or_default(), before_truncated) {
        Ok(text) => diff.insert("before".into(), text.into()),
        Err(flag) => diff.insert(flag.replace("{}", "dst"), Json::Bool(true)),
    };
    match text_side(after, false) {
        Ok(text) => diff.insert("after".into(), text.into()),
        Err(flag) => diff.insert(flag.replace("{}", "src"), Json::Bool(true)),
    };
    Json::Object(diff)
}

fn text_side(bytes: &[u8], truncated: bool) -> Result<String, &'static str> {
    if truncated || bytes.len() > DIFF_MAX_BYTES {
        return Err("{}_larger");
    }
    if bytes.contains(&0) {
        return Err("{}_binary");
    }
    String::from_utf8(bytes.to_vec()).map_err(|_| "{}_binary")
}
