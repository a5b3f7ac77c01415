//! `file`: the contents of controller files (under `files/` first),
//! trailing whitespace stripped unless `rstrip=false`; `lstrip=true` strips
//! the leading whitespace too.

use super::{Call, Outcome};
use minijinja::Value;

pub fn run(call: &Call<'_>) -> Outcome {
    let lstrip = call.option::<bool>("lstrip")?.unwrap_or(false);
    let rstrip = call.option::<bool>("rstrip")?.unwrap_or(true);
    let mut values = Vec::new();
    for term in call.text_terms()? {
        let path = call.find_file(Some("files"), &term).ok_or_else(|| {
            format!("Unable to access the file '{term}': File not found (looked in files/ and the playbook's directory).")
        })?;
        let contents = read(&path)?;
        let contents = if lstrip {
            contents.trim_start()
        } else {
            &contents
        };
        let contents = if rstrip {
            contents.trim_end()
        } else {
            contents
        };
        values.push(Value::from(contents));
    }
    Ok(values)
}

/// A controller file's text, decrypted when it is vault data (as
/// Ansible's file and template lookups read them).
pub fn read(path: &std::path::Path) -> Result<String, String> {
    crate::vault::read_to_string(path).map_err(|e| e.to_string())
}
