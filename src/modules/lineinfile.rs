//! `lineinfile`: make sure a line is in a file (or is not), optionally
//! replacing the line a regexp matches.
//!
//! The file is read in the probe (one exec), edited here in Rust with
//! Ansible's rules, and written back atomically only when it changed (a
//! second exec). Lines are bytes, so files in any encoding survive.

use super::py_regex::{compile, expand};
use super::registry::Module;
use super::remote_file::{self, Edited, FileKind};
use super::spec::{ATTRS, Kind, ModuleSpec, aliases, choices, p, required};
use super::{ModuleContext, TaskResult, Vars, arg_bool, arg_str};
use regex::bytes::{Captures, Regex};

/// `lineinfile`: what it accepts and how it runs.
pub const MODULE: Module = Module::new(
    ModuleSpec::new(
        "lineinfile",
        &[
            required(aliases(p("path", Kind::Str), &["dest", "destfile", "name"])),
            aliases(p("regexp", Kind::Regex), &["regex"]),
            p("search_string", Kind::Str),
            aliases(p("line", Kind::Str), &["value"]),
            choices(p("state", Kind::Str), &["present", "absent"]),
            p("insertafter", Kind::Regex),
            p("insertbefore", Kind::Regex),
            p("firstmatch", Kind::Bool),
            p("backrefs", Kind::Bool),
            p("create", Kind::Bool),
            p("backup", Kind::Bool),
            p("validate", Kind::Str),
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

/// Where a new line goes when no line matches.
#[derive(Debug)]
enum Anchor {
    Bof,
    Eof,
    After(Regex),
    Before(Regex),
}

/// What to look for and what to put.
#[derive(Debug)]
struct Rule {
    line: Option<Vec<u8>>,
    regexp: Option<Regex>,
    search_string: Option<Vec<u8>>,
    anchor: Anchor,
    firstmatch: bool,
    backrefs: bool,
}

/// The outcome of an edit.
#[derive(Debug, PartialEq)]
struct Edit {
    changed: bool,
    msg: String,
    /// Lines removed (`state: absent`).
    found: Option<usize>,
}

async fn try_run(args: &Vars, ctx: &ModuleContext<'_>) -> Result<TaskResult, TaskResult> {
    let path = arg_str(args, "path").ok_or_else(|| TaskResult::failed("path is required"))?;
    let present = arg_str(args, "state") != Some("absent");
    let rule = rule(args, present)?;
    let probe = remote_file::probe_whole_file(ctx, path).await?;
    let base = TaskResult::ok().with("path", path);
    match probe.kind {
        FileKind::Absent if !present => {
            return Ok(base.with_msg("file not present").with("found", 0));
        }
        FileKind::Absent if !arg_bool(args, "create", false) => {
            return Err(
                TaskResult::failed(format!("Destination {path} does not exist !")).with("rc", 257),
            );
        }
        FileKind::Absent | FileKind::File => {}
        FileKind::Directory => {
            return Err(TaskResult::failed(format!("Path {path} is a directory !")).with("rc", 256));
        }
        other => {
            return Err(TaskResult::failed(format!(
                "{path} is not a regular file ({})",
                other.state()
            )));
        }
    }
    let before = probe.content.clone().unwrap_or_default();
    let mut lines = split_lines(&before);
    let edit = if present {
        ensure_present(&mut lines, &rule)
    } else {
        ensure_absent(&mut lines, &rule)
    };
    let after = lines.concat();
    let mut result = base.with_msg(edit.msg);
    if let Some(found) = edit.found {
        result = result.with("found", found);
    }
    let edited = Edited {
        probe: &probe,
        after: &after,
        diff_header: format!("{} (content)", probe.path),
        // As Ansible: `create` makes the missing directories too.
        make_parents: !probe.exists(),
    };
    let mut result = remote_file::write_edit(args, ctx, result, edited).await?;
    // As Ansible's lineinfile: `backup`, the empty string when none was made.
    let backup = result
        .data
        .remove("backup_file")
        .unwrap_or_else(|| "".into());
    result = result.with("backup", backup);
    // The diff is a list, but for a file created in check mode.
    if ctx.check_mode && !probe.exists() {
        return Ok(result);
    }
    Ok(remote_file::with_attributes_diff(result, path))
}

fn rule(args: &Vars, present: bool) -> Result<Rule, TaskResult> {
    let regexp = arg_str(args, "regexp").map(compile).transpose()?;
    let search_string = arg_str(args, "search_string").map(|s| s.as_bytes().to_vec());
    if regexp.is_some() && search_string.is_some() {
        return Err(TaskResult::failed(
            "parameters are mutually exclusive: regexp|search_string",
        ));
    }
    let line = arg_str(args, "line").map(|s| s.as_bytes().to_vec());
    let backrefs = arg_bool(args, "backrefs", false);
    if present && line.is_none() {
        return Err(TaskResult::failed("line is required with state=present"));
    }
    if !present && line.is_none() && regexp.is_none() && search_string.is_none() {
        return Err(TaskResult::failed(
            "one of line, search_string, or regexp is required with state=absent",
        ));
    }
    if backrefs && regexp.is_none() {
        return Err(TaskResult::failed("regexp is required with backrefs=true"));
    }
    Ok(Rule {
        line,
        regexp,
        search_string,
        anchor: anchor(args)?,
        firstmatch: arg_bool(args, "firstmatch", false),
        backrefs,
    })
}

fn anchor(args: &Vars) -> Result<Anchor, TaskResult> {
    match (arg_str(args, "insertafter"), arg_str(args, "insertbefore")) {
        (Some(_), Some(_)) => Err(TaskResult::failed(
            "parameters are mutually exclusive: insertafter|insertbefore",
        )),
        (Some("BOF"), None) | (None, Some("BOF")) => Ok(Anchor::Bof),
        (Some("EOF"), None) | (None, None) => Ok(Anchor::Eof),
        (Some(re), None) => Ok(Anchor::After(compile(re)?)),
        (None, Some(re)) => Ok(Anchor::Before(compile(re)?)),
    }
}

/// Lines with their endings, so that joining them gives the file back.
fn split_lines(content: &[u8]) -> Vec<Vec<u8>> {
    content
        .split_inclusive(|b| *b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

fn strip_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn with_eol(line: &[u8]) -> Vec<u8> {
    let mut out = line.to_vec();
    if !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    out
}

/// Whether a line is the one the rule is about (regexp, search string, or
/// the exact line).
fn matches<'a>(rule: &Rule, line: &'a [u8]) -> Option<Option<Captures<'a>>> {
    let text = strip_eol(line);
    match (&rule.regexp, &rule.search_string, &rule.line) {
        (Some(re), _, _) => re.captures(text).map(Some),
        (None, Some(s), _) => contains(text, s).then_some(None),
        (None, None, Some(l)) => (text == l.as_slice()).then_some(None),
        (None, None, None) => None,
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// Ansible's `state: present`.
fn ensure_present(lines: &mut Vec<Vec<u8>>, rule: &Rule) -> Edit {
    let line = rule.line.clone().unwrap_or_default();
    let mut found: Option<(usize, Vec<u8>)> = None;
    let mut insert_at: Option<usize> = None;
    for (i, cur) in lines.iter().enumerate() {
        if let Some(caps) = matches(rule, cur) {
            let new = match (rule.backrefs, caps) {
                (true, Some(caps)) => expand(&caps, &line),
                _ => line.clone(),
            };
            found = Some((i, new));
            if rule.firstmatch {
                break;
            }
        } else if let Some(at) = anchor_hit(&rule.anchor, cur, i) {
            insert_at = Some(at);
            if rule.firstmatch {
                break;
            }
        }
    }
    if let Some((i, new)) = found {
        let new = with_eol(&new);
        if lines[i] == new {
            return unchanged();
        }
        lines[i] = new;
        return changed("line replaced");
    }
    // A regexp that matches nothing, with the exact line already there,
    // must not add it again.
    if rule.backrefs || lines.iter().any(|l| strip_eol(l) == line.as_slice()) {
        return unchanged();
    }
    insert(lines, &rule.anchor, insert_at, &line)
}

/// The insertion index an anchor regexp gives at line `i`, if it matches.
fn anchor_hit(anchor: &Anchor, line: &[u8], i: usize) -> Option<usize> {
    match anchor {
        Anchor::After(re) if re.is_match(strip_eol(line)) => Some(i + 1),
        Anchor::Before(re) if re.is_match(strip_eol(line)) => Some(i),
        _ => None,
    }
}

fn insert(lines: &mut Vec<Vec<u8>>, anchor: &Anchor, at: Option<usize>, line: &[u8]) -> Edit {
    let at = match (anchor, at) {
        (Anchor::Bof, _) => 0,
        (Anchor::Eof, _) | (_, None) => {
            if let Some(last) = lines.last_mut().filter(|l| !l.ends_with(b"\n")) {
                last.push(b'\n');
            }
            lines.len()
        }
        (_, Some(at)) => at,
    };
    lines.insert(at, with_eol(line));
    changed("line added")
}

/// Ansible's `state: absent`: every matching line goes.
fn ensure_absent(lines: &mut Vec<Vec<u8>>, rule: &Rule) -> Edit {
    let before = lines.len();
    lines.retain(|l| matches(rule, l).is_none());
    let removed = before - lines.len();
    Edit {
        changed: removed > 0,
        msg: if removed > 0 {
            format!("{removed} line(s) removed")
        } else {
            String::new()
        },
        found: Some(removed),
    }
}

fn changed(msg: &str) -> Edit {
    Edit {
        changed: true,
        msg: msg.into(),
        found: None,
    }
}

fn unchanged() -> Edit {
    Edit {
        changed: false,
        msg: String::new(),
        found: None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::remote_file::test_support::*;
    use super::*;
    use serde_json::json;

    async fn lif(h: &Harness, a: serde_json::Value) -> TaskResult {
        h.run_module(&MODULE, a).await
    }

    #[tokio::test]
    async fn regexp_replaces_and_is_idempotent() {
        let h = Harness::new(json!({}));
        let p = h.conf_file("a=1\nport=80\nb=2\n");
        let a = json!({"path": p, "regexp": "^port=", "line": "port=8080"});
        let r = lif(&h, a.clone()).await;
        assert!(r.changed && !r.failed, "{r:?}");
        assert_eq!(r.msg.as_deref(), Some("line replaced"));
        assert_eq!(read_text(&p), "a=1\nport=8080\nb=2\n");
        assert_eq!(h.take_calls(), 2);
        assert!(!lif(&h, a).await.changed);
        assert_eq!(h.take_calls(), 1);
    }

    #[tokio::test]
    async fn a_symlink_is_followed_and_kept() {
        let h = Harness::new(json!({}));
        let target = h.conf_file("a=1\n");
        let link = h.path("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let r = lif(&h, json!({"path": link, "line": "b=2"})).await;
        assert!(r.changed && !r.failed, "{r:?}");
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
        assert_eq!(read_text(&target), "a=1\nb=2\n");
    }

    #[tokio::test]
    async fn appends_at_eof_and_after_a_match() {
        let h = Harness::new(json!({}));
        let p = h.conf_file("[main]\nx=1\n[other]\ny=2");
        let r = lif(&h, json!({"path": p, "line": "z=3"})).await;
        assert_eq!(r.msg.as_deref(), Some("line added"));
        assert_eq!(read_text(&p), "[main]\nx=1\n[other]\ny=2\nz=3\n");
        let a = json!({"path": p, "line": "w=0", "insertafter": "^\\[main\\]"});
        assert!(lif(&h, a.clone()).await.changed);
        assert_eq!(read_text(&p), "[main]\nw=0\nx=1\n[other]\ny=2\nz=3\n");
        assert!(!lif(&h, a).await.changed);
        let a = json!({"path": p, "line": "# top", "insertbefore": "BOF"});
        assert!(lif(&h, a).await.changed);
        assert!(read_text(&p).starts_with("# top\n[main]\n"));
        let a = json!({"path": p, "line": "v=9", "insertbefore": "^\\[other\\]"});
        assert!(lif(&h, a).await.changed);
        assert!(read_text(&p).contains("x=1\nv=9\n[other]\n"));
    }

    #[tokio::test]
    async fn absent_removes_every_match() {
        let h = Harness::new(json!({}));
        let p = h.conf_file("keep\n#x\nkeep2\n#y\n");
        let a = json!({"path": p, "regexp": "^#", "state": "absent"});
        let r = lif(&h, a.clone()).await;
        assert!(r.changed, "{r:?}");
        assert_eq!(r.data["found"], json!(2));
        assert_eq!(read_text(&p), "keep\nkeep2\n");
        assert!(!lif(&h, a).await.changed);
        let r = lif(&h, json!({"path": p, "line": "keep2", "state": "absent"})).await;
        assert!(r.changed);
        assert_eq!(read_text(&p), "keep\n");
    }

    #[tokio::test]
    async fn create_check_mode_diff_and_backup() {
        let h = Harness::new(json!({}));
        let p = h.path("new.conf");
        let r = lif(&h, json!({"path": p, "line": "x"})).await;
        assert!(r.failed && r.msg.unwrap().contains("does not exist"));
        let a = args(json!({"path": p, "line": "x", "create": true, "mode": "0600"}));
        let r = run(&a, &h.ctx(true, true)).await;
        assert!(r.changed && !std::path::Path::new(&p).exists());
        assert_eq!(r.data["diff"]["after"], json!("x\n"));
        let r = run(&a, &h.ctx(false, false)).await;
        assert!(r.changed && !r.failed, "{r:?}");
        assert_eq!(read_text(&p), "x\n");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let r = lif(&h, json!({"path": p, "line": "y", "backup": true})).await;
        let backup = r.data["backup"].as_str().expect("backup");
        assert_eq!(read_text(backup), "x\n");
        assert!(r.data.get("backup_file").is_none(), "{r:?}");
        let r = lif(&h, json!({"path": p, "line": "y", "backup": true})).await;
        assert_eq!(r.data["backup"], json!(""), "no change, no backup: {r:?}");
    }

    #[tokio::test]
    async fn directories_and_the_diff_list_as_ansible() {
        let h = Harness::new(json!({}));
        let dir = h.path("");
        let r = lif(&h, json!({"path": dir, "line": "x"})).await;
        assert_eq!(r.msg.unwrap(), format!("Path {dir} is a directory !"));
        assert_eq!(r.data["rc"], 256);
        let p = h.conf_file("a\n");
        let r = run(&args(json!({"path": p, "line": "b"})), &h.ctx(true, true)).await;
        let header = format!("{p} (file attributes)");
        assert_eq!(r.data["diff"][0]["after"], json!("a\nb\n"), "{r:?}");
        assert_eq!(r.data["diff"][1]["before_header"], json!(header));
        // A file created in check mode: the content's diff alone.
        let new = h.path("new");
        let a = args(json!({"path": new, "line": "b", "create": true}));
        let r = run(&a, &h.ctx(true, true)).await;
        assert_eq!(r.data["diff"]["after"], json!("b\n"), "{r:?}");
        // Its missing directories are made.
        let deep = h.path("a/b/new");
        let r = lif(&h, json!({"path": deep, "line": "b", "create": true})).await;
        assert!(r.changed && !r.failed, "{r:?}");
        assert_eq!(read_text(&deep), "b\n");
    }

    #[tokio::test]
    async fn backrefs_and_firstmatch() {
        let h = Harness::new(json!({}));
        let p = h.conf_file("opt = 1\nopt = 2\n");
        let a = json!({"path": p, "regexp": "^opt = (\\d)", "line": "opt = \\g<1>0", "backrefs": true, "firstmatch": true});
        assert!(lif(&h, a).await.changed);
        assert_eq!(read_text(&p), "opt = 10\nopt = 2\n");
        let a = json!({"path": p, "regexp": "^nomatch(.*)", "line": "\\1", "backrefs": true});
        assert!(!lif(&h, a).await.changed);
    }

    #[tokio::test]
    async fn hostile_path_is_safe() {
        let h = Harness::new(json!({}));
        let p = h.path(NASTY);
        let a = json!({"path": p, "line": "$(touch pwned)", "create": true});
        assert!(lif(&h, a.clone()).await.changed);
        assert!(!lif(&h, a).await.changed);
        assert_eq!(read_text(&p), "$(touch pwned)\n");
        assert_not_pwned(h.base());
    }
}
