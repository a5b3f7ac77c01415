//! `pipe` and `lines`: the output of a controller command run by `/bin/sh`
//! in the playbook's directory; `pipe` gives it with trailing whitespace
//! stripped, `lines` one value per line.

use super::{Call, Outcome};
use minijinja::Value;
use std::process::{Command, Stdio};

pub fn run(call: &Call<'_>) -> Outcome {
    let terms = call.text_terms()?;
    let outputs = terms.iter().map(|term| output(call, "pipe", term));
    outputs
        .map(|out| out.map(|text| Value::from(text.trim_end())))
        .collect()
}

pub fn lines(call: &Call<'_>) -> Outcome {
    let mut values = Vec::new();
    for term in call.text_terms()? {
        values.extend(output(call, "lines", &term)?.lines().map(Value::from));
    }
    Ok(values)
}

/// A command's standard output (its errors go to ours, as in Ansible).
fn output(call: &Call<'_>, plugin: &str, command: &str) -> Result<String, String> {
    let out = Command::new("/bin/sh")
        .arg("-c")
        .arg(command)
        .current_dir(call.base_dir())
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run /bin/sh: {e}"))?;
    if !out.status.success() {
        let code = out.status.code().unwrap_or(-1);
        return Err(format!("lookup_plugin.{plugin}({command}) returned {code}"));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
