//! `slurp`: a file of the host, base64-encoded, in the result's `content`
//! (read in one round trip by the file probe; `fetch` reads files the same
//! way).

use super::registry::Module;
use super::remote_file::{self, FileKind, Probe, ProbeRequest};
use super::spec::{Kind, ModuleSpec, aliases, p, required};
use super::{ModuleContext, TaskResult, Vars, arg_str};
use base64::Engine;

/// `slurp`: what it accepts and how it runs.
pub const MODULE: Module = Module::new(
    ModuleSpec::new(
        "slurp",
        &[required(aliases(p("src", Kind::Str), &["path"]))],
    ),
    |args, ctx| Box::pin(run(args, ctx)),
);

pub async fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    let Some(src) = arg_str(args, "src") else {
        return TaskResult::failed("src is required");
    };
    match read_file(ctx, src).await {
        Ok((_, content)) => TaskResult::ok()
            .with(
                "content",
                base64::engine::general_purpose::STANDARD.encode(content),
            )
            .with("source", src)
            .with("encoding", "base64"),
        Err(r) => r,
    }
}

/// A regular file's bytes (a symlink is followed), with slurp's messages
/// when it is missing, a directory or unreadable.
pub async fn read_file(
    ctx: &ModuleContext<'_>,
    path: &str,
) -> Result<(Probe, Vec<u8>), TaskResult> {
    let mut probe = remote_file::probe(
        ctx,
        &ProbeRequest {
            path,
            follow: true,
            checksum: true,
            content_limit: Some(usize::MAX),
            ..Default::default()
        },
    )
    .await?;
    match probe.kind {
        FileKind::Absent => Err(TaskResult::failed(format!("File not found: {path}"))),
        FileKind::Directory => Err(TaskResult::failed(format!(
            "Source is a directory and must be a file: {path}"
        ))),
        _ if !probe.readable => Err(TaskResult::failed(format!("File is not readable: {path}"))),
        _ => {
            let content = probe.content.take().unwrap_or_default();
            Ok((probe, content))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::remote_file::test_support::*;
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn encodes_the_file_and_names_the_errors() {
        let h = Harness::new(json!({}));
        let p = h.path(NASTY);
        std::fs::write(&p, b"a\0b\n").unwrap();
        let r = run(&args(json!({"src": p})), &h.ctx(false, false)).await;
        assert!(!r.failed && !r.changed, "{r:?}");
        assert_eq!(r.data["content"], json!("YQBiCg=="));
        assert_eq!(r.data["encoding"], json!("base64"));
        assert_eq!(r.data["source"], json!(p));
        let r = run(&args(json!({"src": h.path("none")})), &h.ctx(false, false)).await;
        assert!(r.failed && r.msg.unwrap().starts_with("File not found: "));
        let r = run(&args(json!({"src": h.path("")})), &h.ctx(false, false)).await;
        assert!(r.failed && r.msg.unwrap().starts_with("Source is a directory"));
        assert_not_pwned(h.base());
    }
}
