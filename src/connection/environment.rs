//! The task keyword `environment:`: every command a module runs on the host
//! starts by exporting it, as Ansible gives it to every module (an
//! `http_proxy` for `apt`, `get_url` and `git` alike), not to `command`
//! alone.

use super::{BoxStream, Connection, ConnectionError, ExecOutput, InputStream, TerminalLogin};
use crate::core::{display_text, shell_quote};
use crate::playbook::Vars;
use async_trait::async_trait;

/// A connection whose commands run with the task's environment exported.
pub struct WithEnvironment<'a> {
    inner: &'a dyn Connection,
    /// `export NAME='value'; ` per variable.
    exports: String,
}

/// The exports for `environment`, each ending in `; `. Values are quoted;
/// names were checked when the playbook was loaded (anything else is
/// skipped rather than reaching the shell).
pub fn exports(environment: &Vars) -> String {
    let mut line = String::new();
    for (name, value) in environment {
        if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            line.push_str(&format!(
                "export {name}={}; ",
                shell_quote(&display_text(value))
            ));
        }
    }
    line
}

impl<'a> WithEnvironment<'a> {
    /// `None` when there is nothing to export: the connection is used as is.
    pub fn new(inner: &'a dyn Connection, environment: &Vars) -> Option<Self> {
        let exports = exports(environment);
        (!exports.is_empty()).then_some(WithEnvironment { inner, exports })
    }

    fn line(&self, command: &str) -> String {
        format!("{}{command}", self.exports)
    }
}

#[async_trait]
impl Connection for WithEnvironment<'_> {
    async fn exec(
        &self,
        command: &str,
        stdin: Option<&[u8]>,
    ) -> Result<ExecOutput, ConnectionError> {
        self.inner.exec(&self.line(command), stdin).await
    }

    async fn exec_streaming(
        &self,
        command: &str,
        stdin: InputStream,
    ) -> Result<ExecOutput, ConnectionError> {
        self.inner.exec_streaming(&self.line(command), stdin).await
    }

    async fn exec_on_terminal(
        &self,
        command: &str,
        login: TerminalLogin<'_>,
    ) -> Result<ExecOutput, ConnectionError> {
        self.inner
            .exec_on_terminal(&self.line(command), login)
            .await
    }

    async fn open_tcp(&self, host: &str, port: u16) -> Result<BoxStream, ConnectionError> {
        self.inner.open_tcp(host, port).await
    }

    async fn open_unix(&self, path: &str) -> Result<BoxStream, ConnectionError> {
        self.inner.open_unix(path).await
    }

    async fn reset(&self) {
        self.inner.reset().await;
    }

    fn beneath_async(&self) -> Option<&dyn Connection> {
        self.inner.beneath_async()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::local::LocalConnection;
    use crate::modules::remote_file::test_support::args;

    #[tokio::test]
    async fn every_command_sees_the_environment_and_values_stay_data() {
        let local = LocalConnection;
        let env = args(serde_json::json!({"GREETING": "it's $(id) ; x", "N": 3, "bad-name": "x"}));
        let conn = WithEnvironment::new(&local, &env).unwrap();
        let out = conn
            .exec(
                "printf '%s|%s|%s' \"$GREETING\" \"$N\" \"${bad_name:-unset}\"",
                None,
            )
            .await
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "it's $(id) ; x|3|unset"
        );
        assert!(WithEnvironment::new(&local, &Vars::new()).is_none());
    }
}
