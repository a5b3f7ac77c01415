//! `become`: every command of a task runs under sudo (or su) as another user.
//!
//! A wrapper around any connection, so modules stay unaware of privilege:
//! they build their command lines and this wraps each in
//! `sudo -n -H -u USER -- /bin/sh -c '…'`. A password travels as the first
//! line of stdin, never on a command line (which `ps` shows), and only to a
//! sudo that asks for it: sudo reads that line only when it prompts, so on
//! a host that needs no password (NOPASSWD) the command would read it.
//!
//! su reads its password from the terminal only: the command runs on one
//! ([`Connection::exec_on_terminal`]), the password is typed at su's
//! prompt, and the command announces itself with a marker line before it
//! runs, so nothing of the login reaches its output. The terminal is then
//! made raw (no echo, no line editing) and the command reads exactly the
//! input's length from it. A terminal has one output: stderr comes back
//! within stdout.

use super::{BoxStream, Connection, ConnectionError, ExecOutput, InputStream, TerminalLogin};
use crate::core::shell_quote;
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Arc;

pub struct Become {
    inner: Arc<dyn Connection>,
    user: String,
    password: Option<String>,
    asks: SudoAsks,
    method: Method,
}

/// How privilege is had: `become_method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    #[default]
    Sudo,
    Su,
}

impl Method {
    pub fn parse(name: &str) -> Option<Method> {
        match name {
            "sudo" => Some(Method::Sudo),
            "su" => Some(Method::Su),
            _ => None,
        }
    }
}

/// Whether sudo asks for a password on one host, per become user: probed
/// once (`sudo -k -n … true`) and shared by every task on that host.
#[derive(Clone, Default)]
pub struct SudoAsks(Arc<tokio::sync::Mutex<HashMap<String, bool>>>);

impl Become {
    pub fn new(
        inner: Arc<dyn Connection>,
        user: String,
        password: Option<String>,
        asks: SudoAsks,
    ) -> Self {
        Become {
            inner,
            user,
            password,
            asks,
            method: Method::Sudo,
        }
    }

    pub fn with_method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }

    /// Runs `command` as the user through su, on a terminal.
    async fn exec_su(
        &self,
        command: &str,
        stdin: Option<&[u8]>,
    ) -> Result<ExecOutput, ConnectionError> {
        let password = self.password.as_deref().ok_or_else(|| {
            ConnectionError::Failed(format!(
                "su needs the password of '{}': run with --ask-become-pass (-K) or set ansible_become_password",
                self.user
            ))
        })?;
        let marker = su_marker();
        let line = wrap_su(command, &self.user, &marker, stdin.map(<[u8]>::len));
        let login = TerminalLogin {
            password,
            marker: &marker,
            input: stdin,
        };
        self.inner
            .exec_on_terminal(&line, login)
            .await
            .map_err(|e| match e {
                ConnectionError::Failed(why) => {
                    ConnectionError::Failed(format!("su could not become '{}': {why}", self.user))
                }
                other => other,
            })
    }

    /// The password to send, if sudo will ask for it.
    async fn password_for_sudo(&self) -> Result<Option<&str>, ConnectionError> {
        let Some(password) = self.password.as_deref() else {
            return Ok(None);
        };
        // Held across the probe so concurrent tasks probe only once.
        let mut known = self.asks.0.lock().await;
        let asks = match known.get(&self.user) {
            Some(&asks) => asks,
            None => {
                let probe = self.inner.exec(&probe_command(&self.user), None).await?;
                // Any refusal means "send it": a sudo that fails for another
                // reason (no such user) stops before reading stdin.
                let asks = probe.rc != 0;
                known.insert(self.user.clone(), asks);
                asks
            }
        };
        Ok(asks.then_some(password))
    }

    /// The output, unless sudo refused to run the command.
    fn refused(&self, out: ExecOutput, sent_password: bool) -> Result<ExecOutput, ConnectionError> {
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.rc == 1 && stderr.contains("a password is required") {
            return Err(ConnectionError::Failed(format!(
                "sudo needs a password to become '{}': run with --ask-become-pass (-K) or set ansible_become_password",
                self.user
            )));
        }
        if out.rc == 1 && sent_password && stderr.contains("incorrect password attempt") {
            return Err(ConnectionError::Failed(format!(
                "sudo did not accept the become password for '{}': check --ask-become-pass (-K) or ansible_become_password",
                self.user
            )));
        }
        Ok(out)
    }
}

/// Succeeds only when sudo runs commands as `user` without any password:
/// `-k` ignores cached credentials, so the answer cannot expire.
fn probe_command(user: &str) -> String {
    format!(
        "sudo -k -n -H -u {} -- /bin/sh -c true </dev/null >/dev/null 2>&1",
        shell_quote(user)
    )
}

#[async_trait]
impl Connection for Become {
    async fn exec(
        &self,
        command: &str,
        stdin: Option<&[u8]>,
    ) -> Result<ExecOutput, ConnectionError> {
        if self.method == Method::Su {
            return self.exec_su(command, stdin).await;
        }
        let password = self.password_for_sudo().await?;
        let (wrapped, prefix) = wrap_become(command, &self.user, password);
        let input = become_stdin(prefix, stdin);
        let out = self.inner.exec(&wrapped, input.as_deref()).await?;
        self.refused(out, password.is_some())
    }

    async fn exec_streaming(
        &self,
        command: &str,
        stdin: InputStream,
    ) -> Result<ExecOutput, ConnectionError> {
        use tokio::io::AsyncReadExt;
        if self.method == Method::Su {
            return Err(ConnectionError::Failed(
                "become_method su cannot stream input to a command; use sudo for this task".into(),
            ));
        }
        let password = self.password_for_sudo().await?;
        let (wrapped, prefix) = wrap_become(command, &self.user, password);
        let input = std::io::Cursor::new(prefix.unwrap_or_default()).chain(stdin);
        let out = self.inner.exec_streaming(&wrapped, Box::new(input)).await?;
        self.refused(out, password.is_some())
    }

    // Forwarded streams are not commands: privilege does not apply.
    async fn open_tcp(&self, host: &str, port: u16) -> Result<BoxStream, ConnectionError> {
        self.inner.open_tcp(host, port).await
    }

    async fn open_unix(&self, path: &str) -> Result<BoxStream, ConnectionError> {
        self.inner.open_unix(path).await
    }

    async fn reset(&self) {
        self.inner.reset().await
    }
}

/// Wraps `command` to run as `become_user` through `sudo`.
///
/// Returns the new command line and, with a password, the bytes to send
/// before the command's own stdin. sudo only reads that line when it asks
/// for a password: pass one only where [`probe_command`] failed (`-k` makes
/// sudo ask every time, even with cached credentials).
pub fn wrap_become(
    command: &str,
    become_user: &str,
    password: Option<&str>,
) -> (String, Option<Vec<u8>>) {
    let tail = format!(
        "-H -u {} -- /bin/sh -c {}",
        shell_quote(become_user),
        shell_quote(command)
    );
    match password {
        // `-p ''` keeps sudo's prompt out of the command's stderr.
        Some(password) => (
            format!("sudo -k -S -p '' {tail}"),
            Some(format!("{password}\n").into_bytes()),
        ),
        // `-n` fails at once instead of waiting for a password nobody types.
        None => (format!("sudo -n {tail}"), None),
    }
}

/// `su USER -c …`: once su has let the user in, the terminal goes raw and
/// silent, the marker line says the command starts, and the command reads
/// exactly `input_len` bytes (the terminal never signals an end of input),
/// or nothing.
pub fn wrap_su(command: &str, user: &str, marker: &str, input_len: Option<usize>) -> String {
    let body = match input_len {
        Some(n) => format!("head -c {n} | /bin/sh -c {}", shell_quote(command)),
        None => format!("/bin/sh -c {} </dev/null", shell_quote(command)),
    };
    let inner = format!("stty raw -echo 2>/dev/null; echo {marker}; {body}");
    format!("su {} -c {}", shell_quote(user), shell_quote(&inner))
}

/// A line no command prints by chance.
fn su_marker() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "ROLLOUT-BECOME-SUCCESS-{}-{nanos:x}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Joins the password line (if any) and the command's stdin.
pub fn become_stdin(prefix: Option<Vec<u8>>, stdin: Option<&[u8]>) -> Option<Vec<u8>> {
    match (prefix, stdin) {
        (None, None) => None,
        (prefix, stdin) => {
            let mut all = prefix.unwrap_or_default();
            all.extend_from_slice(stdin.unwrap_or_default());
            Some(all)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_password() {
        let (cmd, stdin) = wrap_become("echo 'hi'; id", "root", None);
        assert_eq!(
            cmd,
            r"sudo -n -H -u root -- /bin/sh -c 'echo '\''hi'\''; id'"
        );
        assert_eq!(stdin, None);
    }

    #[test]
    fn password_goes_to_stdin_only() {
        let (cmd, stdin) = wrap_become("id", "app user", Some("s3cr'et"));
        assert_eq!(cmd, "sudo -k -S -p '' -H -u 'app user' -- /bin/sh -c id");
        assert!(!cmd.contains("s3cr"));
        assert_eq!(stdin.as_deref(), Some(&b"s3cr'et\n"[..]));
        assert_eq!(
            become_stdin(stdin, Some(b"data")).unwrap(),
            b"s3cr'et\ndata"
        );
        assert_eq!(become_stdin(None, None), None);
    }

    #[test]
    fn su_runs_a_marked_raw_command_that_reads_exactly_its_input() {
        let line = wrap_su("cat > 'f'", "app user", "MARK", Some(12));
        assert_eq!(
            line,
            r"su 'app user' -c 'stty raw -echo 2>/dev/null; echo MARK; head -c 12 | /bin/sh -c '\''cat > '\''\'\'''\''f'\''\'\'''\'''\'''"
        );
        let line = wrap_su("id", "root", "MARK", None);
        assert_eq!(
            line,
            "su root -c 'stty raw -echo 2>/dev/null; echo MARK; /bin/sh -c id </dev/null'"
        );
        assert_ne!(su_marker(), su_marker());
    }

    /// Runs commands locally with a stand-in `sudo` first on the PATH.
    struct FakeSudoHost(tempfile::TempDir);

    impl FakeSudoHost {
        /// `asks`: the stand-in wants a password (read only under `-S`,
        /// as sudo does); otherwise it is NOPASSWD and never reads stdin.
        fn new(asks: bool) -> Self {
            let dir = tempfile::tempdir().unwrap();
            let check = if asks {
                "if [ -n \"$S\" ]; then IFS= read -r pw; [ \"$pw\" = pass ] || { echo 'sudo: 1 incorrect password attempt' >&2; exit 1; }; \
                 else echo 'sudo: a password is required' >&2; exit 1; fi\n"
            } else {
                ""
            };
            let script = format!(
                "#!/bin/sh\nS=\nwhile [ \"$1\" != -- ]; do [ \"$1\" = -S ] && S=1; shift; done; shift\n{check}exec \"$@\"\n"
            );
            let sudo = dir.path().join("sudo");
            std::fs::write(&sudo, script).unwrap();
            std::fs::set_permissions(&sudo, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .unwrap();
            FakeSudoHost(dir)
        }
    }

    #[async_trait]
    impl Connection for FakeSudoHost {
        async fn exec(
            &self,
            command: &str,
            stdin: Option<&[u8]>,
        ) -> Result<ExecOutput, ConnectionError> {
            let command = format!("PATH={}:$PATH; {command}", self.0.path().display());
            crate::connection::local::LocalConnection
                .exec(&command, stdin)
                .await
        }
    }

    #[tokio::test]
    async fn the_password_reaches_a_sudo_that_asks_and_nothing_else() {
        for asks in [false, true] {
            let host: Arc<dyn Connection> = Arc::new(FakeSudoHost::new(asks));
            let sudo = Become::new(
                host,
                "root".into(),
                Some("pass".into()),
                SudoAsks::default(),
            );
            for _ in 0..2 {
                let out = sudo
                    .exec("cat; echo done", Some(b"payload\n"))
                    .await
                    .unwrap();
                assert_eq!(
                    String::from_utf8_lossy(&out.stdout),
                    "payload\ndone\n",
                    "sudo asks: {asks}"
                );
                let out = sudo.exec("cat", None).await.unwrap();
                assert_eq!(out.stdout, b"", "sudo asks: {asks}");
            }
        }
        let host: Arc<dyn Connection> = Arc::new(FakeSudoHost::new(true));
        let sudo = Become::new(
            host,
            "root".into(),
            Some("nope".into()),
            SudoAsks::default(),
        );
        let err = sudo.exec("true", None).await.unwrap_err().to_string();
        assert!(err.contains("did not accept the become password"), "{err}");
        assert!(!err.contains("nope"), "{err}");
    }
}
