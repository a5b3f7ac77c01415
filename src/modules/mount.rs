//! `mount` (ansible.posix): a mount point in fstab and/or mounted.
//!
//! fstab is read and edited in Rust with ansible.posix's rules (Linux
//! fields, `\040`-style escapes, swap entries told apart by their source)
//! and written back in place, as Ansible does; what is mounted comes from
//! the host's `/proc/self/mountinfo`; `mount`, `umount` and
//! `mount -o remount` do the rest. A failed mount puts fstab back and
//! removes the directories it created, as Ansible.

use super::registry::Module;
use super::remote_file::{self, exec, exec_ok};
use super::spec::{Kind, ModuleSpec, aliases, choices, p, required};
use super::{ModuleContext, TaskResult, Vars, arg_bool, arg_str};
use crate::core::shell_quote;
use serde_json::Value as Json;
use std::collections::HashMap;

pub const MODULE: Module = Module::new(
    ModuleSpec::new(
        "mount",
        &[
            required(aliases(p("path", Kind::Str), &["name"])),
            p("src", Kind::Str),
            p("fstype", Kind::Str),
            p("opts", Kind::Str),
            p("opts_no_log", Kind::Bool),
            p("dump", Kind::Str),
            p("passno", Kind::Str),
            required(choices(
                p("state", Kind::Str),
                &[
                    "absent",
                    "absent_from_fstab",
                    "mounted",
                    "present",
                    "unmounted",
                    "remounted",
                    "ephemeral",
                ],
            )),
            p("fstab", Kind::Str),
            p("boot", Kind::Bool),
            p("backup", Kind::Bool),
        ],
    ),
    |args, ctx| Box::pin(run(args, ctx)),
);

const DEFAULT_FSTAB: &str = "/etc/fstab";

pub async fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    match try_run(args, ctx).await {
        Ok(r) | Err(r) => r,
    }
}

/// The entry the task describes, its values escaped as fstab writes them.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub src: String,
    pub name: String,
    pub fstype: String,
    pub opts: String,
    pub dump: String,
    pub passno: String,
}

/// Ansible's `_escape_fstab`: space, `&` and backslash as octal escapes.
pub fn escape(v: &str) -> String {
    v.replace('\\', "\\134")
        .replace(' ', "\\040")
        .replace('&', "\\046")
}

/// `\040`-style octal escapes (mountinfo, fstab) decoded.
fn unescape(v: &str) -> String {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match octal {
            Some(d) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Entry {
    fn line(&self) -> String {
        format!(
            "{} {} {} {} {} {}\n",
            self.src, self.name, self.fstype, self.opts, self.dump, self.passno
        )
    }

    /// Whether an fstab line's fields are this entry's mount point (a swap
    /// entry, mounted on `none`, is told apart by its source).
    fn is_mine(&self, name: &str, fstype: &str, src: &str, raw_src: Option<&str>) -> bool {
        name == self.name
            && !(name == "none" && fstype == "swap" && raw_src.is_some_and(|s| s != src))
    }
}

/// fstab's lines as Ansible reads them: each ends with a newline.
fn lines(text: &str) -> Vec<String> {
    text.split_inclusive('\n')
        .map(|l| {
            if l.ends_with('\n') {
                l.to_string()
            } else {
                format!("{l}\n")
            }
        })
        .collect()
}

/// Ansible's `_set_mount_save_old`: fstab with the entry added or
/// corrected, and whether it changed.
pub fn set_entry(text: &str, entry: &Entry, raw_src: Option<&str>) -> (String, bool) {
    let mut out = String::new();
    let (mut exists, mut changed) = (false, false);
    for line in lines(text) {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            out.push_str(&line);
            continue;
        }
        let fields: Vec<&str> = line
            .split('#')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        if !(4..=6).contains(&fields.len())
            || !entry.is_mine(fields[1], fields[2], fields[0], raw_src)
        {
            out.push_str(&line);
            continue;
        }
        exists = true;
        // Missing dump/passno fields are Python's int 0, never equal to
        // the string "0": such a line is always rewritten in full.
        let found = [
            Some(fields[0]),
            Some(fields[2]),
            Some(fields[3]),
            fields.get(4).copied(),
            fields.get(5).copied(),
        ];
        let wanted = [
            &entry.src,
            &entry.fstype,
            &entry.opts,
            &entry.dump,
            &entry.passno,
        ];
        if found
            .iter()
            .zip(wanted)
            .any(|(f, w)| *f != Some(w.as_str()))
        {
            changed = true;
            out.push_str(&entry.line());
        } else {
            out.push_str(&line);
        }
    }
    if !exists {
        out.push_str(&entry.line());
        changed = true;
    }
    (out, changed)
}

/// Ansible's `unset_mount`: fstab without the entry (only lines of exactly
/// six fields count, as Ansible's), and whether it changed.
pub fn unset_entry(text: &str, name: &str, raw_src: Option<&str>) -> (String, bool) {
    let mut out = String::new();
    let mut changed = false;
    let name = escape(name);
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        let fields: Vec<&str> = line.split_whitespace().collect();
        if trimmed.is_empty() || trimmed.starts_with('#') || fields.len() != 6 {
            out.push_str(line);
            continue;
        }
        let swap_of_another =
            fields[1] == "none" && fields[2] == "swap" && raw_src.is_some_and(|s| s != fields[0]);
        if fields[1] != name || swap_of_another {
            out.push_str(line);
            continue;
        }
        changed = true;
    }
    (out, changed)
}

/// A mounted filesystem, from mountinfo.
#[derive(Debug, Clone, PartialEq)]
pub struct Mounted {
    /// The source as mount prints it (`tmpfs`, `/dev/sda1`).
    pub source: String,
    /// Ansible's source of a mount inside another: the path it came from
    /// (a bind mount's directory).
    pub bind_src: String,
}

/// `/proc/self/mountinfo` as Ansible's `get_linux_mounts` reads it, by
/// mount point.
pub fn parse_mountinfo(text: &str) -> HashMap<String, Mounted> {
    struct Row<'a> {
        id: &'a str,
        parent: &'a str,
        root: String,
        dst: String,
        source: String,
    }
    let rows: Vec<Row> = text
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            (f.len() >= 7).then(|| Row {
                id: f[0],
                parent: f[1],
                root: unescape(f[3]),
                dst: unescape(f[4]),
                source: unescape(f[f.len() - 2]),
            })
        })
        .collect();
    let mut mounts = HashMap::new();
    for row in &rows {
        let parent = rows.iter().find(|r| r.id == row.parent);
        let bind_src = match parent {
            Some(m) if row.parent != "1" => {
                let mut root = row.root.clone();
                if m.root.len() > 1 && root.starts_with(&format!("{}/", m.root)) {
                    root = root[m.root.len()..].to_string();
                }
                if m.dst != "/" {
                    root = format!("{}{root}", m.dst);
                }
                root
            }
            _ => row.source.clone(),
        };
        mounts.insert(
            row.dst.clone(),
            Mounted {
                source: row.source.clone(),
                bind_src,
            },
        );
    }
    mounts
}

/// A command's failure text, as Ansible's `out + err`.
fn output_text(out: &crate::connection::ExecOutput) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// What the task works with (Ansible's `args`).
struct Task<'a> {
    state: &'a str,
    entry: Entry,
    /// The values as given, for the result and the mount command line.
    src: Option<&'a str>,
    fstype: Option<&'a str>,
    opts: String,
    fstab: &'a str,
}

impl Task<'_> {
    /// `-T FSTAB` when it is not the system's.
    fn fstab_words(&self) -> String {
        if self.fstab != DEFAULT_FSTAB && self.state != "ephemeral" {
            format!(" -T {}", shell_quote(self.fstab))
        } else {
            String::new()
        }
    }

    /// `-t TYPE [-o OPTS] SRC` of an ephemeral mount.
    fn ephemeral_words(&self) -> String {
        if self.state != "ephemeral" {
            return String::new();
        }
        let mut w = format!(" -t {}", shell_quote(self.fstype.unwrap_or_default()));
        if self.opts != "defaults" {
            w.push_str(&format!(" -o {}", shell_quote(&self.opts)));
        }
        w.push_str(&format!(" {}", shell_quote(self.src.unwrap_or_default())));
        w
    }

    fn path(&self) -> String {
        shell_quote(&self.entry.name_raw())
    }

    async fn mount(&self, ctx: &ModuleContext<'_>) -> Result<(), String> {
        let line = format!(
            "mount{}{} {}",
            self.fstab_words(),
            self.ephemeral_words(),
            self.path()
        );
        run_line(ctx, &line).await
    }

    async fn umount(&self, ctx: &ModuleContext<'_>) -> Result<(), String> {
        run_line(ctx, &format!("umount {}", self.path())).await
    }

    /// `mount -o remount`, falling back to umount + mount, as Ansible.
    async fn remount(&self, ctx: &ModuleContext<'_>) -> Result<(), TaskResult> {
        let with_opts = self.state == "remounted" && self.opts != "defaults";
        let remount = if with_opts {
            format!("remount,{}", self.opts)
        } else {
            "remount".into()
        };
        let line = format!(
            "mount -o {}{}{} {}",
            shell_quote(&remount),
            self.fstab_words(),
            self.ephemeral_words(),
            self.path()
        );
        if run_line(ctx, &line).await.is_ok() {
            return Ok(());
        }
        if with_opts {
            return Err(TaskResult::failed(
                "Options were specified with remounted, but the remount command failed. \
                 Failing in order to prevent an unexpected mount result. Try replacing this \
                 command with a \"state: unmounted\" followed by a \"state: mounted\" using \
                 the full desired mount options instead.",
            ));
        }
        let done = match self.umount(ctx).await {
            Ok(()) => self.mount(ctx).await,
            Err(e) => Err(e),
        };
        done.map_err(TaskResult::failed)
    }
}

impl Entry {
    /// The mount point as given (unescaped).
    fn name_raw(&self) -> String {
        unescape(&self.name)
    }
}

async fn run_line(ctx: &ModuleContext<'_>, line: &str) -> Result<(), String> {
    let out = exec(ctx, &format!("LANG=C LC_ALL=C {line}"), None)
        .await
        .map_err(|r| r.msg.unwrap_or_default())?;
    if out.rc == 0 {
        Ok(())
    } else {
        Err(output_text(&out))
    }
}

/// Ansible's `required_if`.
fn check_required(args: &Vars, state: &str) -> Result<(), TaskResult> {
    if !matches!(state, "mounted" | "present" | "ephemeral") {
        return Ok(());
    }
    let missing: Vec<&str> = ["src", "fstype"]
        .into_iter()
        .filter(|k| args.get(*k).is_none_or(Json::is_null))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(TaskResult::failed(format!(
        "state is {state} but all of the following are missing: {}",
        missing.join(", ")
    )))
}

/// fstab's text, created empty (with its directory) when missing, as
/// Ansible does before anything else, check mode included.
async fn read_fstab(ctx: &ModuleContext<'_>, fstab: &str) -> Result<String, TaskResult> {
    let line = format!(
        "f={}; if [ ! -e \"$f\" ]; then mkdir -p -- \"$(dirname -- \"$f\")\" && : >> \"$f\" || exit 3; fi; cat -- \"$f\"",
        shell_quote(fstab)
    );
    let out = exec(ctx, &line, None).await?;
    if out.rc != 0 {
        let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(TaskResult::failed(format!(
            "Failed to open {fstab} due to {err}"
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Writes fstab in place (its mode and owner stay), after a backup when
/// asked; the backup's path or "".
async fn write_fstab(
    ctx: &ModuleContext<'_>,
    fstab: &str,
    text: &str,
    backup: bool,
) -> Result<String, TaskResult> {
    let f = shell_quote(fstab);
    let mut backup_file = String::new();
    let mut line = String::new();
    if backup {
        backup_file = remote_file::backup_path(fstab);
        line.push_str(&format!("cp -p -- {f} {} && ", shell_quote(&backup_file)));
    }
    line.push_str(&format!("cat > {f}"));
    exec_ok(ctx, &line, Some(text.as_bytes()), "writing fstab").await?;
    Ok(backup_file)
}

async fn mounts(ctx: &ModuleContext<'_>) -> Result<HashMap<String, Mounted>, TaskResult> {
    let out = exec(ctx, "cat /proc/self/mountinfo", None).await?;
    Ok(parse_mountinfo(&String::from_utf8_lossy(&out.stdout)))
}

async fn try_run(args: &Vars, ctx: &ModuleContext<'_>) -> Result<TaskResult, TaskResult> {
    let state = arg_str(args, "state").unwrap_or_default();
    check_required(args, state)?;
    let path = arg_str(args, "path").unwrap_or_default();
    let name = path.trim_end_matches('/');
    let name = if name.is_empty() { path } else { name };
    let src = arg_str(args, "src");
    let fstype = arg_str(args, "fstype");
    let fstab = arg_str(args, "fstab").unwrap_or(DEFAULT_FSTAB);
    let mut warnings: Vec<Json> = Vec::new();
    let mut opts = arg_str(args, "opts").unwrap_or("defaults").to_string();
    let boot = arg_bool(args, "boot", true);
    let has_noauto = opts.split(',').any(|o| o == "noauto");
    if boot && has_noauto {
        warnings.push("Ignore the 'boot' due to 'opts' contains 'noauto'.".into());
    } else if !boot {
        opts.push_str(",noauto");
    }
    let dump = arg_str(args, "dump").unwrap_or("0");
    let passno = arg_str(args, "passno").unwrap_or("0");
    let task = Task {
        state,
        entry: Entry {
            src: escape(src.unwrap_or_default()),
            name: escape(name),
            fstype: escape(fstype.unwrap_or_default()),
            opts: escape(&opts),
            dump: escape(dump),
            passno: escape(passno),
        },
        src,
        fstype,
        opts: opts.clone(),
        fstab,
    };
    let backup = arg_bool(args, "backup", false);
    let mut backup_file = String::new();
    let old = if state == "ephemeral" {
        String::new()
    } else {
        read_fstab(ctx, fstab).await?
    };
    let mounted = mounts(ctx).await?;
    let is_mounted = mounted.contains_key(name);
    let quoted = shell_quote(name);
    let mut changed = false;

    match state {
        "absent_from_fstab" | "absent" => {
            let (new, unset) = unset_entry(&old, name, src);
            changed = unset;
            if changed && !ctx.check_mode {
                backup_file = write_fstab(ctx, fstab, &new, backup).await?;
                if state == "absent" {
                    if is_mounted {
                        task.umount(ctx).await.map_err(|m| {
                            TaskResult::failed(format!("Error unmounting {name}: {m}"))
                        })?;
                    }
                    let line = format!("if [ -e {quoted} ]; then rmdir -- {quoted}; fi");
                    let out = exec(ctx, &line, None).await?;
                    if out.rc != 0 {
                        let err = output_text(&out).trim().to_string();
                        return Err(TaskResult::failed(format!("Error rmdir {name}: {err}")));
                    }
                }
            }
        }
        "unmounted" => {
            if is_mounted {
                if !ctx.check_mode {
                    task.umount(ctx)
                        .await
                        .map_err(|m| TaskResult::failed(format!("Error unmounting {name}: {m}")))?;
                }
                changed = true;
            }
        }
        "present" => {
            let (new, set) = set_entry(&old, &task.entry, src);
            changed = set;
            if changed && !ctx.check_mode {
                backup_file = write_fstab(ctx, fstab, &new, backup).await?;
            }
        }
        "remounted" => {
            if !ctx.check_mode {
                task.remount(ctx).await.map_err(|r| {
                    let m = r.msg.clone().unwrap_or_default();
                    if m.starts_with("Options were specified") {
                        r
                    } else {
                        TaskResult::failed(format!("Error remounting {name}: {m}"))
                    }
                })?;
            }
            changed = true;
        }
        _ => {
            // mounted, ephemeral
            let mut created = Vec::new();
            if !ctx.check_mode {
                created = make_dirs(ctx, name).await?;
            }
            if state != "ephemeral" {
                let (new, set) = set_entry(&old, &task.entry, src);
                changed = set;
                if changed && !ctx.check_mode {
                    backup_file = write_fstab(ctx, fstab, &new, backup).await?;
                }
            }
            let outcome = if is_mounted {
                let mut r = Ok(());
                if changed && !ctx.check_mode {
                    r = task
                        .remount(ctx)
                        .await
                        .map_err(|r| r.msg.unwrap_or_default());
                }
                if state == "ephemeral" {
                    let m = &mounted[name];
                    let wanted = src.unwrap_or_default();
                    if m.source != wanted && m.bind_src != wanted {
                        return Err(TaskResult::failed(
                            "Ephemeral mount point is already mounted with a different source \
                             than the specified one. Failing in order to prevent an unwanted \
                             unmount or override operation. Try replacing this command with a \
                             \"state: unmounted\" followed by a \"state: ephemeral\", or use a \
                             different destination path.",
                        ));
                    }
                    changed = true;
                    if !ctx.check_mode {
                        r = task
                            .remount(ctx)
                            .await
                            .map_err(|r| r.msg.unwrap_or_default());
                    }
                }
                r
            } else {
                changed = true;
                if ctx.check_mode {
                    Ok(())
                } else {
                    task.mount(ctx).await
                }
            };
            if let Err(msg) = outcome {
                // A broken fstab entry could stop the next boot: undo.
                if state != "ephemeral" {
                    let _ = write_fstab(ctx, fstab, &old, false).await;
                }
                for dir in created.iter().rev() {
                    let _ = exec(ctx, &format!("rmdir -- {}", shell_quote(dir)), None).await;
                }
                return Err(TaskResult::failed(format!("Error mounting {name}: {msg}")));
            }
        }
    }

    let mut result = TaskResult {
        changed,
        ..TaskResult::ok()
    }
    .with("name", name)
    .with("opts", opts)
    .with("dump", dump)
    .with("passno", passno)
    .with("fstab", fstab)
    .with("boot", if boot { "yes" } else { "no" })
    .with("backup_file", backup_file);
    if let Some(src) = src {
        result = result.with("src", src);
    }
    if let Some(fstype) = fstype {
        result = result.with("fstype", fstype);
    }
    if !warnings.is_empty() {
        result = result.with("warnings", warnings);
    }
    if arg_bool(args, "opts_no_log", false) {
        result = result.with("opts", "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER");
    }
    Ok(result)
}

/// `mkdir -p` that says which directories it made, so a failed mount can
/// take them away again.
async fn make_dirs(ctx: &ModuleContext<'_>, path: &str) -> Result<Vec<String>, TaskResult> {
    let mut prefixes = Vec::new();
    let mut cur = String::new();
    for part in path.trim_matches('/').split('/').filter(|p| !p.is_empty()) {
        if path.starts_with('/') || !cur.is_empty() {
            cur.push('/');
        }
        cur.push_str(part);
        prefixes.push(cur.clone());
    }
    let mut script = String::new();
    for dir in &prefixes {
        let q = shell_quote(dir);
        script.push_str(&format!(
            "if [ ! -e {q} ]; then mkdir -- {q} || exit 1; printf '%s\\0' {q}; fi; "
        ));
    }
    let out = exec(ctx, &script, None).await?;
    if out.rc != 0 {
        let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(TaskResult::failed(format!(
            "Error making dir {path}: {err}"
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .split('\0')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::super::remote_file::test_support::*;
    use super::*;
    use serde_json::json;

    fn entry(name: &str) -> Entry {
        Entry {
            src: "tmpfs".into(),
            name: escape(name),
            fstype: "tmpfs".into(),
            opts: "size=1m".into(),
            dump: "0".into(),
            passno: "0".into(),
        }
    }

    #[test]
    fn fstab_entries_are_added_corrected_and_removed() {
        let fstab =
            "# /etc/fstab\nUUID=1 / ext4 errors=remount-ro 0 1\n/dev/sdb1 none swap sw 0 0\n";
        let (text, changed) = set_entry(fstab, &entry("/mnt/a b"), Some("tmpfs"));
        assert!(changed);
        assert!(
            text.ends_with("tmpfs /mnt/a\\040b tmpfs size=1m 0 0\n"),
            "{text}"
        );
        assert_eq!(
            set_entry(&text, &entry("/mnt/a b"), Some("tmpfs")),
            (text.clone(), false)
        );
        // A four-field line is the entry but lacks dump/passno: rewritten.
        let short = "tmpfs /mnt/x tmpfs size=1m\n";
        let (fixed, changed) = set_entry(short, &entry("/mnt/x"), None);
        assert!(changed);
        assert_eq!(fixed, "tmpfs /mnt/x tmpfs size=1m 0 0\n");
        let (back, removed) = unset_entry(&text, "/mnt/a b", None);
        assert!(removed);
        assert_eq!(back, fstab);
        assert!(!unset_entry(fstab, "/mnt/a b", None).1);
        // A swap entry on `none` is another one when its source differs.
        assert!(!unset_entry(fstab, "none", Some("/dev/sdc1")).1);
        assert!(unset_entry(fstab, "none", Some("/dev/sdb1")).1);
        // A last line without newline gets one.
        let (t, _) = set_entry("a /b c d 0 0", &entry("/mnt/x"), None);
        assert!(t.starts_with("a /b c d 0 0\n"));
    }

    #[test]
    fn mountinfo_is_read_as_ansible_reads_it() {
        let info = "22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n\
                    40 22 0:35 / /mnt/t\\040x rw - tmpfs tmpfs rw,size=1024k\n\
                    41 40 0:35 /sub /srv/bound rw - tmpfs tmpfs rw\n";
        let m = parse_mountinfo(info);
        assert_eq!(m["/"].source, "/dev/sda1");
        assert_eq!(m["/mnt/t x"].source, "tmpfs");
        assert_eq!(m["/srv/bound"].bind_src, "/mnt/t x/sub");
        assert_eq!(unescape("a\\040b\\134c"), "a b\\c");
    }

    /// A local fstab only: states that never mount.
    #[tokio::test]
    async fn present_and_absent_edit_a_local_fstab_once() {
        let h = Harness::new(json!({}));
        let fstab = h.path("etc/fstab");
        let a = json!({"path": "/mnt/data", "src": "tmpfs", "fstype": "tmpfs", "opts": "size=1m",
                       "state": "present", "fstab": fstab, "boot": false});
        let r = run(&args(a.clone()), &h.ctx(true, false)).await;
        assert!(r.changed && !r.failed, "{r:?}");
        // As Ansible: the missing fstab is created even in check mode.
        assert_eq!(read_text(&fstab), "");
        let r = h.run_module(&MODULE, a.clone()).await;
        assert!(r.changed, "{r:?}");
        assert_eq!(
            read_text(&fstab),
            "tmpfs /mnt/data tmpfs size=1m,noauto 0 0\n"
        );
        assert_eq!(r.data["opts"], "size=1m,noauto");
        assert!(!h.run_module(&MODULE, a).await.changed);
        let gone = json!({"path": "/mnt/data", "state": "absent_from_fstab", "fstab": fstab});
        assert!(h.run_module(&MODULE, gone.clone()).await.changed);
        assert_eq!(read_text(&fstab), "");
        assert!(!h.run_module(&MODULE, gone).await.changed);
        let r = h
            .run_module(&MODULE, json!({"path": "/x", "state": "mounted"}))
            .await;
        assert_eq!(
            r.msg.as_deref(),
            Some("state is mounted but all of the following are missing: src, fstype")
        );
    }
}
