//! `sysctl` (ansible.posix): a kernel parameter in a sysctl.conf file and,
//! with `sysctl_set`, in the running kernel.
//!
//! As ansible.posix's module: the file is read and rewritten in Rust with
//! its rules (every line stripped, one `key=value` per key, the first
//! occurrence updated in place, later duplicates dropped); the live value
//! comes from `sysctl -e -n`, is set with `sysctl -w`, and a changed file is
//! reloaded with `sysctl -p FILE`. The result says only `changed`, as
//! Ansible's does.

use super::registry::Module;
use super::remote_file::{self, Edited, FileKind};
use super::spec::{Kind, ModuleSpec, aliases, choices, p, required};
use super::{ModuleContext, TaskResult, Vars, arg_bool, arg_str};
use crate::core::shell_quote;
use serde_json::Value as Json;

pub const MODULE: Module = Module::new(
    ModuleSpec::new(
        "sysctl",
        &[
            required(aliases(p("name", Kind::Str), &["key"])),
            aliases(p("value", Kind::Str), &["val"]),
            choices(p("state", Kind::Str), &["present", "absent"]),
            p("ignoreerrors", Kind::Bool),
            p("reload", Kind::Bool),
            p("sysctl_file", Kind::Str),
            p("sysctl_set", Kind::Bool),
        ],
    ),
    |args, ctx| Box::pin(run(args, ctx)),
);

const DEFAULT_FILE: &str = "/etc/sysctl.conf";
/// sysctl prints in the C locale so its errors can be recognised.
const C_LOCALE: &str = "LANG=C LC_ALL=C LC_MESSAGES=C";

pub async fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    match try_run(args, ctx).await {
        Ok(r) | Err(r) => r,
    }
}

/// Ansible's `_parse_value`: booleans become 1/0, text is stripped.
pub fn parse_value(value: Option<&Json>) -> String {
    let text = match value {
        None | Some(Json::Null) => return String::new(),
        Some(Json::Bool(b)) => return if *b { "1" } else { "0" }.into(),
        Some(Json::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    match text.to_lowercase().as_str() {
        "y" | "yes" | "on" | "1" | "true" | "t" | "1.0" => "1".into(),
        "n" | "no" | "off" | "0" | "false" | "f" | "0.0" => "0".into(),
        _ => text.trim().to_string(),
    }
}

/// A sysctl.conf as Ansible reads it: its stripped lines, and each key's
/// value (the last occurrence wins).
#[derive(Debug, Default, PartialEq)]
pub struct Conf {
    pub lines: Vec<String>,
    pub values: std::collections::HashMap<String, String>,
}

/// A line that holds a setting: not blank, not a `#`/`;` comment, has `=`.
fn setting(line: &str) -> Option<(&str, &str)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with(['#', ';']) {
        return None;
    }
    line.split_once('=').map(|(k, v)| (k.trim(), v.trim()))
}

pub fn parse_conf(text: &str) -> Conf {
    let mut conf = Conf::default();
    for line in text.lines() {
        let line = line.trim();
        conf.lines.push(line.to_string());
        if let Some((k, v)) = setting(line) {
            conf.values.insert(k.to_string(), v.to_string());
        }
    }
    conf
}

/// Ansible's `fix_lines` then `write_sysctl`: the file's new text, with
/// `name` set to `value` (`None`: removed).
pub fn render(conf: &Conf, name: &str, value: Option<&str>) -> String {
    let mut seen: Vec<&str> = Vec::new();
    let mut out = String::new();
    for line in &conf.lines {
        let Some((k, v)) = setting(line) else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        if seen.contains(&k) {
            continue;
        }
        seen.push(k);
        match (k == name, value) {
            (true, Some(value)) => out.push_str(&format!("{k}={value}\n")),
            (true, None) => {}
            (false, _) => out.push_str(&format!("{k}={v}\n")),
        }
    }
    if let (false, Some(value)) = (seen.contains(&name), value) {
        out.push_str(&format!("{name}={value}\n"));
    }
    out
}

/// Ansible's `_values_is_equal`: the same words in the same order.
fn same_words(a: Option<&str>, b: &str) -> bool {
    a.is_some_and(|a| a.split_whitespace().eq(b.split_whitespace()))
}

/// Ansible's `_stderr_failed`: sysctl can exit 0 and still have failed.
fn stderr_failed(stderr: &str) -> bool {
    stderr.lines().any(|l| {
        l.starts_with("sysctl: setting key \"")
            && (l.ends_with("\": Invalid argument") || l.ends_with("\": Read-only file system"))
    })
}

async fn sysctl(ctx: &ModuleContext<'_>, words: &str) -> Result<(i32, String), TaskResult> {
    let out = remote_file::exec(ctx, &format!("{C_LOCALE} sysctl {words}"), None).await?;
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    Ok((
        out.rc,
        format!("{}\u{0}{}", text(&out.stdout), text(&out.stderr)),
    ))
}

/// Runs a sysctl that changes something; fails as Ansible on an error.
async fn sysctl_change(ctx: &ModuleContext<'_>, words: &str, what: &str) -> Result<(), TaskResult> {
    let (rc, output) = sysctl(ctx, words).await?;
    let (out, err) = output.split_once('\u{0}').unwrap_or((&output, ""));
    if rc != 0 || stderr_failed(err) {
        return Err(TaskResult::failed(format!("{what}: {out}{err}")));
    }
    Ok(())
}

async fn try_run(args: &Vars, ctx: &ModuleContext<'_>) -> Result<TaskResult, TaskResult> {
    let name = arg_str(args, "name").unwrap_or("").trim().to_string();
    let present = arg_str(args, "state") != Some("absent");
    if present && args.get("value").is_none_or(Json::is_null) {
        return Err(TaskResult::failed(
            "state is present but all of the following are missing: value",
        ));
    }
    if name.is_empty() {
        return Err(TaskResult::failed("name cannot be blank"));
    }
    let value = parse_value(args.get("value"));
    if present && value.is_empty() {
        return Err(TaskResult::failed("value cannot be blank"));
    }
    let reload = arg_bool(args, "reload", true);
    let ignore = if arg_bool(args, "ignoreerrors", false) {
        "-e "
    } else {
        ""
    };
    let file = arg_str(args, "sysctl_file").unwrap_or(DEFAULT_FILE);

    let (rc, output) = sysctl(ctx, &format!("-e -n {}", shell_quote(&name))).await?;
    let live = (rc == 0).then(|| output.split('\u{0}').next().unwrap_or("").to_string());
    let probe = remote_file::probe_whole_file(ctx, file).await?;
    if !matches!(probe.kind, FileKind::File | FileKind::Absent) {
        return Err(TaskResult::failed(format!(
            "{file} is not a regular file ({})",
            probe.kind.state()
        )));
    }
    let before = String::from_utf8_lossy(probe.content.as_deref().unwrap_or_default());
    let conf = parse_conf(&before);
    let in_file = conf.values.get(&name);

    // Ansible's decision table, in its order.
    let (mut changed, write_file) = match (in_file, present) {
        (None, true) => (true, true),
        (None, false) => (false, false),
        (Some(v), false) => (!v.is_empty(), !v.is_empty()),
        (Some(v), true) if *v != value => (true, true),
        (Some(_), true) => (reload && !same_words(live.as_deref(), &value), false),
    };
    let mut set_live = false;
    if arg_bool(args, "sysctl_set", false) && present {
        if live.is_none() {
            changed = true;
        } else if !same_words(live.as_deref(), &value) {
            changed = true;
            set_live = true;
        }
    }
    if ctx.check_mode {
        return Ok(TaskResult {
            changed,
            ..TaskResult::ok()
        });
    }
    if set_live {
        let assignment = shell_quote(&format!("{name}={value}"));
        let what = format!("setting {name} failed");
        sysctl_change(ctx, &format!("{ignore}-w {assignment}"), &what).await?;
    }
    if write_file {
        let after = render(&conf, &name, present.then_some(value.as_str()));
        let edited = Edited {
            probe: &probe,
            after: after.as_bytes(),
            diff_header: file.to_string(),
            make_parents: false,
        };
        // The module's own arguments name no mode, owner or backup.
        let quiet = ModuleContext {
            diff: false,
            ..*ctx
        };
        remote_file::write_edit(&Vars::new(), &quiet, TaskResult::ok(), edited).await?;
    }
    if changed && reload {
        let words = format!("{ignore}-p {}", shell_quote(file));
        sysctl_change(ctx, &words, "Failed to reload sysctl").await?;
    }
    Ok(TaskResult {
        changed,
        ..TaskResult::ok()
    })
}

#[cfg(test)]
mod tests {
    use super::super::remote_file::test_support::*;
    use super::*;
    use serde_json::json;

    #[test]
    fn the_file_is_read_and_rewritten_as_ansible_does() {
        let text = "# kernel\n  vm.swappiness = 10 \n;old\n\nnet.a=1\nvm.swappiness=20\nnoequals\n";
        let conf = parse_conf(text);
        // The last occurrence is the file's value…
        assert_eq!(conf.values["vm.swappiness"], "20");
        // …but the first is where the new one goes, and duplicates go.
        assert_eq!(
            render(&conf, "vm.swappiness", Some("5")),
            "# kernel\nvm.swappiness=5\n;old\n\nnet.a=1\nnoequals\n"
        );
        assert_eq!(
            render(&conf, "vm.swappiness", None),
            "# kernel\n;old\n\nnet.a=1\nnoequals\n"
        );
        assert_eq!(
            render(&conf, "kernel.x", Some("3 4")).lines().last(),
            Some("kernel.x=3 4")
        );
        assert_eq!(render(&parse_conf(""), "a.b", Some("1")), "a.b=1\n");
    }

    #[test]
    fn values_as_ansible_parses_them() {
        assert_eq!(parse_value(Some(&json!(true))), "1");
        assert_eq!(parse_value(Some(&json!("off"))), "0");
        assert_eq!(parse_value(Some(&json!(" 4096  8192 "))), "4096  8192");
        assert_eq!(parse_value(Some(&json!(65536))), "65536");
        assert!(same_words(Some("4096\t8192\n"), "4096  8192"));
        assert!(!same_words(None, "1"));
        assert!(stderr_failed(
            "sysctl: setting key \"kernel.x\": Invalid argument\n"
        ));
        assert!(!stderr_failed(
            "sysctl: cannot stat /proc/sys/x: No such file\n"
        ));
    }

    /// A local file, never the live kernel: `sysctl_set` and `reload` off.
    #[tokio::test]
    async fn file_only_changes_once_and_honours_check_mode() {
        let h = Harness::new(json!({}));
        let p = h.conf_file("# x\nkernel.msgmax = 100\n");
        let a = json!({"name": "kernel.msgmax", "value": 200, "sysctl_file": p, "reload": false});
        let r = run(&args(a.clone()), &h.ctx(true, false)).await;
        assert!(r.changed && !r.failed, "{r:?}");
        assert_eq!(read_text(&p), "# x\nkernel.msgmax = 100\n");
        assert!(h.run_module(&MODULE, a.clone()).await.changed);
        assert_eq!(read_text(&p), "# x\nkernel.msgmax=200\n");
        let r = h.run_module(&MODULE, a).await;
        assert!(!r.changed && !r.failed, "{r:?}");
        let gone =
            json!({"name": "kernel.msgmax", "state": "absent", "sysctl_file": p, "reload": false});
        assert!(h.run_module(&MODULE, gone.clone()).await.changed);
        assert_eq!(read_text(&p), "# x\n");
        assert!(!h.run_module(&MODULE, gone).await.changed);
        let r = h
            .run_module(&MODULE, json!({"name": "a.b", "sysctl_file": p}))
            .await;
        assert!(r.failed && r.msg.unwrap().contains("missing: value"));
    }

    #[tokio::test]
    async fn hostile_names_stay_data() {
        let h = Harness::new(json!({}));
        let p = h.path(NASTY);
        let a =
            json!({"name": NASTY, "value": "$(touch pwned)", "sysctl_file": p, "reload": false});
        assert!(h.run_module(&MODULE, a.clone()).await.changed);
        assert!(!h.run_module(&MODULE, a).await.changed);
        assert_not_pwned(h.base());
    }
}
