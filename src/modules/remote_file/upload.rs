//! Writing bytes to a path atomically: a temp file beside the destination
//! (created exclusively), its attributes, validation, backup, `mv -f`.

use super::{Probe, exec, parse_probe, stat_snippet, succeeded};
use crate::core::shell_quote;
use crate::modules::command::split_words;
use crate::modules::{ModuleContext, TaskResult};
use std::sync::atomic::{AtomicU64, Ordering};

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
    /// When `dest` is a symlink, write its target and keep the link
    /// (Ansible's realpath in lineinfile, `follow: true` in copy/template);
    /// otherwise the new file replaces the link.
    pub follow: bool,
    /// The content is already on the host, in this temp file beside the
    /// file really written (created private, under umask 077, by a streamed
    /// download): it gets its attributes and is renamed into place.
    pub staged: Option<&'a str>,
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
    let tmp = temp_name();
    let backup = up.backup.then(|| backup_path(up.dest));
    let inline = up
        .staged
        .is_none()
        .then(|| inline_text(up.content))
        .flatten();
    let script = upload_script(up, &tmp, backup.as_deref(), inline.as_deref())?;
    let stdin = (inline.is_none() && up.staged.is_none()).then_some(up.content);
    let out = exec(ctx, &script, stdin).await?;
    if let Some(refused) = validation_failure(&out) {
        return Err(refused);
    }
    let out = succeeded(out, "writing the file")?;
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
    let mut s = format!("d={}\n", shell_quote(up.dest));
    if up.follow {
        s.push_str(
            "if [ -L \"$d\" ]; then d=$(readlink -f -- \"$d\") && [ -n \"$d\" ] || { printf 'cannot resolve the link\\n' >&2; exit 1; }; fi\n",
        );
    }
    // The temp file sits beside the file really written, so `mv` is a rename.
    let tmp_line = match up.staged {
        Some(staged) => format!("tmp={}", shell_quote(staged)),
        None => format!("tmp=$(dirname -- \"$d\")/{}", shell_quote(tmp)),
    };
    s.push_str(&format!(
        "{tmp_line}\nfail() {{ rm -f -- \"$tmp\"; printf '%s\\n' \"$1\" >&2; exit 1; }}\n"
    ));
    let chmod = match up.staged {
        // Created private: the mode asked for, else a new file's default.
        Some(_) => Some(
            up.mode
                .map_or(DEFAULT_MODE.to_string(), |m| format!("{m:o}")),
        ),
        None => write_lines(up, inline, &mut s),
    };
    s.push_str(&ownership_lines(up));
    // After owner and group, which clear setuid/setgid bits.
    if let Some(mode) = chmod {
        s.push_str(&format!(
            "chmod {mode} -- \"$tmp\" || fail 'chmod failed'\n"
        ));
    }
    if let Some(cmd) = up.validate {
        // Nothing is on stdout yet: the validator's own output is, then its
        // exit code on stderr's last line.
        s.push_str(&format!(
            "{} || {{ v=$?; rm -f -- \"$tmp\"; printf '{VALIDATE_MARK}%s\\n' \"$v\" >&2; exit {VALIDATE_EXIT}; }}\n",
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

/// How the upload script reports that `validate` refused the content.
const VALIDATE_MARK: &str = "rollout-validate-rc=";
const VALIDATE_EXIT: i32 = 97;

/// Ansible's (copy's) result for content its `validate` command refused:
/// `failed to validate`, with the command's exit status and output.
fn validation_failure(out: &crate::connection::ExecOutput) -> Option<TaskResult> {
    if out.rc != VALIDATE_EXIT {
        return None;
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let (err, rc) = stderr.rsplit_once(VALIDATE_MARK)?;
    let rc: i64 = rc.trim().parse().ok()?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines = |s: &str| serde_json::json!(s.lines().collect::<Vec<_>>());
    Some(
        TaskResult::failed("failed to validate")
            .with("exit_status", rc)
            .with("stdout_lines", lines(&stdout))
            .with("stdout", stdout)
            .with("stderr_lines", lines(err))
            .with("stderr", err),
    )
}

/// A new file's mode under the host's umask, for a file created private.
const DEFAULT_MODE: &str = "\"$(printf %o $((0666 & ~0$(umask))))\"";

/// The lines that write the content to `$tmp` (created exclusively), and
/// the mode still to set on it afterwards.
fn write_lines(up: &Upload<'_>, inline: Option<&str>, s: &mut String) -> Option<String> {
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
            Some(format!("{mode:o}"))
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
    chmod
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
            "validate must contain %s: {cmd}"
        )));
    }
    let words = split_words(cmd).map_err(TaskResult::failed)?;
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

/// A temp file name no one else will pick (placed beside the destination).
pub fn temp_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(".rollout.{}.{nanos}.{n}.tmp", std::process::id())
}

/// Ansible's backup name: `dest.PID.YYYY-MM-DD@HH:MM:SS~`.
pub fn backup_path(dest: &str) -> String {
    let stamp = chrono::Local::now().format("%Y-%m-%d@%H:%M:%S");
    format!("{dest}.{}.{stamp}~", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote_file::test_support::*;
    use serde_json::json;

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
        assert!(err.failed);
        assert_eq!(err.msg.as_deref(), Some("failed to validate"));
        assert_eq!(err.data["exit_status"], 1);
        assert_eq!(std::fs::read(&dest).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(h.base()).unwrap().count(), 1);
    }

    #[tokio::test]
    async fn a_refusing_validator_gives_its_status_and_output() {
        let h = Harness::new(json!({}));
        let dest = h.path("f.txt");
        let ctx = h.ctx(false, false);
        let up = Upload {
            dest: &dest,
            content: b"new",
            validate: Some("sh -c 'echo out; echo err >&2; exit 3' %s"),
            ..Default::default()
        };
        let err = upload(&ctx, &up).await.unwrap_err();
        assert_eq!(err.msg.as_deref(), Some("failed to validate"));
        assert_eq!(err.data["exit_status"], 3);
        assert_eq!(err.data["stdout"], "out\n");
        assert_eq!(err.data["stderr"], "err\n");
        assert_eq!(err.data["stderr_lines"], json!(["err"]));
        assert!(!std::path::Path::new(&dest).exists());
        let missing = Upload {
            validate: Some("true"),
            ..up
        };
        let err = upload(&ctx, &missing).await.unwrap_err();
        assert_eq!(err.msg.as_deref(), Some("validate must contain %s: true"));
    }
}
