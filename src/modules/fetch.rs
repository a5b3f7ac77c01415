//! `fetch`: a file of the host copied to the controller, into
//! `dest/<inventory_hostname>/<src path>` (or `dest` itself with `flat`),
//! only when the controller's copy differs (sha1, as Ansible).

use super::registry::Module;
use super::remote_file::{md5_hex, sha1_hex};
use super::slurp::read_file;
use super::spec::{Kind, ModuleSpec, p, required};
use super::{ModuleContext, TaskResult, Vars, arg_bool, arg_str};
use std::path::{Component, Path, PathBuf};

/// `fetch`: what it accepts and how it runs. Ansible skips it in check mode.
pub const MODULE: Module = Module::new(
    ModuleSpec::new(
        "fetch",
        &[
            required(p("src", Kind::Str)),
            required(p("dest", Kind::Str)),
            p("flat", Kind::Bool),
            p("fail_on_missing", Kind::Bool),
            p("validate_checksum", Kind::Bool),
        ],
    ),
    |args, ctx| Box::pin(run(args, ctx)),
)
.without_check_mode();

pub async fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    match try_run(args, ctx).await {
        Ok(r) | Err(r) => r,
    }
}

async fn try_run(args: &Vars, ctx: &ModuleContext<'_>) -> Result<TaskResult, TaskResult> {
    let (Some(src), Some(dest)) = (arg_str(args, "src"), arg_str(args, "dest")) else {
        return Err(TaskResult::failed("src and dest are required"));
    };
    let fail_on_missing = arg_bool(args, "fail_on_missing", true);
    let (_, data) = match read_file(ctx, src).await {
        Ok(read) => read,
        Err(failure) => return Err(missing(failure, src, fail_on_missing)),
    };
    let local = local_path(ctx, src, dest, arg_bool(args, "flat", false))?;
    let shown = local.display().to_string();
    let remote_checksum = sha1_hex(&data);
    let existing = std::fs::read(&local).ok();
    if let Some(old) = existing.filter(|old| sha1_hex(old) == remote_checksum) {
        return Ok(TaskResult::ok()
            .with("md5sum", md5_hex(&old))
            .with("file", src)
            .with("dest", shown)
            .with("checksum", remote_checksum));
    }
    write_local(&local, &data)
        .map_err(|e| TaskResult::failed(format!("Failed to fetch the file: {e}")))?;
    let written = std::fs::read(&local).unwrap_or_default();
    let new_checksum = sha1_hex(&written);
    let result = TaskResult::ok()
        .with("md5sum", md5_hex(&written))
        .with("dest", shown)
        .with("remote_md5sum", serde_json::Value::Null)
        .with("checksum", new_checksum.clone())
        .with("remote_checksum", remote_checksum.clone());
    if arg_bool(args, "validate_checksum", true) && new_checksum != remote_checksum {
        let mut failed = result.with("file", src).with_msg("checksum mismatch");
        failed.failed = true;
        return Err(failed);
    }
    Ok(TaskResult {
        changed: true,
        ..result
    })
}

/// Ansible's outcome for a source that cannot be read: a failure, or with
/// `fail_on_missing: false` an ok result saying it was ignored.
fn missing(failure: TaskResult, src: &str, fail_on_missing: bool) -> TaskResult {
    let why = failure.msg.clone().unwrap_or_default();
    let msg = if why.starts_with("File not found") {
        "the remote file does not exist, not transferring, ignored".to_string()
    } else if why.starts_with("Source is a directory") {
        "remote file is a directory, fetch cannot work on directories".to_string()
    } else {
        why
    };
    let result = TaskResult::ok().with("file", src).with_msg(msg);
    if fail_on_missing {
        TaskResult {
            failed: true,
            ..result
        }
    } else {
        result
    }
}

/// Where the file goes on the controller: `dest/<host>/<src>` or, with
/// `flat`, `dest` (a directory when it ends in `/`); a relative `dest` is
/// under the playbook's directory. It must stay inside `dest`.
fn local_path(
    ctx: &ModuleContext<'_>,
    src: &str,
    dest: &str,
    flat: bool,
) -> Result<PathBuf, TaskResult> {
    let fail = |msg: String| Err(TaskResult::failed(msg));
    let base = ctx.base_dir.join(dest);
    let joined = if flat {
        if !dest.ends_with('/') {
            if base.is_dir() {
                return fail("dest is an existing directory, use a trailing slash if you want to fetch src into that directory".into());
            }
            base.clone()
        } else {
            let name = Path::new(src).file_name().unwrap_or_default();
            let path = base.join(name);
            if path.is_dir() {
                return fail(format!(
                    "calculated dest '{}' is an existing directory, use another path that does not point to an existing directory",
                    path.display()
                ));
            }
            path
        }
    } else {
        PathBuf::from(format!("{}/{}/{src}", base.display(), ctx.host))
    };
    let path = normalize(&joined);
    let root = normalize(&base);
    if !path.starts_with(&root) {
        return fail(format!(
            "Detected directory traversal, expected to be contained in '{dest}' but got '{}'",
            path.display()
        ));
    }
    Ok(path)
}

/// Python's `os.path.normpath`: `.`, `..` and repeated slashes resolved
/// without looking at the disk.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn write_local(path: &Path, data: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, data)
}

#[cfg(test)]
mod tests {
    use super::super::remote_file::test_support::*;
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn fetches_under_host_and_path_then_is_unchanged() {
        let h = Harness::new(json!({}));
        let src = h.path("remote/app.conf");
        std::fs::create_dir_all(h.path("remote")).unwrap();
        std::fs::write(&src, "x=1\n").unwrap();
        let a = args(json!({"src": src, "dest": "got"}));
        let r = run(&a, &h.ctx(false, false)).await;
        assert!(r.changed && !r.failed, "{r:?}");
        let local = format!("{}/got/localhost{src}", h.base().display());
        assert_eq!(r.data["dest"], json!(local));
        assert_eq!(std::fs::read_to_string(&local).unwrap(), "x=1\n");
        assert_eq!(r.data["md5sum"], json!(md5_hex(b"x=1\n")));
        let r = run(&a, &h.ctx(false, false)).await;
        assert!(!r.changed && !r.failed, "{r:?}");
        let a = args(json!({"src": src, "dest": "flat/", "flat": true}));
        let r = run(&a, &h.ctx(false, false)).await;
        assert_eq!(
            r.data["dest"],
            json!(format!("{}/flat/app.conf", h.base().display()))
        );
    }

    #[tokio::test]
    async fn missing_source_fails_or_is_ignored_and_traversal_is_refused() {
        let h = Harness::new(json!({}));
        let a = args(json!({"src": h.path("none"), "dest": "got"}));
        let r = run(&a, &h.ctx(false, false)).await;
        assert!(r.failed, "{r:?}");
        assert_eq!(
            r.msg.as_deref(),
            Some("the remote file does not exist, not transferring, ignored")
        );
        let a = args(json!({"src": h.path("none"), "dest": "got", "fail_on_missing": false}));
        let r = run(&a, &h.ctx(false, false)).await;
        assert!(!r.failed && !r.changed, "{r:?}");
        let ctx = h.ctx(false, false);
        let r = local_path(&ctx, "../../../etc/passwd", "got", false).unwrap_err();
        assert!(r.msg.unwrap().starts_with("Detected directory traversal"));
    }
}
