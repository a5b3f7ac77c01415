//! `blockinfile`: a block of lines between two marker lines, inserted,
//! updated in place or removed.
//!
//! The file is read in the probe, edited here in Rust with Ansible's rules
//! and written back atomically only when it changed
//! (`remote_file::write_edit`).

use super::py_regex::compile;
use super::registry::Module;
use super::remote_file::{self, Edited, FileKind};
use super::spec::{ATTRS, Kind, ModuleSpec, aliases, choices, p, required};
use super::{ModuleContext, TaskResult, Vars, arg_bool, arg_str};
use regex::bytes::Regex;

/// `blockinfile`: what it accepts and how it runs.
pub const MODULE: Module = Module::new(
    ModuleSpec::new(
        "blockinfile",
        &[
            required(aliases(p("path", Kind::Str), &["dest", "destfile", "name"])),
            choices(p("state", Kind::Str), &["present", "absent"]),
            p("marker", Kind::Str),
            aliases(p("block", Kind::Str), &["content"]),
            p("insertafter", Kind::Regex),
            p("insertbefore", Kind::Regex),
            p("create", Kind::Bool),
            p("backup", Kind::Bool),
            p("validate", Kind::Str),
            p("marker_begin", Kind::Str),
            p("marker_end", Kind::Str),
            p("append_newline", Kind::Bool),
            p("prepend_newline", Kind::Bool),
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

/// Where the block goes when its markers are not in the file yet.
enum Anchor {
    Bof,
    Eof,
    /// After the last line the regexp matches (or the first match in the
    /// whole file for a `(?m)` pattern), else at the end.
    After(Regex),
    /// Before the last line the regexp matches, else at the end.
    Before(Regex),
}

/// What the block is and where it goes.
struct Block {
    /// The marker lines and the block's lines, each with its newline; empty
    /// when the block is to be removed.
    lines: Vec<Vec<u8>>,
    begin: Vec<u8>,
    end: Vec<u8>,
    anchor: Anchor,
    prepend_newline: bool,
    append_newline: bool,
}

async fn try_run(args: &Vars, ctx: &ModuleContext<'_>) -> Result<TaskResult, TaskResult> {
    let path = arg_str(args, "path").ok_or_else(|| TaskResult::failed("path is required"))?;
    let present = arg_str(args, "state") != Some("absent");
    let block = block(args, present)?;
    let probe = remote_file::probe_whole_file(ctx, path).await?;
    match probe.kind {
        FileKind::File => {}
        FileKind::Directory => {
            return Err(TaskResult::failed(format!("Path {path} is a directory !")).with("rc", 256));
        }
        // As Ansible 2.19: a missing file fails without `create`, even
        // for `state: absent`.
        FileKind::Absent if !arg_bool(args, "create", false) => {
            return Err(TaskResult::failed(format!("Path {path} does not exist !")).with("rc", 257));
        }
        FileKind::Absent if !present => {
            return Ok(TaskResult::ok().with_msg(format!("File {path} not present")));
        }
        FileKind::Absent => {}
        other => {
            return Err(TaskResult::failed(format!(
                "{path} is not a regular file ({})",
                other.state()
            )));
        }
    }
    let before = probe.content.clone().unwrap_or_default();
    let after = edit(&before, &block);
    let msg = if probe.exists() && after == before {
        ""
    } else if !probe.exists() {
        "File created"
    } else if block.lines.is_empty() {
        "Block removed"
    } else {
        "Block inserted"
    };
    let edited = Edited {
        probe: &probe,
        after: &after,
        diff_header: format!("{path} (content)"),
        make_parents: true,
    };
    let result = remote_file::write_edit(args, ctx, TaskResult::ok().with_msg(msg), edited).await?;
    Ok(remote_file::with_attributes_diff(result, path))
}

fn block(args: &Vars, present: bool) -> Result<Block, TaskResult> {
    let marker = arg_str(args, "marker").unwrap_or("# {mark} ANSIBLE MANAGED BLOCK");
    let mark = |word: &str| format!("{}\n", marker.replace("{mark}", word)).into_bytes();
    let begin = mark(arg_str(args, "marker_begin").unwrap_or("BEGIN"));
    let end = mark(arg_str(args, "marker_end").unwrap_or("END"));
    let text = arg_str(args, "block").unwrap_or("");
    let mut lines = Vec::new();
    if present && !text.is_empty() {
        lines.push(begin.clone());
        lines.extend(split_lines(text.as_bytes()));
        if let Some(last) = lines.last_mut().filter(|l| !l.ends_with(b"\n")) {
            last.push(b'\n');
        }
        lines.push(end.clone());
    }
    let anchor = match (arg_str(args, "insertafter"), arg_str(args, "insertbefore")) {
        (Some(_), Some(_)) => {
            return Err(TaskResult::failed(
                "parameters are mutually exclusive: insertbefore|insertafter",
            ));
        }
        (None, Some("BOF")) => Anchor::Bof,
        (None, None) | (Some("EOF"), None) => Anchor::Eof,
        (Some(re), None) => Anchor::After(compile(re)?),
        (None, Some(re)) => Anchor::Before(compile(re)?),
    };
    Ok(Block {
        lines,
        begin,
        end,
        anchor,
        prepend_newline: present && arg_bool(args, "prepend_newline", false),
        append_newline: present && arg_bool(args, "append_newline", false),
    })
}

/// Lines with their endings, so that joining them gives the text back.
fn split_lines(content: &[u8]) -> Vec<Vec<u8>> {
    content
        .split_inclusive(|b| *b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

/// Ansible's edit: an existing block (both markers found) is cut out and
/// the new one goes in its place; otherwise it goes where the anchor says.
fn edit(original: &[u8], block: &Block) -> Vec<u8> {
    let mut lines = split_lines(original);
    let begin = lines.iter().rposition(|l| *l == block.begin);
    let end = lines.iter().rposition(|l| *l == block.end);
    let mut at = match (begin, end) {
        (Some(b), Some(e)) => {
            let (from, to) = (b.min(e), b.max(e));
            lines.drain(from..=to);
            from
        }
        _ => anchor_position(original, &lines, &block.anchor),
    };
    if at > 0 && !lines[at - 1].ends_with(b"\n") {
        lines[at - 1].push(b'\n');
    }
    if block.prepend_newline && at != 0 && lines[at - 1] != b"\n" {
        lines.insert(at, b"\n".to_vec());
        at += 1;
    }
    let after_block = at + block.lines.len();
    lines.splice(at..at, block.lines.iter().cloned());
    if block.append_newline && after_block < lines.len() && lines[after_block] != b"\n" {
        lines.insert(after_block, b"\n".to_vec());
    }
    lines.concat()
}

/// The line index a new block goes at.
fn anchor_position(original: &[u8], lines: &[Vec<u8>], anchor: &Anchor) -> usize {
    let (re, after) = match anchor {
        Anchor::Bof => return 0,
        Anchor::Eof => return lines.len(),
        Anchor::After(re) => (re, true),
        Anchor::Before(re) => (re, false),
    };
    // A pattern with the multiline flag searches the whole file, as Ansible.
    let hit = if re.as_str().starts_with("(?m)") {
        re.find(original).map(|m| {
            let offset = if after { m.end() } else { m.start() };
            original[..offset].iter().filter(|b| **b == b'\n').count()
        })
    } else {
        lines.iter().rposition(|l| re.is_match(l))
    };
    match hit {
        None => lines.len(),
        Some(i) if after => i + 1,
        Some(i) => i,
    }
}

#[cfg(test)]
mod tests {
    use super::super::remote_file::test_support::*;
    use super::*;
    use serde_json::json;

    async fn bif(h: &Harness, a: serde_json::Value) -> TaskResult {
        h.run_module(&MODULE, a).await
    }

    const B: &str = "# BEGIN ANSIBLE MANAGED BLOCK\n";
    const E: &str = "# END ANSIBLE MANAGED BLOCK\n";

    #[tokio::test]
    async fn inserts_updates_and_removes() {
        let h = Harness::new(json!({}));
        let p = h.conf_file("a\nb");
        let a = json!({"path": p, "block": "x\ny"});
        let r = bif(&h, a.clone()).await;
        assert!(r.changed && !r.failed, "{r:?}");
        assert_eq!(r.msg.as_deref(), Some("Block inserted"));
        assert_eq!(read_text(&p), format!("a\nb\n{B}x\ny\n{E}"));
        assert!(!bif(&h, a).await.changed);
        let r = bif(&h, json!({"path": p, "block": "z\n"})).await;
        assert!(r.changed);
        assert_eq!(read_text(&p), format!("a\nb\n{B}z\n{E}"));
        let r = bif(&h, json!({"path": p, "state": "absent"})).await;
        assert_eq!(r.msg.as_deref(), Some("Block removed"));
        assert_eq!(read_text(&p), "a\nb\n");
    }

    #[tokio::test]
    async fn anchors_and_custom_markers() {
        let h = Harness::new(json!({}));
        let p = h.conf_file("[a]\nk=1\n[b]\nk=2\n");
        let a = json!({"path": p, "block": "n=1", "insertafter": "^\\[a\\]", "marker": "## {mark} x", "marker_begin": "S", "marker_end": "F"});
        assert!(bif(&h, a).await.changed);
        assert_eq!(read_text(&p), "[a]\n## S x\nn=1\n## F x\nk=1\n[b]\nk=2\n");
        let a = json!({"path": p, "block": "top", "insertbefore": "BOF"});
        assert!(bif(&h, a).await.changed);
        assert!(read_text(&p).starts_with(&format!("{B}top\n{E}[a]\n")));
        let a = json!({"path": p, "block": "m", "insertbefore": "^\\[b\\]", "marker": "# {mark} m", "prepend_newline": true, "append_newline": true});
        assert!(bif(&h, a).await.changed);
        assert!(
            read_text(&p).contains("k=1\n\n# BEGIN m\nm\n# END m\n\n[b]\n"),
            "{}",
            read_text(&p)
        );
    }

    #[tokio::test]
    async fn create_check_mode_and_errors() {
        let h = Harness::new(json!({}));
        let p = h.path("sub/new.conf");
        let r = bif(&h, json!({"path": p, "block": "x"})).await;
        assert!(r.failed && r.msg.unwrap().contains("does not exist"));
        let a = args(json!({"path": p, "block": "x", "create": true, "mode": "0600"}));
        let r = run(&a, &h.ctx(true, true)).await;
        assert!(r.changed && !std::path::Path::new(&p).exists(), "{r:?}");
        let r = run(&a, &h.ctx(false, false)).await;
        // As Ansible: a mode other than a new file's 0644 is a change too.
        let msg = "File created and ownership, perms or SE linux context changed";
        assert_eq!(r.msg.as_deref(), Some(msg), "{r:?}");
        assert_eq!(read_text(&p), format!("{B}x\n{E}"));
        let r = bif(&h, json!({"path": p, "block": "x", "insertafter": "(bad"})).await;
        assert!(r.failed && r.msg.unwrap().contains("'(bad'"));
        let r = bif(&h, json!({"path": h.path("none"), "state": "absent"})).await;
        assert!(r.failed, "{r:?}");
        let r = bif(
            &h,
            json!({"path": h.path("none"), "state": "absent", "create": true}),
        )
        .await;
        assert!(!r.changed && !r.failed, "{r:?}");
    }

    #[tokio::test]
    async fn a_refused_validate_is_worded_as_ansible() {
        let h = Harness::new(json!({}));
        let p = h.conf_file("a\n");
        let a = json!({"path": p, "block": "x", "validate": "sh -c 'echo no >&2; exit 2' %s"});
        let r = bif(&h, a).await;
        assert!(r.failed, "{r:?}");
        assert_eq!(
            r.msg.as_deref(),
            Some("failed to validate: rc:2 error:no\n")
        );
        assert!(r.data.get("exit_status").is_none(), "{r:?}");
        assert_eq!(read_text(&p), "a\n");
    }

    #[tokio::test]
    async fn hostile_path_is_safe() {
        let h = Harness::new(json!({}));
        let p = h.path(NASTY);
        let a = json!({"path": p, "block": "$(touch pwned)", "create": true});
        assert!(bif(&h, a.clone()).await.changed);
        assert!(!bif(&h, a).await.changed);
        assert_not_pwned(h.base());
    }
}
