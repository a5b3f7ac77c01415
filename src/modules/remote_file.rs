//! Files on the host, with nothing but a POSIX shell and coreutils there.
//!
//! Two building blocks shared by `copy`, `template`, `lineinfile`, `file`
//! and `stat`, each one `exec` (one round trip):
//! - [`probe`]: what a path is (type, mode, owner, size, sha1, link target,
//!   optionally its content), as `key=value` lines a small script prints;
//! - [`upload`]: bytes to a path, atomically (a temp file beside the
//!   destination, then `mv -f`), with mode/owner/group, optional backup and
//!   validation; it prints the new file's stat so no second probe is needed.
//!
//! Every host path reaches the shell through [`shell_quote`] and is then only
//! ever used as `"$p"`, so no name can become code.

use super::{ModuleContext, TaskResult};
use crate::connection::ExecOutput;
use crate::core::shell_quote;
use serde_json::{Map, Value as Json};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Marks where the file content starts in a probe's output.
const CONTENT_MARK: &[u8] = b"--rollout-content--\n";

/// Ansible's limit for showing a file in a diff.
pub const DIFF_MAX_BYTES: usize = 104_448;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FileKind {
    #[default]
    Absent,
    File,
    Directory,
    Link,
    Char,
    Block,
    Fifo,
    Socket,
    Other,
}

impl FileKind {
    /// The word Ansible uses for `state` in results.
    pub fn state(self) -> &'static str {
        match self {
            FileKind::Absent => "absent",
            FileKind::File => "file",
            FileKind::Directory => "directory",
            FileKind::Link => "link",
            _ => "file",
        }
    }

    fn from_code(code: &str) -> FileKind {
        match code {
            "-" => FileKind::Absent,
            "f" => FileKind::File,
            "d" => FileKind::Directory,
            "l" => FileKind::Link,
            "c" => FileKind::Char,
            "b" => FileKind::Block,
            "p" => FileKind::Fifo,
            "s" => FileKind::Socket,
            _ => FileKind::Other,
        }
    }
}

/// What to ask about a path.
#[derive(Debug, Clone, Default)]
pub struct ProbeRequest<'a> {
    pub path: &'a str,
    /// Describe a symlink's target rather than the link.
    pub follow: bool,
    /// sha1 of a regular file.
    pub checksum: bool,
    /// Return a regular file's bytes, at most this many (`None`: none;
    /// `usize::MAX`: all of it).
    pub content_limit: Option<usize>,
    /// When `path` is a directory, describe `path/<name>` instead (`copy`
    /// into a directory), in the same round trip.
    pub into_dir: Option<&'a str>,
    /// A second path: whether it exists and is the same file as `path`.
    pub other: Option<&'a str>,
}

/// A path as the host sees it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Probe {
    /// The path described (`path/<name>` when `into_dir` applied).
    pub path: String,
    pub kind: FileKind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub owner: String,
    pub group: String,
    pub size: u64,
    pub mtime: Option<i64>,
    pub atime: Option<i64>,
    pub ctime: Option<i64>,
    pub inode: Option<u64>,
    pub dev: Option<u64>,
    pub nlink: Option<u64>,
    pub readable: bool,
    pub writeable: bool,
    pub executable: bool,
    pub checksum: Option<String>,
    pub lnk_target: Option<String>,
    /// The file's bytes, when asked for and it is a regular file.
    pub content: Option<Vec<u8>>,
    /// The content was cut at the limit.
    pub content_truncated: bool,
    pub other_exists: bool,
    pub same_as_other: bool,
}

impl Probe {
    pub fn exists(&self) -> bool {
        self.kind != FileKind::Absent
    }
}

/// Runs a command line, turning transport errors into results.
pub async fn exec(
    ctx: &ModuleContext<'_>,
    cmd: &str,
    stdin: Option<&[u8]>,
) -> Result<ExecOutput, TaskResult> {
    ctx.conn
        .exec(cmd, stdin)
        .await
        .map_err(TaskResult::from_connection)
}

/// Like [`exec`], but a non-zero exit fails with the command's stderr.
pub async fn exec_ok(
    ctx: &ModuleContext<'_>,
    cmd: &str,
    stdin: Option<&[u8]>,
    what: &str,
) -> Result<ExecOutput, TaskResult> {
    let out = exec(ctx, cmd, stdin).await?;
    if out.rc != 0 {
        let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
        let detail = if err.is_empty() {
            format!("exit code {}", out.rc)
        } else {
            err
        };
        return Err(TaskResult::failed(format!("{what} failed: {detail}")).with("rc", out.rc));
    }
    Ok(out)
}

/// Describes a path in one round trip.
pub async fn probe(ctx: &ModuleContext<'_>, req: &ProbeRequest<'_>) -> Result<Probe, TaskResult> {
    let out = exec_ok(ctx, &probe_script(req), None, "inspecting the path").await?;
    let described = match req.into_dir {
        Some(name) if out.stdout.starts_with(b"into=1\n") => {
            format!("{}/{name}", req.path.strip_suffix('/').unwrap_or(req.path))
        }
        _ => req.path.to_string(),
    };
    let mut probe = parse_probe(&described, &out.stdout);
    let limit = req.content_limit.unwrap_or(usize::MAX);
    if let Some(content) = probe.content.as_mut().filter(|c| c.len() > limit) {
        content.truncate(limit);
        probe.content_truncated = true;
    }
    Ok(probe)
}

fn probe_script(req: &ProbeRequest<'_>) -> String {
    let mut s = format!("p={}\n", shell_quote(req.path));
    if let Some(name) = req.into_dir {
        s.push_str(&format!(
            "if [ -d \"$p\" ]; then p=\"${{p%/}}\"/{}; printf 'into=1\\n'; fi\n",
            shell_quote(name)
        ));
    }
    if let Some(other) = req.other {
        s.push_str(&format!(
            "o={}\nif [ -e \"$o\" ]; then printf 'other=1\\n'; fi\n\
             if [ \"$p\" -ef \"$o\" ]; then printf 'same=1\\n'; fi\n",
            shell_quote(other)
        ));
    }
    s.push_str(&stat_snippet(req.follow));
    if req.checksum {
        s.push_str(&format!(
            "if [ \"$t\" = f ] && [ -r \"$p\" ]; then {SHA1_FN}\n\
             printf 'checksum='; h < \"$p\"; fi\n"
        ));
    }
    if let Some(limit) = req.content_limit {
        // One byte past the limit tells a cut file from one that fits.
        let reader = match limit {
            usize::MAX => "cat --".to_string(),
            n => format!("head -c {} --", n + 1),
        };
        s.push_str(&format!(
            "if [ \"$t\" = f ]; then printf '%s\\n' --rollout-content--; \
             {reader} \"$p\" || exit 1; fi\n"
        ));
    }
    s
}

/// sha1 with whatever the host has (coreutils, BSD/macOS, OpenSSL).
const SHA1_FN: &str = "h() { if command -v sha1sum >/dev/null 2>&1; then sha1sum; \
elif command -v shasum >/dev/null 2>&1; then shasum -a 1; else openssl sha1; fi; }";

/// Shell code that describes `$p` as `key=value` lines and leaves its type
/// code in `$t` (`-` when absent). GNU/BusyBox `stat -c` first, `ls -ld` as
/// the POSIX fallback. The link target is hex-encoded so that any name
/// survives the line format. Each program started costs about a millisecond
/// per host on a busy controller, so the common cases start at most one
/// (`stat`): the tests are builtins and the caller knows the path.
pub fn stat_snippet(follow: bool) -> String {
    let (l, link_test) = if follow {
        ("-L", "false")
    } else {
        ("", "[ -L \"$p\" ]")
    };
    format!(
        r#"if {link_test}; then t=l; elif [ ! -e "$p" ]; then t=-
elif [ -f "$p" ]; then t=f; elif [ -d "$p" ]; then t=d; elif [ -c "$p" ]; then t=c
elif [ -b "$p" ]; then t=b; elif [ -p "$p" ]; then t=p; elif [ -S "$p" ]; then t=s; else t=o; fi
printf 'type=%s\n' "$t"
if [ "$t" != - ]; then
if [ -L "$p" ]; then printf 'lnk=%s\n' "$(printf '%s' "$(readlink -- "$p")" | od -An -vtx1 | tr -d ' \n')"; fi
stat {l} -c 'stat=%a %u %g %s %Y %X %Z %i %d %h %U %G' -- "$p" 2>/dev/null || {{
printf 'lsn=%s\n' "$(ls -ldn {l} -- "$p" | head -n 1)"; printf 'ls=%s\n' "$(ls -ld {l} -- "$p" | head -n 1)"; }}
if [ -r "$p" ]; then printf 'r=1\n'; fi; if [ -w "$p" ]; then printf 'w=1\n'; fi
if [ -x "$p" ]; then printf 'x=1\n'; fi
fi
"#
    )
}

/// Parses what [`probe_script`] (or [`stat_snippet`]) printed about `path`.
pub fn parse_probe(path: &str, stdout: &[u8]) -> Probe {
    let (head, content) = split_content(stdout);
    let mut probe = Probe {
        path: path.to_string(),
        ..Probe::default()
    };
    for line in String::from_utf8_lossy(head).lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        match key {
            "type" => probe.kind = FileKind::from_code(value),
            "lnk" => probe.lnk_target = Some(unhex(value)),
            "stat" => parse_stat_line(&mut probe, value),
            "lsn" => parse_ls_numeric(&mut probe, value),
            "ls" => parse_ls_names(&mut probe, value),
            "r" => probe.readable = true,
            "w" => probe.writeable = true,
            "x" => probe.executable = true,
            "checksum" => probe.checksum = sha1_digest(value),
            "other" => probe.other_exists = true,
            "same" => probe.same_as_other = true,
            _ => {}
        }
    }
    if probe.kind == FileKind::Absent {
        // `path` was printed, the rest describes nothing.
        probe = Probe {
            path: std::mem::take(&mut probe.path),
            other_exists: probe.other_exists,
            same_as_other: probe.same_as_other,
            ..Probe::default()
        };
    }
    probe.content = content.map(<[u8]>::to_vec);
    probe
}

/// The header lines, and the content after the mark if there is one.
fn split_content(stdout: &[u8]) -> (&[u8], Option<&[u8]>) {
    let mut start = 0;
    while start < stdout.len() {
        let rest = &stdout[start..];
        if rest.starts_with(CONTENT_MARK) {
            return (&stdout[..start], Some(&rest[CONTENT_MARK.len()..]));
        }
        match rest.iter().position(|b| *b == b'\n') {
            Some(i) => start += i + 1,
            None => break,
        }
    }
    (stdout, None)
}

/// The digest in what the host's sha1 tool printed: `<hex>  -` (coreutils,
/// shasum) or `(stdin)= <hex>` / `SHA1(stdin)= <hex>` (OpenSSL).
fn sha1_digest(printed: &str) -> Option<String> {
    let tail = printed.rsplit_once("= ").map_or(printed, |(_, t)| t);
    let digest = tail.split_whitespace().next()?;
    (digest.len() == 40 && digest.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| digest.to_ascii_lowercase())
}

fn unhex(value: &str) -> String {
    let bytes = hex::decode(value.trim()).unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// `%a %u %g %s %Y %X %Z %i %d %h %U %G`.
fn parse_stat_line(probe: &mut Probe, value: &str) {
    let f: Vec<&str> = value.split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|s| s.parse::<i64>().ok());
    probe.mode = f
        .first()
        .and_then(|m| u32::from_str_radix(m, 8).ok())
        .unwrap_or(0);
    probe.uid = num(1).unwrap_or(0) as u32;
    probe.gid = num(2).unwrap_or(0) as u32;
    probe.size = num(3).unwrap_or(0) as u64;
    probe.mtime = num(4);
    probe.atime = num(5);
    probe.ctime = num(6);
    probe.inode = num(7).map(|n| n as u64);
    probe.dev = num(8).map(|n| n as u64);
    probe.nlink = num(9).map(|n| n as u64);
    probe.owner = f.get(10).unwrap_or(&"").to_string();
    probe.group = f.get(11).unwrap_or(&"").to_string();
}

/// `ls -ldn`: `-rw-r--r-- 1 0 0 12 <date> <name>`.
fn parse_ls_numeric(probe: &mut Probe, value: &str) {
    let f: Vec<&str> = value.split_whitespace().collect();
    probe.mode = f.first().map(|m| mode_from_ls(m)).unwrap_or(0);
    probe.nlink = f.get(1).and_then(|s| s.parse().ok());
    probe.uid = f.get(2).and_then(|s| s.parse().ok()).unwrap_or(0);
    probe.gid = f.get(3).and_then(|s| s.parse().ok()).unwrap_or(0);
    probe.size = f.get(4).and_then(|s| s.parse().ok()).unwrap_or(0);
}

/// `ls -ld`: the owner and group names.
fn parse_ls_names(probe: &mut Probe, value: &str) {
    let f: Vec<&str> = value.split_whitespace().collect();
    probe.owner = f.get(2).unwrap_or(&"").to_string();
    probe.group = f.get(3).unwrap_or(&"").to_string();
}

/// `-rwsr-x--T` to `04750`.
pub fn mode_from_ls(s: &str) -> u32 {
    let chars: Vec<char> = s.chars().skip(1).take(9).collect();
    let mut mode = 0;
    for (i, c) in chars.iter().enumerate() {
        let bit = 1 << (8 - i);
        let class = i / 3;
        match (i % 3, c) {
            (_, 'r' | 'w' | 'x') => mode |= bit,
            (2, 's') => mode |= bit | (0o4000 >> class),
            (2, 'S') => mode |= 0o4000 >> class,
            (2, 't') => mode |= bit | 0o1000,
            (2, 'T') => mode |= 0o1000,
            _ => {}
        }
    }
    mode
}

/// How the file a module wants should end up.
#[derive(Debug, Clone, Default)]
pub struct Upload<'a> {
    pub dest: &'a str,
    pub content: &'a [u8],
    /// Octal mode to set (`None`: a new file gets the host's umask default).
    pub mode: Option<u32>,
    pub owner: Option<&'a str>,
    pub group: Option<&'a str>,
    /// When the file exists: its uid/gid, restored on the replacement (best
    /// effort, as Ansible does) unless owner/group are given.
    pub keep_ids: Option<(u32, u32)>,
    /// Copy the old file aside first.
    pub backup: bool,
    /// A command run on the temp file (`%s`) that must succeed.
    pub validate: Option<&'a str>,
    /// Create missing parent directories first (`copy` to `dir/`).
    pub make_parents: bool,
}

/// What an upload left behind.
#[derive(Debug, Clone)]
pub struct Uploaded {
    pub probe: Probe,
    pub backup_file: Option<String>,
}

/// Writes bytes to the host atomically: stdin to a temp file beside `dest`
/// (created exclusively), mode/owner/group on the temp file, validation,
/// backup of the old file, `mv -f`. One round trip; a failure at any step
/// removes the temp file and leaves `dest` untouched.
pub async fn upload(ctx: &ModuleContext<'_>, up: &Upload<'_>) -> Result<Uploaded, TaskResult> {
    let tmp = temp_path(up.dest);
    let backup = up.backup.then(|| backup_path(up.dest));
    let inline = inline_text(up.content);
    let script = upload_script(up, &tmp, backup.as_deref(), inline.as_deref())?;
    let stdin = inline.is_none().then_some(up.content);
    let out = exec_ok(ctx, &script, stdin, "writing the file").await?;
    let probe = parse_probe(up.dest, &out.stdout);
    let backup_file = backup.filter(|_| out.stdout.windows(9).any(|w| w == b"backed=1\n"));
    Ok(Uploaded { probe, backup_file })
}

/// Quoted content small enough to travel inside the script, so the write
/// goes through the persistent shell and needs no `cat`: text without NUL
/// (a shell word cannot hold one), quoted well under the 128 KiB an exec
/// argument may have.
fn inline_text(content: &[u8]) -> Option<String> {
    const INLINE_MAX: usize = 64 * 1024;
    let text = std::str::from_utf8(content).ok()?;
    if text.contains('\0') || text.len() > INLINE_MAX {
        return None;
    }
    Some(shell_quote(text)).filter(|q| q.len() <= INLINE_MAX)
}

fn upload_script(
    up: &Upload<'_>,
    tmp: &str,
    backup: Option<&str>,
    inline: Option<&str>,
) -> Result<String, TaskResult> {
    let mut s = format!(
        "d={}\ntmp={}\nfail() {{ rm -f -- \"$tmp\"; printf '%s\\n' \"$1\" >&2; exit 1; }}\n",
        shell_quote(up.dest),
        shell_quote(tmp)
    );
    if up.make_parents {
        s.push_str("mkdir -p -- \"$(dirname -- \"$d\")\" || exit 1\n");
    }
    // A plain mode (no x, no special bits) comes from the umask alone, as
    // the file is created; any other is set on a file private until then.
    let chmod = match up.mode {
        Some(mode) if mode & !0o666 == 0 => {
            s.push_str(&format!("umask {:o}\n", !mode & 0o777));
            None
        }
        Some(mode) => {
            s.push_str("umask 077\n");
            Some(mode)
        }
        None => None,
    };
    // noclobber, so an existing name (a planted symlink) is never written
    // through.
    let writer = match inline {
        Some(quoted) => format!("printf '%s' {quoted}"),
        None => "cat".to_string(),
    };
    s.push_str(&format!(
        "set -C\n{writer} > \"$tmp\" || {{ printf 'cannot create temp file %s\\n' \"$tmp\" >&2; exit 1; }}\nset +C\n"
    ));
    if let Some(mode) = chmod {
        s.push_str(&format!(
            "chmod {mode:o} -- \"$tmp\" || fail 'chmod failed'\n"
        ));
    }
    s.push_str(&ownership_lines(up));
    if let Some(cmd) = up.validate {
        s.push_str(&format!(
            "{} >&2 || fail 'validation failed: the new content was not written'\n",
            validate_command(cmd)?
        ));
    }
    if let Some(b) = backup {
        s.push_str(&format!(
            "if [ -f \"$d\" ]; then cp -p -- \"$d\" {} || fail 'backup failed'; printf 'backed=1\\n'; fi\n",
            shell_quote(b)
        ));
    }
    s.push_str("mv -f -- \"$tmp\" \"$d\" || fail 'rename into place failed'\np=$d\n");
    s.push_str(&stat_snippet(false));
    Ok(s)
}

fn ownership_lines(up: &Upload<'_>) -> String {
    let mut s = String::new();
    if let Some(o) = up.owner {
        s.push_str(&format!(
            "chown -- {} \"$tmp\" || fail 'chown failed'\n",
            shell_quote(o)
        ));
    }
    if let Some(g) = up.group {
        s.push_str(&format!(
            "chgrp -- {} \"$tmp\" || fail 'chgrp failed'\n",
            shell_quote(g)
        ));
    }
    if let Some((uid, gid)) = up.keep_ids {
        // Only what was not asked for explicitly; silently best effort.
        match (up.owner.is_none(), up.group.is_none()) {
            (true, true) => {
                s.push_str(&format!("chown -- {uid}:{gid} \"$tmp\" 2>/dev/null || :\n"))
            }
            (true, false) => s.push_str(&format!("chown -- {uid} \"$tmp\" 2>/dev/null || :\n")),
            (false, true) => s.push_str(&format!("chgrp -- {gid} \"$tmp\" 2>/dev/null || :\n")),
            (false, false) => {}
        }
    }
    s
}

/// `validate: visudo -cf %s` as quoted words with `%s` the temp file; the
/// command never goes through the shell's word splitting or expansion.
fn validate_command(cmd: &str) -> Result<String, TaskResult> {
    if !cmd.contains("%s") {
        return Err(TaskResult::failed(format!(
            "validate must contain %s: '{cmd}'"
        )));
    }
    let words = super::command::split_words(cmd).map_err(TaskResult::failed)?;
    Ok(words
        .iter()
        .map(|w| {
            w.split("%s")
                .map(shell_quote)
                .collect::<Vec<_>>()
                .join("\"$tmp\"")
        })
        .collect::<Vec<_>>()
        .join(" "))
}

/// A name beside `dest` that no one else will pick.
fn temp_path(dest: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = format!(".rollout.{}.{nanos}.{n}.tmp", std::process::id());
    sibling(dest, &name)
}

/// Ansible's backup name: `dest.PID.YYYY-MM-DD@HH:MM:SS~`.
fn backup_path(dest: &str) -> String {
    let stamp = chrono::Local::now().format("%Y-%m-%d@%H:%M:%S");
    format!("{dest}.{}.{stamp}~", std::process::id())
}

/// `name` in the directory of `path`.
fn sibling(path: &str, name: &str) -> String {
    match Path::new(path).parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(name).display().to_string(),
        _ => name.to_string(),
    }
}

/// Sets mode/owner/group of an existing path in place and describes it
/// afterwards, in one round trip. `no_follow` changes a symlink itself
/// (owner/group only: links have no mode of their own).
pub async fn set_attributes(
    ctx: &ModuleContext<'_>,
    path: &str,
    attrs: &Attributes<'_>,
    no_follow: bool,
) -> Result<Probe, TaskResult> {
    let script = format!(
        "p={}\n{}{}",
        shell_quote(path),
        attribute_commands(attrs, no_follow),
        stat_snippet(false)
    );
    let out = exec_ok(ctx, &script, None, "setting attributes").await?;
    Ok(parse_probe(path, &out.stdout))
}

/// Shell lines setting `attrs` on `$p`; each failure stops the script.
pub fn attribute_commands(attrs: &Attributes<'_>, no_follow: bool) -> String {
    let h = if no_follow { "-h " } else { "" };
    let mut s = String::new();
    if let (Some(mode), false) = (attrs.mode, no_follow) {
        s.push_str(&format!("chmod {mode:o} -- \"$p\" || exit 1\n"));
    }
    if let Some(o) = attrs.owner {
        s.push_str(&format!(
            "chown {h}-- {} \"$p\" || exit 1\n",
            shell_quote(o)
        ));
    }
    if let Some(g) = attrs.group {
        s.push_str(&format!(
            "chgrp {h}-- {} \"$p\" || exit 1\n",
            shell_quote(g)
        ));
    }
    s
}

/// Mode/owner/group a module wants for a path (`None`: leave as is).
#[derive(Debug, Clone, Copy, Default)]
pub struct Attributes<'a> {
    pub mode: Option<u32>,
    pub owner: Option<&'a str>,
    pub group: Option<&'a str>,
}

impl Attributes<'_> {
    /// Whether the path described by `probe` lacks any of these.
    pub fn differ(&self, probe: &Probe) -> bool {
        self.mode.is_some_and(|m| m != probe.mode)
            || owner_differs(self.owner, &probe.owner, probe.uid)
            || owner_differs(self.group, &probe.group, probe.gid)
    }
}

/// The attributes the `mode`, `owner` and `group` arguments ask for, given
/// what the path is now (a symbolic mode builds on the current mode, or on
/// the usual default of a new file or directory).
pub fn wanted_attributes<'a>(
    args: &'a super::Vars,
    probe: &Probe,
    is_dir: bool,
) -> Result<Attributes<'a>, TaskResult> {
    let current = if probe.exists() {
        probe.mode
    } else if is_dir {
        0o755
    } else {
        0o644
    };
    let mode = super::arg_str(args, "mode")
        .map(|spec| super::mode::apply_mode(spec, current, is_dir))
        .transpose()
        .map_err(TaskResult::failed)?;
    Ok(Attributes {
        mode,
        owner: super::arg_str(args, "owner"),
        group: super::arg_str(args, "group"),
    })
}

/// sha1 of bytes, as the host's `sha1sum` prints it.
pub fn sha1_hex(data: &[u8]) -> String {
    use sha1::Digest;
    hex::encode(sha1::Sha1::digest(data))
}

/// The usual result fields for a path (`mode`, `owner`, `size`...).
pub fn add_file_fields(mut result: TaskResult, probe: &Probe) -> TaskResult {
    result = result.with("state", probe.kind.state());
    if !probe.exists() {
        return result;
    }
    result
        .with("mode", super::mode::format_mode(probe.mode))
        .with("uid", probe.uid)
        .with("gid", probe.gid)
        .with("owner", probe.owner.clone())
        .with("group", probe.group.clone())
        .with("size", probe.size)
}

/// Whether `want` (a name or a numeric id) differs from what the path has.
pub fn owner_differs(want: Option<&str>, name: &str, id: u32) -> bool {
    match want {
        None => false,
        Some(w) => w != name && w.parse::<u32>().ok() != Some(id),
    }
}

/// Ansible's `diff` entry for a content change, when both sides are text;
/// binary or oversized sides are flagged instead of shown.
pub fn content_diff(
    before: Option<&[u8]>,
    before_truncated: bool,
    after: &[u8],
    before_header: &str,
    after_header: &str,
) -> Json {
    let mut diff = Map::new();
    diff.insert("before_header".into(), before_header.into());
    diff.insert("after_header".into(), after_header.into());
    match text_side(before.unwrap_or_default(), before_truncated) {
        Ok(text) => diff.insert("before".into(), text.into()),
        Err(flag) => diff.insert(flag.replace("{}", "dst"), Json::Bool(true)),
    };
    match text_side(after, false) {
        Ok(text) => diff.insert("after".into(), text.into()),
        Err(flag) => diff.insert(flag.replace("{}", "src"), Json::Bool(true)),
    };
    Json::Object(diff)
}

fn text_side(bytes: &[u8], truncated: bool) -> Result<String, &'static str> {
    if truncated || bytes.len() > DIFF_MAX_BYTES {
        return Err("{}_larger");
    }
    if bytes.contains(&0) {
        return Err("{}_binary");
    }
    String::from_utf8(bytes.to_vec()).map_err(|_| "{}_binary")
}

#[cfg(test)]
pub(crate) mod test_support {
    //! A [`ModuleContext`] over a real `/bin/sh`, for module tests.

    use super::super::{ModuleContext, Vars};
    use crate::connection::local::LocalConnection;
    use crate::connection::{Connection, ConnectionError, ExecOutput};
    use crate::template::Templar;
    use std::path::Path;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// `/bin/sh`, counting round trips (and those that carried stdin).
    #[derive(Default)]
    pub struct Counting {
        inner: LocalConnection,
        calls: AtomicUsize,
        with_stdin: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl Connection for Counting {
        async fn exec(
            &self,
            command: &str,
            stdin: Option<&[u8]>,
        ) -> Result<ExecOutput, ConnectionError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if stdin.is_some() {
                self.with_stdin.fetch_add(1, Ordering::SeqCst);
            }
            self.inner.exec(command, stdin).await
        }
    }

    pub struct Harness {
        pub conn: Counting,
        pub templar: Templar,
        pub scope: minijinja::Value,
        pub env: Vars,
        pub dir: tempfile::TempDir,
    }

    impl Harness {
        pub fn new(vars: serde_json::Value) -> Self {
            Harness {
                conn: Counting::default(),
                templar: Templar::new(),
                scope: minijinja::Value::from(minijinja::value::Serde(vars)),
                env: Vars::new(),
                dir: tempfile::tempdir().expect("temp dir"),
            }
        }

        pub fn ctx(&self, check_mode: bool, diff: bool) -> ModuleContext<'_> {
            ModuleContext {
                host: "localhost",
                conn: &self.conn,
                templar: &self.templar,
                scope: &self.scope,
                check_mode,
                diff,
                verbosity: 0,
                environment: &self.env,
                base_dir: self.dir.path(),
            }
        }

        /// Round trips since the last call.
        pub fn take_calls(&self) -> usize {
            self.take_calls_and_stdin().0
        }

        /// Round trips since the last call, and how many of them fed stdin
        /// (over SSH: a channel of their own, not the persistent shell).
        pub fn take_calls_and_stdin(&self) -> (usize, usize) {
            let stdin = self.conn.with_stdin.swap(0, Ordering::SeqCst);
            (self.conn.calls.swap(0, Ordering::SeqCst), stdin)
        }

        pub fn path(&self, name: &str) -> String {
            self.dir.path().join(name).display().to_string()
        }

        pub fn base(&self) -> &Path {
            self.dir.path()
        }
    }

    pub fn args(v: serde_json::Value) -> Vars {
        v.as_object().cloned().expect("an object")
    }

    /// A name no shell may ever run: `$(touch x)` and a quote inside.
    pub const NASTY: &str = "we ird'$(touch pwned)`touch pwned2`";

    pub fn assert_not_pwned(dir: &Path) {
        assert!(!dir.join("pwned").exists() && !Path::new("pwned").exists());
        assert!(!dir.join("pwned2").exists() && !Path::new("pwned2").exists());
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;
    use serde_json::json;

    #[test]
    fn ls_modes() {
        assert_eq!(mode_from_ls("-rw-r--r--"), 0o644);
        assert_eq!(mode_from_ls("drwxrwxrwt"), 0o1777);
        assert_eq!(mode_from_ls("-rwsr-S---"), 0o6740);
        assert_eq!(mode_from_ls("-rw-r--r--+"), 0o644);
    }

    #[test]
    fn content_is_split_off() {
        let p = parse_probe(
            "/x",
            b"type=f\nstat=644 0 0 3 1 2 3 4 5 1 root root\n--rollout-content--\nab\n",
        );
        assert_eq!(p.path, "/x");
        assert_eq!(p.kind, FileKind::File);
        assert_eq!(p.mode, 0o644);
        assert_eq!(p.owner, "root");
        assert_eq!(p.content.as_deref(), Some(&b"ab\n"[..]));
    }

    #[test]
    fn sha1_tools_output() {
        let hex = sha1_hex(b"x");
        for printed in [
            format!("{hex}  -"),
            format!("(stdin)= {hex}"),
            format!("SHA1(stdin)= {}", hex.to_uppercase()),
        ] {
            assert_eq!(sha1_digest(&printed).as_deref(), Some(hex.as_str()));
        }
        assert_eq!(sha1_digest(""), None);
        assert_eq!(sha1_digest("sha1sum: -: Input/output error"), None);
    }

    #[tokio::test]
    async fn probes_a_file_and_its_absence() {
        let h = Harness::new(json!({}));
        let path = h.path(NASTY);
        std::fs::write(&path, "hello\n").unwrap();
        let ctx = h.ctx(false, false);
        let req = ProbeRequest {
            path: &path,
            checksum: true,
            content_limit: Some(100),
            ..Default::default()
        };
        let p = probe(&ctx, &req).await.unwrap();
        assert_eq!(p.path, path);
        assert_eq!(p.kind, FileKind::File);
        assert_eq!(p.size, 6);
        assert_eq!(p.checksum.as_deref(), Some(sha1_hex(b"hello\n").as_str()));
        assert_eq!(p.content.as_deref(), Some(&b"hello\n"[..]));
        assert_eq!(p.owner, "root");
        let missing = h.path("missing");
        let req = ProbeRequest {
            path: &missing,
            ..Default::default()
        };
        assert!(!probe(&ctx, &req).await.unwrap().exists());
        assert_not_pwned(h.base());
    }

    #[tokio::test]
    async fn upload_is_atomic_with_mode_and_backup() {
        let h = Harness::new(json!({}));
        let dest = h.path("f.txt");
        std::fs::write(&dest, "old").unwrap();
        let ctx = h.ctx(false, false);
        let up = Upload {
            dest: &dest,
            content: b"new\0bytes",
            mode: Some(0o640),
            backup: true,
            ..Default::default()
        };
        let done = upload(&ctx, &up).await.unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"new\0bytes");
        assert_eq!(done.probe.mode, 0o640);
        let backup = done.backup_file.expect("a backup");
        assert_eq!(std::fs::read(backup).unwrap(), b"old");
        let leftovers: Vec<_> = std::fs::read_dir(h.base())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[tokio::test]
    async fn text_travels_inside_the_script_and_the_rest_on_stdin() {
        let h = Harness::new(json!({}));
        let ctx = h.ctx(false, false);
        // Quotes, expansions, backslashes, no final newline, and every
        // UTF-8 lead and continuation byte (dash keeps its own control
        // codes among 0x81-0x88).
        let text = format!(
            "it's $(touch pwned) `touch pwned2` \\ \\'\n{}end",
            (0x80..0x800).filter_map(char::from_u32).collect::<String>()
        );
        let large = "x".repeat(70 * 1024);
        let cases: [(&str, &[u8], usize); 4] = [
            ("text", text.as_bytes(), 0),
            ("empty", b"", 0),
            ("binary", b"a\0b\xff\n", 1),
            ("large", large.as_bytes(), 1),
        ];
        h.take_calls();
        for (name, content, stdin_calls) in cases {
            let dest = h.path(name);
            let up = Upload {
                dest: &dest,
                content,
                mode: Some(0o600),
                ..Default::default()
            };
            let done = upload(&ctx, &up).await.unwrap();
            assert_eq!(std::fs::read(&dest).unwrap(), content, "{name}");
            assert_eq!(
                (done.probe.mode, done.probe.size),
                (0o600, content.len() as u64)
            );
            assert_eq!(h.take_calls_and_stdin(), (1, stdin_calls), "{name}");
        }
        assert_not_pwned(h.base());
    }

    #[tokio::test]
    async fn modes_beyond_the_umask_are_set_on_the_private_temp_file() {
        let h = Harness::new(json!({}));
        let ctx = h.ctx(false, false);
        for mode in [0o400, 0o664, 0o755, 0o4750, 0o1777, 0o000] {
            let dest = h.path(&format!("m{mode:o}"));
            let up = Upload {
                dest: &dest,
                content: b"m",
                mode: Some(mode),
                ..Default::default()
            };
            let done = upload(&ctx, &up).await.unwrap();
            use std::os::unix::fs::PermissionsExt;
            let on_disk = std::fs::metadata(&dest).unwrap().permissions().mode() & 0o7777;
            assert_eq!((on_disk, done.probe.mode), (mode, mode), "{mode:o}");
        }
    }

    #[tokio::test]
    async fn failed_validation_writes_nothing() {
        let h = Harness::new(json!({}));
        let dest = h.path("f.txt");
        std::fs::write(&dest, "old").unwrap();
        let ctx = h.ctx(false, false);
        let up = Upload {
            dest: &dest,
            content: b"new",
            validate: Some("grep -q nope %s"),
            ..Default::default()
        };
        let err = upload(&ctx, &up).await.unwrap_err();
        assert!(err.failed && err.msg.unwrap().contains("validation failed"));
        assert_eq!(std::fs::read(&dest).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(h.base()).unwrap().count(), 1);
    }
}
