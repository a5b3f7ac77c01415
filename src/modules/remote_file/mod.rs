//! Files on the host, with nothing but a POSIX shell and coreutils there.
//!
//! Building blocks shared by `copy`, `template`, `lineinfile`, `file`,
//! `stat` and `get_url`, each one `exec` (one round trip):
//! - `probe.rs`, [`probe`]: what a path is (type, mode, owner, size, sha1,
//!   link target, optionally its content), as `key=value` lines a small
//!   script prints;
//! - `upload.rs`, [`upload`]: bytes to a path, atomically (a temp file
//!   beside the destination, then `mv -f`), with mode/owner/group, optional
//!   backup and validation; it prints the new file's stat so no second probe
//!   is needed;
//! - `attributes.rs`: mode/owner/group wanted and set in place;
//! - `diff.rs`: Ansible's `diff` entry for a content change;
//! - `edit.rs`, [`write_edit`]: a file edited in Rust written back (diff,
//!   check mode, backup, validation, attributes);
//! - `test_support.rs`: a module context over `/bin/sh` for module tests.
//!
//! Every host path reaches the shell through [`shell_quote`] and is then only
//! ever used as `"$p"`, so no name can become code.
//!
//! [`shell_quote`]: crate::core::shell_quote

mod attributes;
mod diff;
mod edit;
mod probe;
#[cfg(test)]
pub(crate) mod test_support;
mod upload;

pub use attributes::{Attributes, attribute_commands, set_attributes, wanted_attributes};
pub use diff::{DIFF_MAX_BYTES, content_diff};
pub use edit::{Edited, with_attributes_diff, write_edit};
pub use probe::{
    FileKind, Probe, ProbeRequest, SHA1_FN, add_file_fields, add_path_info, md5_hex, parse_probe,
    printed_digest, probe, probe_followed, probe_whole_file, sha1_hex, stat_snippet,
};
pub use upload::{Upload, Uploaded, backup_path, temp_name, upload};

use super::{ModuleContext, TaskResult};
use crate::connection::ExecOutput;

/// Runs a command line, turning transport errors into results.
pub async fn exec(
    ctx: &ModuleContext<'_>,
    cmd: &str,
    stdin: Option<&[u8]>,
) -> Result<ExecOutput, TaskResult> {
    let out = (ctx.conn.exec(cmd, stdin).await).map_err(TaskResult::from_connection)?;
    // A file edited from a cut copy would lose its end: refuse instead.
    if out.stdout_truncated {
        return Err(TaskResult::failed(format!(
            "the file is larger than the {} MiB rollout reads from a host",
            crate::connection::output::OUTPUT_CAP >> 20
        )));
    }
    Ok(out)
}

/// Like [`exec`], but a non-zero exit fails with the command's stderr.
pub async fn exec_ok(
    ctx: &ModuleContext<'_>,
    cmd: &str,
    stdin: Option<&[u8]>,
    what: &str,
) -> Result<ExecOutput, TaskResult> {
    succeeded(exec(ctx, cmd, stdin).await?, what)
}

/// The output of a command that exited 0, else a failure with its stderr.
pub fn succeeded(out: ExecOutput, what: &str) -> Result<ExecOutput, TaskResult> {
    if out.rc != 0 {
        let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
        let detail = if err.is_empty() {
            format!("exit code {}", out.rc)
        } else {
            err
        };
        return Err(TaskResult::failed(format!("{what} failed: {detail}")).with("rc", out.rc));
    }
    Ok(out)
}
