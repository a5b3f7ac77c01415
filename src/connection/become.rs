//! `become`: every command of a task runs under sudo as another user.
//!
//! A wrapper around any connection, so modules stay unaware of privilege:
//! they build their command lines and this wraps each in
//! `sudo -n -H -u USER -- /bin/sh -c '…'`. A password travels on stdin,
//! never on a command line.

use super::{BoxStream, Connection, ConnectionError, ExecOutput};
use crate::ssh::{become_stdin, wrap_become};
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
