//! `file`: make a path a file, directory, symlink or hard link, touch it or
//! remove it, and set its mode/owner/group.
//!
//! One probe decides what to do; the change (if any) and the new path's
//! stat go in a second exec. `recurse` on a directory needs one more, which
//! compares a listing before and after, so it is idempotent too.

use super::registry::Module;
use super::remote_file::{self, Attributes, FileKind, Probe, ProbeRequest};
use super::spec::{ATTRS, Kind, ModuleSpec, aliases, choices, p, required};
use super::{ModuleContext, TaskResult, Vars, arg_bool, arg_str};
use crate::core::shell_quote;
use serde_json::json;
use std::path::Path;

/// `file`: what it accepts and how it runs.
pub const MODULE: Module = Module::new(
    ModuleSpec::new(
        "file",
        &[
            required(aliases(p("path", Kind::Str), &["dest", "name"])),
            choices(
                p("state", Kind::Str),
                &["file", "directory", "touch", "absent", "link", "hard"],
            ),
            p("src", Kind::Str),
            ATTRS[0],
            ATTRS[1],
            ATTRS[2],
            p("recurse", Kind::Bool),
            p("force", Kind::Bool),
            p("follow", Kind::Bool),
        ],
    ),
    |args, ctx| Box::pin(run(args, ctx)),
);

pub async fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    match try_run(args, ctx).await {
        Ok(r) | Err(r) => r,
    }
}

/// What a state needs done on the host.
#[derive(Debug, Default)]
struct Plan {
    /// Shell lines that create, replace or remove `$p`.
    commands: String,
    /// Always report a change (`touch`).
    always_changed: bool,
    /// The path is (or will be) a symlink: attributes apply to the link.
    link: bool,
    /// The path will not exist afterwards.
    removed: bool,
}

async fn try_run(args: &Vars, ctx: &ModuleContext<'_>) -> Result<TaskResult, TaskResult> {
    let path = arg_str(args, "path").ok_or_else(|| TaskResult::failed("path is required"))?;
    let state_arg = arg_str(args, "state");
    let src = arg_str(args, "src");
    let no_follow = matches!(state_arg, Some("link" | "hard" | "absent"));
    let other = src.map(|s| src_on_host(path, s, state_arg == Some("link")));
    let probe = remote_file::probe(
        ctx,
        &ProbeRequest {
            path,
            follow: arg_bool(args, "follow", true) && !no_follow,
            other: other.as_deref(),
            ..Default::default()
        },
    )
    .await?;
    let state = state_arg.unwrap_or(default_state(&probe));
    let force = arg_bool(args, "force", false);
    let plan = match state {
        "absent" => plan_absent(&probe),
        "file" => plan_file(&probe).map(|()| Plan::default()),
        "directory" => plan_directory(&probe),
        "touch" => Ok(plan_touch()),
        "link" => plan_link(&probe, src, force),
        "hard" => plan_hard(&probe, src, force),
        other => Err(TaskResult::failed(format!("unknown state '{other}'"))),
    }?;
    let is_dir = state == "directory";
    let mut attrs = remote_file::wanted_attributes(args, &probe, is_dir)?;
    if plan.link {
        attrs.mode = None;
    }
    let fresh = !probe.exists() || !plan.commands.is_empty();
    let set_attrs = !plan.removed && (attrs.differ(&probe) || (fresh && has_any(&attrs)));
    let changed = !plan.commands.is_empty() || plan.always_changed || set_attrs;
    // After `touch` the result says what the path is (`file`), as Ansible.
    let mut result = TaskResult::ok().with("path", path);
    if state != "touch" {
        result = result.with("state", state);
    }
    if let Some(src) = src.filter(|_| matches!(state, "link" | "hard")) {
        result = result.with("src", src);
    }
    if ctx.diff && changed {
        result = result.with("diff", state_diff(path, &probe, state, attrs.mode));
    }
    if !changed || ctx.check_mode {
        result.changed = changed;
        let recursed = recurse_if_asked(args, ctx, path, state, &attrs).await?;
        result.changed |= recursed;
        return Ok(with_fields(result, &probe, plan.removed && ctx.check_mode));
    }
    let after = apply(ctx, path, &plan, &attrs, set_attrs).await?;
    result.changed = true;
    recurse_if_asked(args, ctx, path, state, &attrs).await?;
    Ok(with_fields(result, &after, plan.removed))
}

/// Without `state`: what the path already is, or a file.
fn default_state(probe: &Probe) -> &'static str {
    match probe.kind {
        FileKind::Directory => "directory",
        FileKind::Link => "link",
        _ => "file",
    }
}

/// A symlink's relative `src` is relative to the link's directory; a hard
/// link's to the working directory, as for `ln`.
fn src_on_host(path: &str, src: &str, symlink: bool) -> String {
    if !symlink || Path::new(src).is_absolute() {
        return src.to_string();
    }
    match Path::new(path).parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(src).display().to_string(),
        _ => src.to_string(),
    }
}

fn has_any(attrs: &Attributes<'_>) -> bool {
    attrs.mode.is_some() || attrs.owner.is_some() || attrs.group.is_some()
}

fn plan_absent(probe: &Probe) -> Result<Plan, TaskResult> {
    let commands = if probe.exists() {
        "rm -rf -- \"$p\" || exit 1\n".to_string()
    } else {
        String::new()
    };
    Ok(Plan {
        commands,
        removed: true,
        ..Plan::default()
    })
}

fn plan_file(probe: &Probe) -> Result<(), TaskResult> {
    match probe.kind {
        FileKind::Absent => Err(TaskResult::failed(format!(
            "file ({}) is absent, cannot continue",
            probe.path
        ))
        .with("state", "absent")),
        FileKind::Directory => Err(TaskResult::failed(format!(
            "file ({}) is a directory, cannot continue",
            probe.path
        ))),
        _ => Ok(()),
    }
}

fn plan_directory(probe: &Probe) -> Result<Plan, TaskResult> {
    match probe.kind {
        FileKind::Directory => Ok(Plan::default()),
        FileKind::Absent => Ok(Plan {
            commands: "mkdir -p -- \"$p\" || exit 1\n".into(),
            ..Plan::default()
        }),
        _ => Err(TaskResult::failed(format!(
            "{} already exists as a {}",
            probe.path,
            probe.state()
        ))),
    }
}

fn plan_touch() -> Plan {
    Plan {
        commands: "touch -- \"$p\" || exit 1\n".into(),
        always_changed: true,
        ..Plan::default()
    }
}

fn plan_link(probe: &Probe, src: Option<&str>, force: bool) -> Result<Plan, TaskResult> {
    let src = src.ok_or_else(|| TaskResult::failed("src is required for state=link"))?;
    if !probe.other_exists && !force {
        return Err(TaskResult::failed(format!(
            "src file does not exist, use \"force=yes\" if you really want to create the link: {src}"
        )));
    }
    let ln = format!("ln -s -- {} \"$p\" || exit 1\n", shell_quote(src));
    let commands = match probe.kind {
        FileKind::Absent => ln,
        FileKind::Link if probe.lnk_target.as_deref() == Some(src) => String::new(),
        FileKind::Link => format!("rm -f -- \"$p\" || exit 1\n{ln}"),
        FileKind::Directory if force => format!("rmdir -- \"$p\" || exit 1\n{ln}"),
        _ if force => format!("rm -f -- \"$p\" || exit 1\n{ln}"),
        kind => {
            return Err(TaskResult::failed(format!(
                "refusing to convert from {} to symlink for {}",
                kind_word(kind),
                probe.path
            )));
        }
    };
    Ok(Plan {
        commands,
        link: true,
        ..Plan::default()
    })
}

fn plan_hard(probe: &Probe, src: Option<&str>, force: bool) -> Result<Plan, TaskResult> {
    let src = src.ok_or_else(|| TaskResult::failed("src is required for state=hard"))?;
    if !probe.other_exists {
        return Err(TaskResult::failed(format!(
            "src does not exist: cannot hard link to {src}"
        )));
    }
    let ln = |f: &str| format!("ln {f}-- {} \"$p\" || exit 1\n", shell_quote(src));
    let commands = match probe.kind {
        _ if probe.same_as_other => String::new(),
        FileKind::Absent => ln(""),
        FileKind::Directory => {
            return Err(TaskResult::failed(format!(
                "cannot hard link: {} is a directory",
                probe.path
            )));
        }
        _ if force => ln("-f "),
        kind => {
            return Err(TaskResult::failed(format!(
                "Cannot link, a different {} exists at {} (use force=yes to replace it)",
                kind_word(kind),
                probe.path
            )));
        }
    };
    Ok(Plan {
        commands,
        ..Plan::default()
    })
}

fn kind_word(kind: FileKind) -> &'static str {
    match kind {
        FileKind::Directory => "directory",
        FileKind::Link => "symlink",
        FileKind::File => "file",
        FileKind::Absent => "absent path",
        _ => "special file",
    }
}

/// Runs the plan and the attribute changes, then describes the path.
async fn apply(
    ctx: &ModuleContext<'_>,
    path: &str,
    plan: &Plan,
    attrs: &Attributes<'_>,
    set_attrs: bool,
) -> Result<Probe, TaskResult> {
    let mut script = format!("p={}\n{}", shell_quote(path), plan.commands);
    if set_attrs {
        script.push_str(&remote_file::attribute_commands(attrs, plan.link));
    }
    script.push_str(&remote_file::stat_snippet(false));
    let out = remote_file::exec_ok(ctx, &script, None, "changing the path").await?;
    Ok(remote_file::parse_probe(path, &out.stdout))
}

/// `recurse: yes` on a directory: apply mode/owner/group to everything
/// below. True when anything changed (in check mode: would change).
async fn recurse_if_asked(
    args: &Vars,
    ctx: &ModuleContext<'_>,
    path: &str,
    state: &str,
    attrs: &Attributes<'_>,
) -> Result<bool, TaskResult> {
    if state != "directory" || !arg_bool(args, "recurse", false) || !has_any(attrs) {
        return Ok(false);
    }
    // The host's chmod applies a symbolic mode per entry (`X` differs
    // between files and directories), so pass the user's spec through.
    let mode = arg_str(args, "mode");
    let script = if ctx.check_mode {
        recurse_check_script(path, mode, attrs)
    } else {
        recurse_script(path, mode, attrs)
    };
    let out = remote_file::exec_ok(ctx, &script, None, "recursing into the directory").await?;
    Ok(String::from_utf8_lossy(&out.stdout).contains("recursed=1"))
}

/// Changes everything and compares a listing (modes, owners) before and
/// after, so a no-op reports no change.
fn recurse_script(path: &str, mode: Option<&str>, attrs: &Attributes<'_>) -> String {
    let mut s = format!(
        "p={}\n[ -d \"$p\" ] || exit 0\nsnap() {{ find \"$p\" -exec ls -ldn {{}} + | cksum; }}\nb=$(snap)\n",
        shell_quote(path)
    );
    if let Some(o) = attrs.owner {
        s.push_str(&format!("chown -R {} \"$p\" || exit 1\n", shell_quote(o)));
    }
    if let Some(g) = attrs.group {
        s.push_str(&format!("chgrp -R {} \"$p\" || exit 1\n", shell_quote(g)));
    }
    // After owner and group, which clear setuid/setgid bits.
    if let Some(m) = mode {
        s.push_str(&format!("chmod -R {} \"$p\" || exit 1\n", shell_quote(m)));
    }
    s.push_str("if [ \"$(snap)\" != \"$b\" ]; then printf 'recursed=1\\n'; fi\n");
    s
}

/// Check mode: `find` finds entries that differ; a symbolic mode cannot be
/// checked that way and counts as a change.
fn recurse_check_script(path: &str, mode: Option<&str>, attrs: &Attributes<'_>) -> String {
    let mut tests = Vec::new();
    match mode {
        Some(m) if super::mode::is_octal(m) => tests.push(format!("! -perm {}", shell_quote(m))),
        Some(_) => return "printf 'recursed=1\\n'\n".into(),
        None => {}
    }
    if let Some(o) = attrs.owner {
        tests.push(format!("! -user {}", shell_quote(o)));
    }
    if let Some(g) = attrs.group {
        tests.push(format!("! -group {}", shell_quote(g)));
    }
    format!(
        "p={}\n[ -d \"$p\" ] || {{ printf 'recursed=1\\n'; exit 0; }}\n\
         if [ -n \"$(find \"$p\" \\( {} \\) -print | head -n 1)\" ]; then printf 'recursed=1\\n'; fi\n",
        shell_quote(path),
        tests.join(" -o ")
    )
}

/// Ansible's `diff`: the state before and after, and the mode when it
/// changes on a path that exists (as `0644`).
fn state_diff(path: &str, probe: &Probe, state: &str, mode: Option<u32>) -> serde_json::Value {
    let mut diff = json!({
        "before": {"path": path, "state": probe.state()},
        "after": {"path": path, "state": state},
    });
    if let Some(mode) = mode.filter(|m| probe.exists() && *m != probe.mode) {
        diff["before"]["mode"] = format!("0{:03o}", probe.mode).into();
        diff["after"]["mode"] = format!("0{mode:03o}").into();
    }
    diff
}

fn with_fields(result: TaskResult, probe: &Probe, removed: bool) -> TaskResult {
    if removed {
        return result;
    }
    let state = result.data.get("state").cloned();
    let mut result = remote_file::add_file_fields(result, probe);
    // The requested state wins over what a check-mode probe saw.
    if let Some(state) = state {
        result.data.insert("state".into(), state);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::super::remote_file::test_support::*;
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode_of(path: &str) -> u32 {
        std::fs::symlink_metadata(path)
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    }

    async fn file(h: &Harness, a: serde_json::Value) -> TaskResult {
        run(&args(a), &h.ctx(false, false)).await
    }

    #[tokio::test]
    async fn hard_linked_files_read_as_hard_and_touch_says_file() {
        let h = Harness::new(json!({}));
        let f = h.conf_file("x\n");
        std::fs::hard_link(&f, h.path("other")).unwrap();
        let r = h
            .run_module(&MODULE, json!({"path": f, "state": "directory"}))
            .await;
        assert_eq!(r.msg.unwrap(), format!("{f} already exists as a hard"));
        let a = args(json!({"path": f, "mode": "0600"}));
        let r = run(&a, &h.ctx(true, true)).await;
        assert_eq!(r.data["diff"]["before"]["state"], json!("hard"), "{r:?}");
        assert_eq!(r.data["diff"]["before"]["mode"], json!("0644"), "{r:?}");
        assert_eq!(r.data["diff"]["after"]["mode"], json!("0600"), "{r:?}");
        let t = h.path("t");
        let r = h
            .run_module(&MODULE, json!({"path": t, "state": "touch"}))
            .await;
        assert_eq!(r.data["state"], json!("file"), "{r:?}");
    }

    #[tokio::test]
    async fn directory_created_once_with_mode() {
        let h = Harness::new(json!({}));
        let dir = h.path("a/b");
        let a = json!({"path": dir, "state": "directory", "mode": "0750"});
        let r = file(&h, a.clone()).await;
        assert!(r.changed && !r.failed, "{r:?}");
        assert_eq!(h.take_calls(), 2);
        assert_eq!(mode_of(&dir), 0o750);
        assert_eq!(r.data["mode"], json!("0750"));
        assert_eq!(r.data["state"], json!("directory"));
        let again = file(&h, a).await;
        assert!(!again.changed && !again.failed, "{again:?}");
        assert_eq!(h.take_calls(), 1);
    }

    #[tokio::test]
    async fn check_mode_and_diff() {
        let h = Harness::new(json!({}));
        let dir = h.path("d");
        let a = args(json!({"path": dir, "state": "directory"}));
        let r = run(&a, &h.ctx(true, true)).await;
        assert!(r.changed, "{r:?}");
        assert!(!Path::new(&dir).exists());
        assert_eq!(r.data["diff"]["before"]["state"], json!("absent"));
        assert_eq!(r.data["diff"]["after"]["state"], json!("directory"));
    }

    #[tokio::test]
    async fn file_state_sets_mode_and_owner() {
        let h = Harness::new(json!({}));
        let f = h.path("f");
        let r = file(&h, json!({"path": f, "state": "file"})).await;
        assert!(r.failed && r.msg.unwrap().contains("is absent"));
        std::fs::write(&f, "x").unwrap();
        let a = json!({"path": f, "mode": "u=rw,go=", "owner": "root", "group": "root"});
        let r = file(&h, a.clone()).await;
        assert!(!r.failed, "{r:?}");
        assert_eq!(mode_of(&f), 0o600);
        assert_eq!(r.data["owner"], json!("root"));
        assert!(!file(&h, a).await.changed);
    }

    #[tokio::test]
    async fn touch_is_always_changed_and_absent_removes() {
        let h = Harness::new(json!({}));
        let f = h.path(NASTY);
        let a = json!({"path": f, "state": "touch"});
        assert!(file(&h, a.clone()).await.changed);
        assert!(Path::new(&f).is_file());
        assert!(file(&h, a).await.changed);
        let a = json!({"path": f, "state": "absent"});
        let r = file(&h, a.clone()).await;
        assert!(r.changed && !r.failed, "{r:?}");
        assert!(!Path::new(&f).exists());
        assert!(!file(&h, a).await.changed);
        let dir = h.path("tree");
        std::fs::create_dir_all(format!("{dir}/x/y")).unwrap();
        assert!(
            file(&h, json!({"path": dir, "state": "absent"}))
                .await
                .changed
        );
        assert!(!Path::new(&dir).exists());
        assert_not_pwned(h.base());
    }

    #[tokio::test]
    async fn symlinks() {
        let h = Harness::new(json!({}));
        std::fs::write(h.path("target"), "t").unwrap();
        std::fs::write(h.path("other"), "o").unwrap();
        let link = h.path("link");
        let a = json!({"path": link, "src": "target", "state": "link"});
        let r = file(&h, a.clone()).await;
        assert!(r.changed && !r.failed, "{r:?}");
        assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("target"));
        assert!(!file(&h, a).await.changed);
        let r = file(&h, json!({"path": link, "src": "other", "state": "link"})).await;
        assert!(r.changed);
        assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("other"));
        let r = file(&h, json!({"path": link, "src": "nope", "state": "link"})).await;
        assert!(r.failed && r.msg.unwrap().contains("force"));
        let r = file(
            &h,
            json!({"path": h.path("target"), "src": "other", "state": "link"}),
        )
        .await;
        assert!(r.failed && r.msg.unwrap().contains("refusing"));
        let r = file(
            &h,
            json!({"path": h.path("target"), "src": "other", "state": "link", "force": true}),
        )
        .await;
        assert!(r.changed && !r.failed, "{r:?}");
    }

    #[tokio::test]
    async fn hard_links() {
        let h = Harness::new(json!({}));
        let src = h.path("src");
        std::fs::write(&src, "s").unwrap();
        let a = json!({"path": h.path("hard"), "src": src, "state": "hard"});
        assert!(file(&h, a.clone()).await.changed);
        assert_eq!(std::fs::read_to_string(h.path("hard")).unwrap(), "s");
        let r = file(&h, a).await;
        assert!(!r.changed && !r.failed, "{r:?}");
    }

    #[tokio::test]
    async fn recurse_is_idempotent() {
        let h = Harness::new(json!({}));
        let dir = h.path("r");
        std::fs::create_dir_all(format!("{dir}/sub")).unwrap();
        std::fs::write(format!("{dir}/sub/f"), "x").unwrap();
        std::fs::set_permissions(
            format!("{dir}/sub/f"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        let a = json!({"path": dir, "state": "directory", "recurse": true, "mode": "u=rwX,go=rX"});
        let r = run(&args(a.clone()), &h.ctx(true, false)).await;
        assert!(r.changed);
        assert_eq!(mode_of(&format!("{dir}/sub/f")), 0o600);
        let r = file(&h, a.clone()).await;
        assert!(r.changed && !r.failed, "{r:?}");
        assert_eq!(mode_of(&format!("{dir}/sub/f")), 0o644);
        assert_eq!(mode_of(&format!("{dir}/sub")), 0o755);
        assert!(!file(&h, a).await.changed);
        let a = json!({"path": dir, "state": "directory", "recurse": true, "mode": "0755"});
        assert!(file(&h, a.clone()).await.changed);
        assert!(!run(&args(a), &h.ctx(true, false)).await.changed);
    }
}
