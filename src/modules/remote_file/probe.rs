//! What a path is, in one round trip: a small script prints `key=value`
//! lines (GNU/BusyBox `stat -c`, `ls -ld` as the POSIX fallback) and,
//! when asked, the content after a mark; [`parse_probe`] reads them back.

use super::exec_ok;
use crate::core::shell_quote;
use crate::modules::mode::format_mode;
use crate::modules::{ModuleContext, TaskResult};

/// Marks where the file content starts in a probe's output.
const CONTENT_MARK: &[u8] = b"--rollout-content--\n";

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

    /// Ansible's word for the path (its `get_state`/`add_path_info`): a
    /// file with more than one hard link is `hard`.
    pub fn state(&self) -> &'static str {
        match self.kind {
            FileKind::File if self.nlink.is_some_and(|n| n > 1) => "hard",
            kind => kind.state(),
        }
    }
}

/// Describes a path, following a symlink (no checksum, no content).
pub async fn probe_followed(ctx: &ModuleContext<'_>, path: &str) -> Result<Probe, TaskResult> {
    let req = ProbeRequest {
        path,
        follow: true,
        ..Default::default()
    };
    probe(ctx, &req).await
}

/// Describes a path in one round trip.
/// A file as the editing modules (lineinfile, blockinfile, cron, ...) start
/// from: its state, through symlinks, with its whole content.
pub async fn probe_whole_file(ctx: &ModuleContext<'_>, path: &str) -> Result<Probe, TaskResult> {
    probe(
        ctx,
        &ProbeRequest {
            path,
            follow: true,
            content_limit: Some(usize::MAX),
            ..Default::default()
        },
    )
    .await
}

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
pub const SHA1_FN: &str = "h() { if command -v sha1sum >/dev/null 2>&1; then sha1sum; \
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
    printed_digest(printed, 40)
}

/// A digest of `hex_len` hex digits in what a host's `*sum` tool or
/// `openssl dgst` printed.
pub fn printed_digest(printed: &str, hex_len: usize) -> Option<String> {
    let tail = printed.rsplit_once("= ").map_or(printed, |(_, t)| t);
    let digest = tail.split_whitespace().next()?;
    (digest.len() == hex_len && digest.bytes().all(|b| b.is_ascii_hexdigit()))
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
fn mode_from_ls(s: &str) -> u32 {
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

/// sha1 of bytes, as the host's `sha1sum` prints it.
pub fn sha1_hex(data: &[u8]) -> String {
    use sha1::Digest;
    hex::encode(sha1::Sha1::digest(data))
}

/// The `md5sum` field of copy's and fetch's results.
pub fn md5_hex(data: &[u8]) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(data))
}

/// The usual result fields for a path (`mode`, `owner`, `size`...).
pub fn add_file_fields(mut result: TaskResult, probe: &Probe) -> TaskResult {
    result = result.with("state", probe.state());
    if !probe.exists() {
        return result;
    }
    result
        .with("mode", format_mode(probe.mode))
        .with("uid", probe.uid)
        .with("gid", probe.gid)
        .with("owner", probe.owner.clone())
        .with("group", probe.group.clone())
        .with("size", probe.size)
}

/// As every Ansible module whose result has a `path`: the path's `state`
/// (which replaces the parameter), mode, owner and size.
pub async fn add_path_info(
    ctx: &ModuleContext<'_>,
    result: TaskResult,
    path: &str,
) -> Result<TaskResult, TaskResult> {
    let found = probe(
        ctx,
        &ProbeRequest {
            path,
            ..Default::default()
        },
    )
    .await?;
    Ok(add_file_fields(result, &found))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote_file::test_support::*;
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
}
