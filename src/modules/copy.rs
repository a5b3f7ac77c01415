//! `copy`: put a controller file (`src`) or inline `content` at `dest`.
//!
//! One probe (type, mode, owner, sha1 — and the old content with `--diff`),
//! then, only when something differs, one upload (atomic rename) or one
//! in-place attribute change. [`deliver`] is shared with `template`.

use super::registry::Module;
use super::remote_file::{self, Attributes, FileKind, Probe, ProbeRequest, Upload};
use super::spec::{ATTRS, Kind, ModuleSpec, p, required};
use super::{ModuleContext, TaskResult, Vars, arg_bool, arg_str};
use std::path::{Path, PathBuf};

/// `copy`: what it accepts and how it runs.
pub const MODULE: Module = Module::new(
    ModuleSpec::new(
        "copy",
        &[
            required(p("dest", Kind::Str)),
            p("src", Kind::Str),
            p("content", Kind::Any),
            ATTRS[0],
            ATTRS[1],
            ATTRS[2],
            p("backup", Kind::Bool),
            p("force", Kind::Bool),
            p("validate", Kind::Str),
            p("follow", Kind::Bool),
            p("decrypt", Kind::Bool),
        ],
    ),
    |args, ctx| Box::pin(run(args, ctx)),
);

pub async fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    let payload = match payload(args, ctx) {
        Ok(p) => p,
        Err(r) => return r,
    };
    deliver(args, ctx, &payload).await
}

/// What to write, and where it came from.
pub struct Payload {
    /// The content; for a [`Staged`] one, only its first bytes (for
    /// `--diff`, up to one past [`remote_file::DIFF_MAX_BYTES`]).
    pub bytes: Vec<u8>,
    /// The content is already in a temp file on the host (`get_url`).
    pub staged: Option<Staged>,
    /// The controller file, for `src` in results and the diff header.
    pub origin: Option<PathBuf>,
    /// The name to use when `dest` is a directory.
    pub file_name: Option<String>,
    /// The controller file's mode, for `mode: preserve`.
    pub local_mode: Option<u32>,
}

/// Content streamed to a temp file beside the destination on the host.
pub struct Staged {
    /// The temp file (`None`: nothing was written, as under `--check`).
    pub tmp: Option<String>,
    pub sha1: String,
    /// Set once the temp file was handed to the upload, which renames it
    /// into place or removes it; otherwise the caller removes it.
    pub used: std::sync::atomic::AtomicBool,
}

fn payload(args: &Vars, ctx: &ModuleContext<'_>) -> Result<Payload, TaskResult> {
    match (arg_str(args, "src"), args.get("content")) {
        (Some(_), Some(_)) => Err(TaskResult::failed(
            "parameters are mutually exclusive: content|src",
        )),
        // Ansible's copy action writes a list or dict as JSON, a scalar as str().
        (None, Some(content)) => Ok(Payload {
            bytes: crate::core::python_text(content).into_bytes(),
            staged: None,
            origin: None,
            file_name: None,
            local_mode: None,
        }),
        (Some(src), None) => {
            let path = find_for_task(ctx, "files", src)?;
            // A vaulted source is decrypted on the controller unless `decrypt: false`.
            read_local(&path, arg_bool(args, "decrypt", true))
        }
        (None, None) => Err(TaskResult::failed(
            "one of the following is required: src, content",
        )),
    }
}

/// A relative `src` of a role's task is looked up in its role first
/// (`<role>/<subdir>/`, then `<role>/`), then as [`find_local`] does.
pub fn find_for_task(
    ctx: &super::ModuleContext<'_>,
    subdir: &str,
    src: &str,
) -> Result<PathBuf, TaskResult> {
    let in_role = (ctx.role_dir.filter(|_| Path::new(src).is_relative()))
        .map(|role| [role.join(subdir).join(src), role.join(src)]);
    if let Some(found) = in_role.iter().flatten().find(|c| c.exists()) {
        return Ok(found.clone());
    }
    find_local(ctx.base_dir, subdir, src).map_err(|mut failure| {
        if let (Some(role), Some(msg)) = (ctx.role_dir, failure.msg.as_mut()) {
            *msg = msg.replacen(
                "(looked in: ",
                &format!(
                    "(looked in: {}/{subdir}/, {}/, ",
                    role.display(),
                    role.display()
                ),
                1,
            );
        }
        failure
    })
}

/// A relative `src` is looked up under `<base>/<subdir>/` then `<base>/`.
pub fn find_local(base: &Path, subdir: &str, src: &str) -> Result<PathBuf, TaskResult> {
    let given = Path::new(src);
    let candidates: Vec<PathBuf> = if given.is_absolute() {
        vec![given.to_path_buf()]
    } else {
        // Beside the playbook, then the project's top-level `templates/`
        // or `files/` (playbooks live in `playbooks/` next to them).
        let mut c = vec![base.join(subdir).join(given), base.join(given)];
        if let Some(parent) = base.parent() {
            c.push(parent.join(subdir).join(given));
        }
        c
    };
    candidates
        .iter()
        .find(|c| c.exists())
        .cloned()
        .ok_or_else(|| {
            let looked = candidates
                .iter()
                .map(|c| c.display().to_string())
                .collect::<Vec<_>>()
                .join(", ");
            // Ansible's first words, which playbooks test with `search`.
            TaskResult::failed(format!(
                "Could not find or access '{src}' on the controller (looked in: {looked})"
            ))
        })
}

fn read_local(path: &Path, decrypt: bool) -> Result<Payload, TaskResult> {
    let meta = std::fs::metadata(path)
        .map_err(|e| TaskResult::failed(format!("cannot read {}: {e}", path.display())))?;
    if meta.is_dir() {
        return Err(TaskResult::failed(format!(
            "src '{}' is a directory: copying directories is not supported yet",
            path.display()
        )));
    }
    let bytes = if decrypt {
        crate::vault::read_file(path).map_err(|e| TaskResult::failed(e.to_string()))?
    } else {
        std::fs::read(path)
            .map_err(|e| TaskResult::failed(format!("cannot read {}: {e}", path.display())))?
    };
    use std::os::unix::fs::PermissionsExt;
    Ok(Payload {
        bytes,
        staged: None,
        origin: Some(path.to_path_buf()),
        file_name: path.file_name().map(|n| n.to_string_lossy().into_owned()),
        local_mode: Some(meta.permissions().mode() & 0o7777),
    })
}

/// Makes `dest` hold `payload` with the requested mode/owner/group:
/// `dest`, `mode`, `owner`, `group`, `backup`, `force`, `validate`.
pub async fn deliver(args: &Vars, ctx: &ModuleContext<'_>, payload: &Payload) -> TaskResult {
    match try_deliver(args, ctx, payload).await {
        Ok(r) | Err(r) => r,
    }
}

async fn try_deliver(
    args: &Vars,
    ctx: &ModuleContext<'_>,
    payload: &Payload,
) -> Result<TaskResult, TaskResult> {
    let dest_arg = arg_str(args, "dest").ok_or_else(|| TaskResult::failed("dest is required"))?;
    let (dest, into_dir) = target(dest_arg, payload)?;
    // `dest/` makes its directories; a plain path needs its directory.
    let parent = (!dest_arg.ends_with('/'))
        .then(|| std::path::Path::new(&dest).parent())
        .flatten()
        .map(|p| p.display().to_string())
        .filter(|p| !p.is_empty());
    let probe = remote_file::probe(
        ctx,
        &ProbeRequest {
            path: &dest,
            // Compare with a symlink's target, as Ansible does; a change
            // replaces the link.
            follow: true,
            checksum: true,
            content_limit: ctx.diff.then_some(remote_file::DIFF_MAX_BYTES),
            into_dir,
            other: parent.as_deref(),
        },
    )
    .await?;
    if let Some(parent) = parent.filter(|_| !probe.exists() && !probe.other_exists) {
        let checksum = payload
            .staged
            .as_ref()
            .map_or_else(|| remote_file::sha1_hex(&payload.bytes), |s| s.sha1.clone());
        return Err(
            TaskResult::failed(format!("Destination directory {parent} does not exist"))
                .with("checksum", checksum),
        );
    }
    if probe.kind == FileKind::Directory {
        return Err(TaskResult::failed(format!(
            "destination {} is a directory",
            probe.path
        )));
    }
    let checksum = match &payload.staged {
        Some(staged) => staged.sha1.clone(),
        None => remote_file::sha1_hex(&payload.bytes),
    };
    let base = TaskResult::ok()
        .with("dest", probe.path.clone())
        .with("checksum", checksum.clone());
    if probe.exists() && !arg_bool(args, "force", true) {
        // As Ansible: no message, no change.
        return Ok(remote_file::add_file_fields(base, &probe));
    }
    let attrs = attributes(args, &probe, payload)?;
    let content_changed = probe.checksum.as_deref() != Some(checksum.as_str());
    if !content_changed && !attrs.differ(&probe) {
        return Ok(remote_file::add_file_fields(base, &probe));
    }
    let mut result = base;
    result.changed = true;
    if let Some(origin) = &payload.origin {
        result = result.with("src", origin.display().to_string());
    }
    // A list, as Ansible's copy action gives it (one entry per file).
    if ctx.diff && content_changed {
        result = result.with("diff", serde_json::json!([diff(&probe, payload)]));
    }
    if ctx.check_mode {
        return Ok(result.with("state", "file"));
    }
    let after = if content_changed {
        let done = write(args, ctx, &probe, payload, attrs).await?;
        if let Some(backup) = done.backup_file {
            result = result.with("backup_file", backup);
        }
        // As Ansible's copy module, which runs only when the content differs.
        if payload.staged.is_none() {
            result = result.with("md5sum", remote_file::md5_hex(&payload.bytes));
        }
        done.probe
    } else {
        remote_file::set_attributes(ctx, &probe.path, &attrs, false).await?
    };
    Ok(remote_file::add_file_fields(result, &after))
}

/// The path to write, and the file name to append when it turns out to be
/// a directory. `dest/` always means "into this directory".
fn target<'a>(dest: &str, payload: &'a Payload) -> Result<(String, Option<&'a str>), TaskResult> {
    let name = payload.file_name.as_deref();
    if dest.ends_with('/') {
        let name =
            name.ok_or_else(|| TaskResult::failed("can not use content with a dir as dest"))?;
        return Ok((format!("{dest}{name}"), None));
    }
    Ok((dest.to_string(), name))
}

/// The wanted attributes; `mode: preserve` takes the controller file's.
fn attributes<'a>(
    args: &'a Vars,
    probe: &Probe,
    payload: &Payload,
) -> Result<Attributes<'a>, TaskResult> {
    if arg_str(args, "mode") == Some("preserve") {
        return Ok(Attributes {
            mode: payload.local_mode,
            owner: arg_str(args, "owner"),
            group: arg_str(args, "group"),
        });
    }
    remote_file::wanted_attributes(args, probe, false)
}

async fn write(
    args: &Vars,
    ctx: &ModuleContext<'_>,
    probe: &Probe,
    payload: &Payload,
    attrs: Attributes<'_>,
) -> Result<remote_file::Uploaded, TaskResult> {
    // An existing file keeps its mode and ownership unless told otherwise.
    let mode = attrs.mode.or(probe.exists().then_some(probe.mode));
    let staged = payload.staged.as_ref().and_then(|s| {
        s.used.store(true, std::sync::atomic::Ordering::Relaxed);
        s.tmp.as_deref()
    });
    remote_file::upload(
        ctx,
        &Upload {
            dest: &probe.path,
            content: &payload.bytes,
            mode,
            owner: attrs.owner,
            group: attrs.group,
            keep_ids: probe.exists().then_some((probe.uid, probe.gid)),
            backup: arg_bool(args, "backup", false) && probe.exists(),
            validate: arg_str(args, "validate"),
            make_parents: arg_str(args, "dest").is_some_and(|d| d.ends_with('/')),
            follow: arg_bool(args, "follow", false),
            staged,
        },
    )
    .await
}

/// As Ansible's copy action words it: the `before_header` is the
/// destination when it exists (else none), the `after_header` the source
/// file, or the destination for `content`.
fn diff(probe: &Probe, payload: &Payload) -> serde_json::Value {
    let after_header = payload
        .origin
        .as_ref()
        .map_or(probe.path.clone(), |p| p.display().to_string());
    let mut diff = remote_file::content_diff(
        probe.content.as_deref(),
        probe.content_truncated,
        &payload.bytes,
        &probe.path,
        &after_header,
    );
    if let (false, Some(map)) = (probe.exists(), diff.as_object_mut()) {
        map.remove("before_header");
    }
    diff
}

#[cfg(test)]
mod tests {
    use super::super::remote_file::test_support::*;
    use super::*;
    use serde_json::json;
    use std::os::unix::fs::PermissionsExt;

    fn mode_of(path: &str) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[tokio::test]
    async fn content_is_written_then_idempotent() {
        let h = Harness::new(json!({}));
        let dest = h.path("out.txt");
        let a = args(json!({"content": "hello\n", "dest": dest, "mode": "0640"}));
        let r = run(&a, &h.ctx(false, false)).await;
        assert!(r.changed && !r.failed, "{r:?}");
        assert_eq!(h.take_calls(), 2, "one probe, one upload");
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "hello\n");
        assert_eq!(mode_of(&dest), 0o640);
        assert_eq!(r.data["mode"], json!("0640"));
        assert_eq!(r.data["size"], json!(6));
        assert_eq!(r.data["checksum"], json!(remote_file::sha1_hex(b"hello\n")));
        assert_eq!(r.data["md5sum"], json!("b1946ac92492d2347c6235b4d2611184"));
        let again = run(&a, &h.ctx(false, false)).await;
        assert!(!again.changed && !again.failed, "{again:?}");
        assert!(again.data.get("md5sum").is_none(), "{again:?}");
        assert_eq!(h.take_calls(), 1, "a no-op is one probe");
    }

    #[tokio::test]
    async fn a_missing_directory_is_named() {
        let h = Harness::new(json!({}));
        let dir = h.path("no/such");
        let a = args(json!({"content": "x\n", "dest": format!("{dir}/f")}));
        let r = run(&a, &h.ctx(false, false)).await;
        assert_eq!(
            r.msg.unwrap(),
            format!("Destination directory {dir} does not exist")
        );
        assert_eq!(r.data["checksum"], json!(remote_file::sha1_hex(b"x\n")));
    }

    #[tokio::test]
    async fn check_mode_changes_nothing_and_diff_shows_content() {
        let h = Harness::new(json!({}));
        let dest = h.path("out.txt");
        std::fs::write(&dest, "old\n").unwrap();
        let a = args(json!({"content": "new\n", "dest": dest}));
        let r = run(&a, &h.ctx(true, true)).await;
        assert!(r.changed, "{r:?}");
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "old\n");
        let diff = &r.data["diff"][0];
        assert_eq!(diff["before"], json!("old\n"));
        assert_eq!(diff["after"], json!("new\n"));
        assert_eq!(diff["before_header"], json!(dest));
        assert_eq!(
            diff["after_header"],
            json!(dest),
            "content's header is the destination"
        );
        // A new file has no before_header (Ansible prints `--- before`).
        let fresh = h.path("fresh.txt");
        let a = args(json!({"content": "new\n", "dest": fresh}));
        let r = run(&a, &h.ctx(true, true)).await;
        assert_eq!(r.data["diff"][0].get("before_header"), None, "{r:?}");
        assert_eq!(r.data["diff"][0]["after_header"], json!(fresh));
    }

    #[tokio::test]
    async fn mode_only_change_and_symbolic_mode() {
        let h = Harness::new(json!({}));
        let dest = h.path("m.txt");
        std::fs::write(&dest, "x").unwrap();
        std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o600)).unwrap();
        let a = args(json!({"content": "x", "dest": dest, "mode": "u=rw,g=r,o=r"}));
        let r = run(&a, &h.ctx(false, false)).await;
        assert!(r.changed, "{r:?}");
        assert_eq!(mode_of(&dest), 0o644);
        assert!(!run(&a, &h.ctx(false, false)).await.changed);
    }

    #[tokio::test]
    async fn existing_mode_is_kept_and_backup_made() {
        let h = Harness::new(json!({}));
        let dest = h.path("b.txt");
        std::fs::write(&dest, "v1").unwrap();
        std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o600)).unwrap();
        let a = args(json!({"content": "v2", "dest": dest, "backup": true}));
        let r = run(&a, &h.ctx(false, false)).await;
        assert_eq!(mode_of(&dest), 0o600);
        let backup = r.data["backup_file"].as_str().expect("backup_file");
        assert_eq!(std::fs::read_to_string(backup).unwrap(), "v1");
    }

    #[tokio::test]
    async fn binary_src_from_files_dir_into_a_directory() {
        let h = Harness::new(json!({}));
        let bytes: Vec<u8> = (0..=255u8).chain([0, 10, 13, 0]).collect();
        std::fs::create_dir(h.base().join("files")).unwrap();
        std::fs::write(h.base().join("files/blob.bin"), &bytes).unwrap();
        std::fs::create_dir(h.base().join("out")).unwrap();
        let a = args(json!({"src": "blob.bin", "dest": h.path("out")}));
        let r = run(&a, &h.ctx(false, true)).await;
        assert!(r.changed && !r.failed, "{r:?}");
        assert_eq!(std::fs::read(h.base().join("out/blob.bin")).unwrap(), bytes);
        assert_eq!(r.data["diff"][0]["src_binary"], json!(true));
        assert!(!run(&a, &h.ctx(false, false)).await.changed);
        // `dest/` creates the directory.
        let a = args(json!({"src": "blob.bin", "dest": format!("{}/", h.path("new/sub"))}));
        let r = run(&a, &h.ctx(false, false)).await;
        assert!(r.changed && !r.failed, "{r:?}");
        assert_eq!(
            std::fs::read(h.base().join("new/sub/blob.bin")).unwrap(),
            bytes
        );
    }

    #[tokio::test]
    async fn force_off_keeps_existing_and_owner_group_apply() {
        let h = Harness::new(json!({}));
        let dest = h.path("f.txt");
        std::fs::write(&dest, "mine").unwrap();
        let a = args(json!({"content": "theirs", "dest": dest, "force": false}));
        assert!(!run(&a, &h.ctx(false, false)).await.changed);
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "mine");
        let a = args(json!({"content": "mine", "dest": dest, "owner": "root", "group": "root"}));
        let r = run(&a, &h.ctx(false, false)).await;
        assert!(!r.changed && !r.failed, "{r:?}");
        assert_eq!(r.data["owner"], json!("root"));
    }

    #[tokio::test]
    async fn hostile_names_are_never_executed() {
        let h = Harness::new(json!({}));
        let dest = h.path(NASTY);
        let a = args(json!({"content": "$(touch pwned)", "dest": dest, "backup": true}));
        let r = run(&a, &h.ctx(false, false)).await;
        assert!(r.changed && !r.failed, "{r:?}");
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "$(touch pwned)");
        let a = args(json!({"content": "again", "dest": dest, "backup": true}));
        assert!(run(&a, &h.ctx(false, false)).await.changed);
        assert_not_pwned(h.base());
    }

    #[tokio::test]
    async fn symlinked_dest_compares_the_target() {
        let h = Harness::new(json!({}));
        std::fs::write(h.path("real"), "same").unwrap();
        std::os::unix::fs::symlink(h.path("real"), h.path("link")).unwrap();
        let a = args(json!({"content": "same", "dest": h.path("link")}));
        let r = run(&a, &h.ctx(false, false)).await;
        assert!(!r.changed && !r.failed, "{r:?}");
    }

    #[tokio::test]
    async fn missing_src_names_where_it_looked() {
        let h = Harness::new(json!({}));
        let a = args(json!({"src": "nope.txt", "dest": h.path("x")}));
        let r = run(&a, &h.ctx(false, false)).await;
        assert!(r.failed);
        assert!(r.msg.unwrap().contains("files/nope.txt"));
    }
}
