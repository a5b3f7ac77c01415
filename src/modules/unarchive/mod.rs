//! `unarchive`: an archive (from the controller, copied up, or already on
//! the host with `remote_src`) unpacked into an existing directory with the
//! host's own `tar` (GNU: gz, bz2, xz) or `unzip`.
//!
//! As Ansible: `creates` skips; the archive is compared with `dest` first
//! (`tar --diff`, or each member's bytes for zip) and unpacked only when
//! something differs; then mode/owner/group go on every member.
//! `handler.rs` builds the shell commands.

mod handler;

use super::copy::find_for_task;
use super::registry::Module;
use super::remote_file::{self, FileKind, Upload, exec, exec_ok};
use super::spec::{ATTRS, Kind, ModuleSpec, p, required};
use super::{ModuleContext, TaskResult, Vars, arg_bool, arg_list, arg_str, mode};
use crate::core::shell_quote;
use handler::{Handler, Options};
use serde_json::Value as Json;

/// `unarchive`: what it accepts and how it runs.
pub const MODULE: Module = Module::new(
    ModuleSpec::new(
        "unarchive",
        &[
            required(p("src", Kind::Str)),
            required(p("dest", Kind::Str)),
            p("remote_src", Kind::Bool),
            p("creates", Kind::Str),
            p("list_files", Kind::Bool),
            p("exclude", Kind::List),
            p("include", Kind::List),
            p("extra_opts", Kind::List),
            p("keep_newer", Kind::Bool),
            p("decrypt", Kind::Bool),
            ATTRS[0],
            ATTRS[1],
            ATTRS[2],
        ],
    ),
    |args, ctx| Box::pin(run(args, ctx)),
);

pub async fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    let (Some(src), Some(dest)) = (arg_str(args, "src"), arg_str(args, "dest")) else {
        return TaskResult::failed("src (or content) and dest are required");
    };
    if let Some(creates) = arg_str(args, "creates") {
        match exists(ctx, creates).await {
            Ok(true) => {
                let why = format!("skipped, since {creates} exists");
                return TaskResult::skipped(why.clone()).with_msg(why);
            }
            Ok(false) => {}
            Err(r) => return r,
        }
    }
    // The copy sent up is removed whatever happens.
    let mut uploaded = None;
    let result = unarchive(args, ctx, src, dest, &mut uploaded).await;
    if let Some(tmp) = uploaded {
        let _ = exec(ctx, &format!("rm -f -- {}", shell_quote(&tmp)), None).await;
    }
    match result {
        Ok(r) | Err(r) => r,
    }
}

async fn exists(ctx: &ModuleContext<'_>, path: &str) -> Result<bool, TaskResult> {
    Ok(remote_file::probe_followed(ctx, path).await?.exists())
}

async fn unarchive(
    args: &Vars,
    ctx: &ModuleContext<'_>,
    src: &str,
    dest: &str,
    uploaded: &mut Option<String>,
) -> Result<TaskResult, TaskResult> {
    let remote_src = arg_bool(args, "remote_src", false);
    if src.contains("://") {
        return Err(TaskResult::failed(format!(
            "a URL src ({src}) is not supported by rollout's unarchive: download it with get_url first"
        )));
    }
    let options = options(args)?;
    let dest_probe = remote_file::probe_followed(ctx, dest).await?;
    if dest_probe.kind != FileKind::Directory {
        return Err(TaskResult::failed(format!(
            "dest '{dest}' must be an existing dir"
        )));
    }
    let archive = if remote_src {
        src.to_string()
    } else {
        let tmp = send_up(ctx, src).await?;
        *uploaded = Some(tmp.clone());
        tmp
    };
    let (handler, files) = handler::pick(ctx, &archive, dest, &options).await?;
    let mut result = TaskResult::ok()
        .with("handler", handler.name())
        .with("dest", dest)
        .with("src", archive.clone());
    if ctx.check_mode && handler != Handler::Zip {
        let why =
            "remote module (ansible.legacy.unarchive) does not support check mode when using gtar";
        let skipped = TaskResult::skipped(why).with_msg(why);
        return Ok(skipped);
    }
    let unarchived = handler::is_unarchived(ctx, handler, &archive, dest, &options, &files).await?;
    if ctx.check_mode {
        result.changed = !unarchived;
    } else if !unarchived {
        let extracted = handler::extract(ctx, handler, &archive, dest, &options).await?;
        let rc = extracted.get("rc").and_then(Json::as_i64).unwrap_or(1);
        result = result.with("extract_results", extracted);
        if rc != 0 {
            result.failed = true;
            return Err(result.with_msg(format!("failed to unpack {archive} to {dest}")));
        }
        result.changed = true;
    }
    if !ctx.check_mode && options.has_attributes() {
        result.changed |= handler::set_attributes(ctx, dest, &files, &options).await?;
    }
    if arg_bool(args, "list_files", false) {
        result = result.with("files", files);
    }
    let dest_probe = if result.changed {
        remote_file::probe_followed(ctx, dest).await?
    } else {
        dest_probe
    };
    Ok(remote_file::add_file_fields(result, &dest_probe))
}

/// The controller's archive (looked up as `copy` looks up `src`) copied to
/// a private temp file on the host; its path.
async fn send_up(ctx: &ModuleContext<'_>, src: &str) -> Result<String, TaskResult> {
    let local = find_for_task(ctx, "files", src)?;
    let content = std::fs::read(&local)
        .map_err(|e| TaskResult::failed(format!("could not read {}: {e}", local.display())))?;
    let tmp = format!("/tmp/{}", remote_file::temp_name());
    remote_file::upload(
        ctx,
        &Upload {
            dest: &tmp,
            content: &content,
            mode: Some(0o600),
            ..Default::default()
        },
    )
    .await?;
    Ok(tmp)
}

fn options(args: &Vars) -> Result<Options, TaskResult> {
    let mode = arg_str(args, "mode")
        .map(|m| {
            if mode::is_octal(m) {
                mode::apply_mode(m, 0, false)
            } else {
                Err(format!(
                    "mode '{m}': rollout's unarchive takes an octal mode (e.g. '0644')"
                ))
            }
        })
        .transpose()
        .map_err(TaskResult::failed)?;
    let includes = arg_list(args, "include");
    if !includes.is_empty() && args.get("exclude").is_some() {
        return Err(TaskResult::failed(
            "parameters are mutually exclusive: include|exclude",
        ));
    }
    Ok(Options {
        includes,
        excludes: arg_list(args, "exclude")
            .into_iter()
            .map(|e| e.trim_end_matches('/').to_string())
            .collect(),
        extra_opts: arg_list(args, "extra_opts"),
        keep_newer: arg_bool(args, "keep_newer", false),
        mode,
        owner: arg_str(args, "owner").map(str::to_string),
        group: arg_str(args, "group").map(str::to_string),
    })
}

/// Like `exec_ok`, for the handler's commands.
async fn run_ok(ctx: &ModuleContext<'_>, script: &str, what: &str) -> Result<String, TaskResult> {
    let out = exec_ok(ctx, script, None, what).await?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::super::remote_file::test_support::*;
    use super::*;
    use serde_json::json;
    use std::process::Command;

    /// `dir/a.txt`, `dir/sub/b.txt` packed by the host's tar or zip.
    fn archive(h: &Harness, name: &str, packer: &[&str]) -> String {
        let tree = h.path("tree");
        std::fs::create_dir_all(format!("{tree}/dir/sub")).unwrap();
        std::fs::write(format!("{tree}/dir/a.txt"), "a\n").unwrap();
        std::fs::write(format!("{tree}/dir/sub/b.txt"), "b\n").unwrap();
        let path = h.path(name);
        let ok = Command::new(packer[0])
            .args(&packer[1..])
            .arg(&path)
            .arg("dir")
            .current_dir(&tree)
            .status()
            .unwrap()
            .success();
        assert!(ok);
        path
    }

    async fn unpack(h: &Harness, a: serde_json::Value, check: bool) -> TaskResult {
        run(&args(a), &h.ctx(check, false)).await
    }

    #[tokio::test]
    async fn tar_gz_from_the_controller_unpacks_once() {
        let h = Harness::new(json!({}));
        let src = archive(&h, "t.tgz", &["tar", "-czf"]);
        let dest = h.path("out");
        std::fs::create_dir(&dest).unwrap();
        let a = json!({"src": src, "dest": dest, "list_files": true, "mode": "0600"});
        let r = unpack(&h, a.clone(), false).await;
        assert!(r.changed && !r.failed, "{r:?}");
        assert_eq!(r.data["handler"], json!("TgzArchive"));
        assert!(
            r.data["files"]
                .as_array()
                .unwrap()
                .contains(&json!("dir/sub/b.txt"))
        );
        assert_eq!(
            std::fs::read_to_string(format!("{dest}/dir/sub/b.txt")).unwrap(),
            "b\n"
        );
        let r = unpack(&h, a.clone(), false).await;
        assert!(!r.changed && !r.failed, "{r:?}");
        std::fs::write(format!("{dest}/dir/a.txt"), "changed\n").unwrap();
        assert!(unpack(&h, a, true).await.skipped, "tar has no check mode");
        let a = json!({"src": src, "dest": dest, "remote_src": true});
        assert!(unpack(&h, a, false).await.changed);
        assert_eq!(
            std::fs::read_to_string(format!("{dest}/dir/a.txt")).unwrap(),
            "a\n"
        );
        // No temp copy left behind on the host.
        let left = std::fs::read_dir("/tmp").unwrap().flatten();
        assert!(!left.into_iter().any(|e| {
            e.file_name()
                .to_string_lossy()
                .contains(&std::process::id().to_string())
                && e.file_name().to_string_lossy().starts_with(".rollout")
        }));
    }

    #[tokio::test]
    async fn strip_components_unpacks_once() {
        let h = Harness::new(json!({}));
        let src = archive(&h, "t.tgz", &["tar", "-czf"]);
        let dest = h.path("strip");
        std::fs::create_dir(&dest).unwrap();
        let a = json!({"src": src, "dest": dest, "remote_src": true,
                       "extra_opts": ["--strip-components=1"]});
        assert!(unpack(&h, a.clone(), false).await.changed);
        assert_eq!(
            std::fs::read_to_string(format!("{dest}/sub/b.txt")).unwrap(),
            "b\n"
        );
        let r = unpack(&h, a, false).await;
        assert!(
            !r.changed && !r.failed,
            "the emptied name is no difference: {r:?}"
        );
    }

    #[tokio::test]
    async fn zip_compares_members_and_honours_excludes_and_creates() {
        let h = Harness::new(json!({}));
        let src = archive(&h, "z.zip", &["zip", "-qr"]);
        let dest = h.path("out");
        std::fs::create_dir(&dest).unwrap();
        let a = json!({"src": src, "dest": dest, "remote_src": true, "exclude": ["dir/sub/*"]});
        assert!(unpack(&h, a.clone(), true).await.changed);
        assert!(!std::path::Path::new(&format!("{dest}/dir")).exists());
        let r = unpack(&h, a.clone(), false).await;
        assert!(r.changed && !r.failed, "{r:?}");
        assert_eq!(r.data["handler"], json!("ZipArchive"));
        assert!(!std::path::Path::new(&format!("{dest}/dir/sub/b.txt")).exists());
        assert!(!unpack(&h, a, false).await.changed);
        let a =
            json!({"src": src, "dest": dest, "remote_src": true, "creates": format!("{dest}/dir")});
        assert!(unpack(&h, a, false).await.skipped);
    }

    #[tokio::test]
    async fn errors_are_clear() {
        let h = Harness::new(json!({}));
        let dest = h.path("");
        let r = unpack(
            &h,
            json!({"src": h.path("none"), "dest": dest, "remote_src": true}),
            false,
        )
        .await;
        assert_eq!(
            r.msg,
            Some(format!("Source '{}' does not exist", h.path("none"))),
            "{r:?}"
        );
        std::fs::write(h.path("junk"), "not an archive").unwrap();
        let r = unpack(
            &h,
            json!({"src": h.path("junk"), "dest": dest, "remote_src": true}),
            false,
        )
        .await;
        assert!(r.failed && r.msg.unwrap().starts_with("Failed to find handler"));
        let r = unpack(
            &h,
            json!({"src": h.path("junk"), "dest": h.path("junk")}),
            false,
        )
        .await;
        assert!(r.failed && r.msg.unwrap().contains("must be an existing dir"));
        let r = unpack(&h, json!({"src": "nope.tgz", "dest": dest}), false).await;
        assert!(
            r.failed && r.msg.unwrap().contains("nope.tgz"),
            "missing controller src"
        );
        assert_not_pwned(h.base());
    }
}
