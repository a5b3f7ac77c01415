//! `replace`: replace every match of a Python regular expression in a file
//! (multiline mode), optionally only between `after` and `before`.
//!
//! The file is read in the probe, rewritten here in Rust and written back
//! atomically only when it changed (`remote_file::write_edit`).

use super::py_regex::{compile_with, expand};
use super::registry::Module;
use super::remote_file::{self, Edited, FileKind};
use super::spec::{ATTRS, Kind, ModuleSpec, aliases, p, required};
use super::{ModuleContext, TaskResult, Vars, arg_str};
use regex::bytes::Regex;

/// `replace`: what it accepts and how it runs.
pub const MODULE: Module = Module::new(
    ModuleSpec::new(
        "replace",
        &[
            required(aliases(p("path", Kind::Str), &["dest", "destfile", "name"])),
            required(p("regexp", Kind::Regex)),
            p("replace", Kind::Str),
            p("after", Kind::Regex),
            p("before", Kind::Regex),
            p("backup", Kind::Bool),
            p("validate", Kind::Str),
            p("encoding", Kind::Str),
            ATTRS[0],
            ATTRS[1],
            ATTRS[2],
        ],
    ),
    |args, ctx| Box::pin(run(args, ctx)),
);

pub async fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    match try_run(args, ctx).await {
        Ok(r) | Err(r) => r,
    }
}

async fn try_run(args: &Vars, ctx: &ModuleContext<'_>) -> Result<TaskResult, TaskResult> {
    let path = arg_str(args, "path").ok_or_else(|| TaskResult::failed("path is required"))?;
    let regexp = arg_str(args, "regexp").ok_or_else(|| TaskResult::failed("regexp is required"))?;
    let regexp = compile_with("(?m)", regexp)?;
    let template = arg_str(args, "replace").unwrap_or("").as_bytes();
    let section = section_regex(arg_str(args, "after"), arg_str(args, "before"))?;
    let probe = remote_file::probe_whole_file(ctx, path).await?;
    match probe.kind {
        FileKind::File => {}
        FileKind::Directory => {
            return Err(TaskResult::failed(format!("Path {path} is a directory !")).with("rc", 256));
        }
        FileKind::Absent => {
            return Err(TaskResult::failed(format!("Path {path} does not exist !")).with("rc", 257));
        }
        other => {
            return Err(TaskResult::failed(format!(
                "{path} is not a regular file ({})",
                other.state()
            )));
        }
    }
    let before = probe.content.clone().unwrap_or_default();
    let base = TaskResult::ok().with("rc", 0);
    let (start, end) = match &section {
        None => (0, before.len()),
        Some((re, pattern)) => match re.captures(&before).and_then(|c| c.name("subsection")) {
            Some(m) => (m.start(), m.end()),
            None => {
                return Ok(base.with_msg(format!(
                    "Pattern for before/after params did not match the given file: {pattern}"
                )));
            }
        },
    };
    let (replaced, count) = substitute(&regexp, &before[start..end], template);
    let mut after = before[..start].to_vec();
    after.extend_from_slice(&replaced);
    after.extend_from_slice(&before[end..]);
    let msg = if count > 0 && after != before {
        format!("{count} replacements made")
    } else {
        // Matches that change nothing leave the file alone.
        after = before.clone();
        String::new()
    };
    let edited = Edited {
        probe: &probe,
        after: &after,
        diff_header: probe.path.clone(),
        make_parents: false,
    };
    remote_file::write_edit(args, ctx, base.with_msg(msg), edited).await
}

/// The part of the file `after`/`before` select, as Ansible builds it: a
/// `subsection` group between them (dot matching newlines), or `None` for
/// the whole file. Also the pattern, for the message when it matches nothing.
fn section_regex(
    after: Option<&str>,
    before: Option<&str>,
) -> Result<Option<(Regex, String)>, TaskResult> {
    let pattern = match (
        after.filter(|s| !s.is_empty()),
        before.filter(|s| !s.is_empty()),
    ) {
        (Some(a), Some(b)) => format!("{a}(?P<subsection>.*?){b}"),
        (Some(a), None) => format!("{a}(?P<subsection>.*)"),
        (None, Some(b)) => format!("(?P<subsection>.*){b}"),
        (None, None) => return Ok(None),
    };
    Ok(Some((compile_with("(?s)", &pattern)?, pattern)))
}

/// Python's `re.subn`: every match replaced by the expanded template, and
/// how many there were.
fn substitute(re: &Regex, text: &[u8], template: &[u8]) -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(text.len());
    let mut last = 0;
    let mut count = 0;
    for caps in re.captures_iter(text) {
        let m = caps.get(0).expect("group 0 always matches");
        out.extend_from_slice(&text[last..m.start()]);
        out.extend_from_slice(&expand(&caps, template));
        last = m.end();
        count += 1;
    }
    out.extend_from_slice(&text[last..]);
    (out, count)
}

#[cfg(test)]
mod tests {
    use super::super::remote_file::test_support::*;
    use super::*;
    use serde_json::json;

    async fn rep(h: &Harness, a: serde_json::Value) -> TaskResult {
        h.run_module(&MODULE, a).await
    }

    #[tokio::test]
    async fn replaces_every_match_with_backrefs_and_is_idempotent() {
        let h = Harness::new(json!({}));
        let p = h.conf_file("host = a\nhost = b\nport = 1\n");
        let a = json!({"path": p, "regexp": "^host = (\\w)$", "replace": "server = \\1\\g<1>"});
        let r = rep(&h, a.clone()).await;
        assert!(r.changed && !r.failed, "{r:?}");
        assert_eq!(r.msg.as_deref(), Some("2 replacements made"));
        assert_eq!(read_text(&p), "server = aa\nserver = bb\nport = 1\n");
        let r = rep(&h, a).await;
        assert!(!r.changed && !r.failed, "{r:?}");
    }

    #[tokio::test]
    async fn only_between_after_and_before() {
        let h = Harness::new(json!({}));
        let p = h.conf_file("x=1\n[s]\nx=1\n[t]\nx=1\n");
        let a = json!({"path": p, "regexp": "x=1", "replace": "x=2", "after": "\\[s\\]", "before": "\\[t\\]"});
        let r = rep(&h, a).await;
        assert_eq!(r.msg.as_deref(), Some("1 replacements made"), "{r:?}");
        assert_eq!(read_text(&p), "x=1\n[s]\nx=2\n[t]\nx=1\n");
        let a = json!({"path": p, "regexp": "x", "after": "nomatch"});
        let r = rep(&h, a).await;
        assert!(!r.changed && r.msg.unwrap().contains("did not match"));
    }

    #[tokio::test]
    async fn check_mode_diff_backup_and_errors() {
        let h = Harness::new(json!({}));
        let p = h.conf_file("a\n");
        let a = args(json!({"path": p, "regexp": "a", "replace": "b", "backup": true}));
        let r = run(&a, &h.ctx(true, true)).await;
        assert!(r.changed && read_text(&p) == "a\n", "{r:?}");
        assert_eq!(r.data["diff"]["after"], json!("b\n"));
        let r = run(&a, &h.ctx(false, false)).await;
        assert_eq!(read_text(r.data["backup_file"].as_str().unwrap()), "a\n");
        assert_eq!(read_text(&p), "b\n");
        let r = rep(&h, json!({"path": h.path("none"), "regexp": "a"})).await;
        assert!(r.failed && r.msg.unwrap().contains("does not exist"));
        let r = rep(&h, json!({"path": p, "regexp": "(a"})).await;
        assert!(r.failed && r.msg.unwrap().contains("invalid regular expression '(a'"));
    }

    #[tokio::test]
    async fn hostile_path_is_safe() {
        let h = Harness::new(json!({}));
        let p = h.path(NASTY);
        std::fs::write(&p, "$(x)\n").unwrap();
        assert!(
            rep(
                &h,
                json!({"path": p, "regexp": "x", "replace": "`touch pwned`"})
            )
            .await
            .changed
        );
        assert_eq!(read_text(&p), "$(`touch pwned`)\n");
        assert_not_pwned(h.base());
    }
}
