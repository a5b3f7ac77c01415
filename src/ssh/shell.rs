//! A persistent remote `/bin/sh` per connection: commands are written to its
//! stdin and their output is delimited by a random token, which saves sshd
//! creating a session (a fork and a login shell) for every command.
//!
//! Each command still runs in its own `/bin/sh -c` child with stdin from
//! /dev/null, so `exit`, `cd` or a syntax error cannot disturb the shell.
//! Its stdout and stderr go to files of its own in a private directory,
//! relayed once it ends: a background process it leaves behind (`nohup
//! worker &`) keeps writing into that command's files, never into the
//! channel that later commands' output travels on. Commands with stdin use
//! a channel of their own instead.

use crate::connection::ExecOutput;
use crate::connection::output::{Capped, OUTPUT_CAP};
use crate::core::shell_quote;
use russh::client::{Handle, Msg};
use russh::{ChannelMsg, ChannelReadHalf, ChannelWriteHalf};
use std::hash::{BuildHasher, Hasher};

/// The spool directory (0700, removed when the shell exits) is made first;
/// without it the shell exits and the connection falls back to channels.
const SETUP: &str = "d=$(mktemp -d \"${TMPDIR:-/tmp}/rollout-out.XXXXXX\") || exit 1; \
                     trap 'rm -rf \"$d\"' EXIT; trap 'exit 129' HUP; trap 'exit 143' TERM\n";

/// Output files are removed in batches (one `rm` every this many commands),
/// so that a command costs no process beyond its own unless it printed.
const SPOOL_BATCH: u32 = 64;

pub(crate) struct PersistentShell {
    reader: ChannelReadHalf,
    writer: ChannelWriteHalf<Msg>,
    /// Set while a command runs: if its future is dropped midway, the
    /// shell's output is out of step and it must not be reused.
    busy: bool,
    /// The PID on the host of the command running (or abandoned midway).
    running: Option<u32>,
    /// Commands whose output files have not been removed yet.
    spooled: u32,
}

/// The shell's channel ended: the shell died or the connection is gone.
pub(crate) struct ShellDied;

impl PersistentShell {
    pub(crate) async fn start<H: russh::client::Handler>(
        handle: &Handle<H>,
    ) -> Result<Self, russh::Error> {
        let channel = handle.channel_open_session().await?;
        channel.exec(false, "exec /bin/sh").await?;
        let (reader, writer) = channel.split();
        writer
            .data_bytes(bytes::Bytes::from_static(SETUP.as_bytes()))
            .await?;
        let mut shell = PersistentShell {
            reader,
            writer,
            busy: false,
            running: None,
            spooled: 0,
        };
        // Swallows anything the login shell prints before our first command.
        shell.run(":").await.map_err(|_| russh::Error::Disconnect)?;
        Ok(shell)
    }

    pub(crate) fn is_reusable(&self) -> bool {
        !self.busy
    }

    /// The host PID of a command whose caller gave up on it (a task
    /// timeout), so that it can be killed.
    pub(crate) fn abandoned(&self) -> Option<u32> {
        self.running.filter(|_| self.busy)
    }

    pub(crate) async fn close(self) {
        let _ = self.writer.eof().await;
        let _ = self.writer.close().await;
    }

    pub(crate) async fn run(&mut self, command: &str) -> Result<ExecOutput, ShellDied> {
        self.busy = true;
        self.running = None;
        let token = random_token();
        let script = self.script(command, &token);
        self.writer
            .data_bytes(bytes::Bytes::from(script))
            .await
            .map_err(|_| ShellDied)?;
        let pid_mark = format!("{token}!");
        let status_mark = format!("{token}:");
        let (mut relayed, mut shell_stderr) = (Vec::new(), Vec::new());
        let status = loop {
            match self.reader.wait().await {
                Some(ChannelMsg::Data { data }) => {
                    let from = relayed.len().saturating_sub(status_mark.len() + 12);
                    relayed.extend_from_slice(&data);
                    if self.running.is_none() {
                        self.running = find_status(&relayed, 0, pid_mark.as_bytes())
                            .and_then(|(_, pid)| u32::try_from(pid).ok());
                    }
                    if let Some(found) = find_status(&relayed, from, status_mark.as_bytes()) {
                        break found;
                    }
                }
                // Only the shell's own complaints (a spool file it cannot
                // create): the command's stderr is in its file.
                Some(ChannelMsg::ExtendedData { data, ext: 1 }) => {
                    shell_stderr.extend_from_slice(&data)
                }
                Some(ChannelMsg::Eof | ChannelMsg::Close | ChannelMsg::ExitStatus { .. })
                | Some(ChannelMsg::ExitSignal { .. })
                | None => return Err(ShellDied),
                Some(_) => {}
            }
        };
        let (end, rc) = status;
        let body = relayed
            .iter()
            .position(|&b| b == b'\n')
            .map_or(&relayed[..0], |newline| &relayed[newline + 1..end]);
        let separator = format!("{token}|");
        let split = find(body, 0, separator.as_bytes()).ok_or(ShellDied)?;
        let (stdout, stdout_truncated) = capped(&body[..split]);
        let mut stderr = shell_stderr;
        stderr.extend_from_slice(&body[split + separator.len()..]);
        let (stderr, stderr_truncated) = capped(&stderr);
        self.busy = false;
        self.running = None;
        Ok(ExecOutput {
            rc,
            stdout,
            stderr,
            stdout_truncated,
            stderr_truncated,
        })
    }

    /// The line that runs `command` with its output spooled to its own
    /// files: `TOKEN!pid`, then its stdout, `TOKEN|`, its stderr, and
    /// `TOKEN:status`. Each stream is relayed up to one byte past the cap
    /// (so a cut shows), by a `head` that runs only when it printed.
    fn script(&mut self, command: &str, token: &str) -> String {
        let cleanup = if self.spooled >= SPOOL_BATCH {
            self.spooled = 0;
            "rm -f \"$d\"/*; "
        } else {
            ""
        };
        self.spooled += 1;
        let n = self.spooled;
        let (out, err) = (format!("\"$d/{n}.o\""), format!("\"$d/{n}.e\""));
        format!(
            "{cleanup}/bin/sh -c {} </dev/null >{out} 2>{err} & printf '{token}!%d\\n' $!; wait $!; r=$?; \
             [ -s {out} ] && head -c {keep} {out}; printf %s '{token}|'; \
             [ -s {err} ] && head -c {keep} {err}; printf '{token}:%d\\n' \"$r\"\n",
            shell_quote(command),
            keep = OUTPUT_CAP + 1,
        )
    }
}

/// One relayed stream, cut at the cap, and whether it was.
fn capped(bytes: &[u8]) -> (Vec<u8>, bool) {
    let mut kept = Capped::new();
    kept.push(bytes);
    kept.finish_all()
}

/// Where `mark` starts in `buf`, searching from `from`.
fn find(buf: &[u8], from: usize, mark: &[u8]) -> Option<usize> {
    buf.get(from..)?
        .windows(mark.len())
        .position(|w| w == mark)
        .map(|p| p + from)
}

/// `(start of the mark, status)` once `mark` followed by `digits\n` is in.
fn find_status(buf: &[u8], from: usize, mark: &[u8]) -> Option<(usize, i32)> {
    let start = find(buf, from, mark)?;
    let rest = &buf[start + mark.len()..];
    let newline = rest.iter().position(|&b| b == b'\n')?;
    let rc = std::str::from_utf8(&rest[..newline]).ok()?.parse().ok()?;
    Some((start, rc))
}

/// 128 random bits as hex, from the std hasher's per-process random keys.
fn random_token() -> String {
    let state = std::collections::hash_map::RandomState::new();
    let mut parts = [0u64; 2];
    for (i, part) in parts.iter_mut().enumerate() {
        let mut hasher = state.build_hasher();
        hasher.write_usize(i);
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        *part = hasher.finish();
    }
    format!("__rollout_{:016x}{:016x}", parts[0], parts[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers() {
        assert_eq!(find_status(b"out__t:3\n", 0, b"__t:"), Some((3, 3)));
        assert_eq!(
            find_status(b"out__t:3", 0, b"__t:"),
            None,
            "incomplete status line"
        );
        assert_eq!(find(b"err__t\n", 2, b"__t\n"), Some(3));
        assert_ne!(random_token(), random_token());
    }
}
