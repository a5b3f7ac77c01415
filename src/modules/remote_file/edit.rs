//! Writing back a file a module edited in Rust (`lineinfile`, `replace`,
//! `blockinfile`): the diff, check mode, the atomic write with backup and
//! validation, or only the attributes when the content is already right.

use super::{Probe, Upload, content_diff, set_attributes, upload, wanted_attributes};
use crate::modules::{ModuleContext, TaskResult, Vars, arg_bool, arg_str};

/// Ansible's message when only mode/owner/group change (appended with
/// " and " to a content change's message).
/// The mode a new file gets under the usual umask (022).
const NEW_FILE_MODE: u32 = 0o644;

const ATTRS_CHANGED: &str = "ownership, perms or SE linux context changed";

/// The edited content of the file `probe` describes.
pub struct Edited<'a> {
    pub probe: &'a Probe,
    pub after: &'a [u8],
    /// `diff`'s headers (`path (content)` for lineinfile, `path` for replace).
    pub diff_header: String,
    /// Create missing parent directories (blockinfile's `create`).
    pub make_parents: bool,
}

/// Writes the edit (or only fixes attributes) and completes `result`, whose
/// `msg` says what the edit did. The `backup`, `validate`, `mode`, `owner`
/// and `group` arguments apply.
pub async fn write_edit(
    args: &Vars,
    ctx: &ModuleContext<'_>,
    mut result: TaskResult,
    edit: Edited<'_>,
) -> Result<TaskResult, TaskResult> {
    let probe = edit.probe;
    let content_changed = !probe.exists() || probe.content.as_deref() != Some(edit.after);
    let attrs = wanted_attributes(args, probe, false)?;
    let attrs_changed = if probe.exists() {
        attrs.differ(probe)
    } else {
        // As Ansible: a new file is compared with the file the write made
        // (the usual 0644), so only a different mode is reported.
        attrs.mode.is_some_and(|m| m != NEW_FILE_MODE)
    };
    if !content_changed && !attrs_changed {
        return Ok(result);
    }
    result.changed = true;
    if attrs_changed {
        result.msg = Some(match result.msg.as_deref() {
            Some(m) if content_changed && !m.is_empty() => format!("{m} and {ATTRS_CHANGED}"),
            _ => ATTRS_CHANGED.into(),
        });
    }
    if ctx.diff && content_changed {
        let diff = content_diff(
            probe.content.as_deref(),
            false,
            edit.after,
            &edit.diff_header,
            &edit.diff_header,
        );
        result = result.with("diff", diff);
    }
    if ctx.check_mode {
        return Ok(result);
    }
    if !content_changed {
        set_attributes(ctx, &probe.path, &attrs, false).await?;
        return Ok(result);
    }
    let done = upload(
        ctx,
        &Upload {
            dest: &probe.path,
            content: edit.after,
            mode: attrs.mode.or(probe.exists().then_some(probe.mode)),
            owner: attrs.owner,
            group: attrs.group,
            keep_ids: probe.exists().then_some((probe.uid, probe.gid)),
            backup: arg_bool(args, "backup", false) && probe.exists(),
            validate: arg_str(args, "validate"),
            make_parents: edit.make_parents,
            // As Ansible: the edit always goes to a symlink's target.
            follow: true,
            staged: None,
        },
    )
    .await
    .map_err(validation_message)?;
    // blockinfile's and replace's name for it (lineinfile renames it).
    if let Some(backup) = done.backup_file {
        result = result.with("backup_file", backup);
    }
    Ok(result)
}

/// lineinfile, blockinfile and replace word a refused `validate` as
/// `failed to validate: rc:N error:STDERR`, with no other field.
fn validation_message(failure: TaskResult) -> TaskResult {
    match (failure.msg.as_deref(), failure.data.get("exit_status")) {
        (Some("failed to validate"), Some(rc)) => TaskResult::failed(format!(
            "failed to validate: rc:{rc} error:{}",
            failure.data["stderr"].as_str().unwrap_or_default()
        )),
        _ => failure,
    }
}

/// lineinfile's and blockinfile's `diff`: the content's, then the
/// attributes' (headers only), as a list.
pub fn with_attributes_diff(mut result: TaskResult, path: &str) -> TaskResult {
    if let Some(content) = result.data.remove("diff") {
        let header = format!("{path} (file attributes)");
        let attrs = serde_json::json!({"before_header": header, "after_header": header});
        result = result.with("diff", serde_json::json!([content, attrs]));
    }
    result
}
