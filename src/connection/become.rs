//! `become`: every command of a task runs under sudo as another user.
//!
//! A wrapper around any connection, so modules stay unaware of privilege:
//! they build their command lines and this wraps each in
//! `sudo -n -H -u USER -- /bin/sh -c '…'`. A password travels as the first
//! line of stdin, never on a command line (which `ps` shows).

use super::{BoxStream, Connection, ConnectionError, ExecOutput};
use crate::core::shell_quote;
use async_trait::async_trait;
use std::sync::Arc;

pub struct Become {
    inner: Arc<dyn Connection>,
    user: String,
    password: Option<String>,
}

impl Become {
    pub fn new(inner: Arc<dyn Connection>, user: String, password: Option<String>) -> Self {
        Become {
            inner,
            user,
            password,
        }
    }
}

#[async_trait]
impl Connection for Become {
    async fn exec(
        &self,
        command: &str,
        stdin: Option<&[u8]>,
    ) -> Result<ExecOutput, ConnectionError> {
        let (wrapped, prefix) = wrap_become(command, &self.user, self.password.as_deref());
        let input = become_stdin(prefix, stdin);
        let out = self.inner.exec(&wrapped, input.as_deref()).await?;
        if out.rc == 1 && String::from_utf8_lossy(&out.stderr).contains("a password is required") {
            return Err(ConnectionError::Failed(format!(
                "sudo needs a password to become '{}': run with --ask-become-pass (-K) or set ansible_become_password",
                self.user
            )));
        }
        Ok(out)
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
/// before the command's own stdin. Note that sudo only reads that line when
/// it asks for a password: use a password only for accounts that need one,
/// or the command will see the line on its stdin.
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
            format!("sudo -S -p '' {tail}"),
            Some(format!("{password}\n").into_bytes()),
        ),
        // `-n` fails at once instead of waiting for a password nobody types.
        None => (format!("sudo -n {tail}"), None),
    }
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
        assert_eq!(cmd, "sudo -S -p '' -H -u 'app user' -- /bin/sh -c id");
        assert!(!cmd.contains("s3cr"));
        assert_eq!(stdin.as_deref(), Some(&b"s3cr'et\n"[..]));
        assert_eq!(
            become_stdin(stdin, Some(b"data")).unwrap(),
            b"s3cr'et\ndata"
        );
        assert_eq!(become_stdin(None, None), None);
    }

    #[tokio::test]
    async fn runs_through_a_fake_sudo() {
        // A stand-in sudo that checks the password line, then runs the rest.
        let dir = tempfile::tempdir().unwrap();
        let sudo = dir.path().join("sudo");
        std::fs::write(
            &sudo,
            "#!/bin/sh\nIFS= read -r pw; [ \"$pw\" = pass ] || exit 1\nwhile [ \"$1\" != -- ]; do shift; done; shift; exec \"$@\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&sudo, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let (cmd, prefix) = wrap_become("cat; echo done", "root", Some("pass"));
        let cmd = format!("PATH={}:$PATH; {cmd}", dir.path().display());
        let stdin = become_stdin(prefix, Some(b"payload\n")).unwrap();
        use crate::connection::Connection;
        let out = crate::connection::local::LocalConnection
            .exec(&cmd, Some(&stdin))
            .await
            .unwrap();
        assert_eq!(out.stdout, b"payload\ndone\n");
    }
}
