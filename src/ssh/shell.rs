//! A persistent remote `/bin/sh` per connection: commands are written to its
//! stdin and their output is delimited by a random token, which saves sshd
//! creating a session (a fork and a login shell) for every command.
//!
//! Each command still runs in its own `/bin/sh -c` child with stdin from
//! /dev/null, so `exit`, `cd` or a syntax error cannot disturb the shell.
//! Commands with stdin use a channel of their own instead.

use crate::connection::ExecOutput;
use crate::connection::output::Capped;
use crate::core::shell_quote;
use russh::client::{Handle, Msg};
use russh::{ChannelMsg, ChannelReadHalf, ChannelWriteHalf};
use std::hash::{BuildHasher, Hasher};

pub(crate) struct PersistentShell {
    reader: ChannelReadHalf,
    writer: ChannelWriteHalf<Msg>,
    /// Set while a command runs: if its future is dropped midway, the
    /// shell's output is out of step and it must not be reused.
    busy: bool,
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
        let mut shell = PersistentShell {
            reader,
            writer,
            busy: false,
        };
        // Swallows anything the login shell prints before our first command.
        shell.run(":").await.map_err(|_| russh::Error::Disconnect)?;
        Ok(shell)
    }

    pub(crate) fn is_reusable(&self) -> bool {
        !self.busy
    }

    pub(crate) async fn close(self) {
        let _ = self.writer.eof().await;
        let _ = self.writer.close().await;
    }

    pub(crate) async fn run(&mut self, command: &str) -> Result<ExecOutput, ShellDied> {
        self.busy = true;
        let token = random_token();
        let script = format!(
            "/bin/sh -c {} </dev/null; printf '{token}:%d\\n' $?; printf '{token}\\n' >&2\n",
            shell_quote(command)
        );
        self.writer
            .data_bytes(bytes::Bytes::from(script))
            .await
            .map_err(|_| ShellDied)?;
        let status_mark = format!("{token}:");
        let stderr_mark = format!("{token}\n");
        let (mut stdout, mut stderr) = (Capped::new(), Capped::new());
        let (mut rc, mut stderr_end) = (None, None);
        while rc.is_none() || stderr_end.is_none() {
            match self.reader.wait().await {
                Some(ChannelMsg::Data { data }) => {
                    let from = stdout.len().saturating_sub(status_mark.len() + 12);
                    stdout.push(&data);
                    if rc.is_none() {
                        rc = find_status(&stdout, from, status_mark.as_bytes());
                    }
                }
                Some(ChannelMsg::ExtendedData { data, ext: 1 }) => {
                    let from = stderr.len().saturating_sub(stderr_mark.len());
                    stderr.push(&data);
                    if stderr_end.is_none() {
                        stderr_end = find(&stderr, from, stderr_mark.as_bytes());
                    }
                }
                Some(ChannelMsg::Eof | ChannelMsg::Close | ChannelMsg::ExitStatus { .. })
                | Some(ChannelMsg::ExitSignal { .. })
                | None => return Err(ShellDied),
                Some(_) => {}
            }
        }
        let (Some((end, rc)), Some(stderr_end)) = (rc, stderr_end) else {
            return Err(ShellDied);
        };
        let (stdout, stdout_truncated) = stdout.finish(end);
        let (stderr, stderr_truncated) = stderr.finish(stderr_end);
        self.busy = false;
        Ok(ExecOutput {
            rc,
            stdout,
            stderr,
            stdout_truncated,
            stderr_truncated,
        })
    }
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
