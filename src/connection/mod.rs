//! How commands reach a host. Modules build POSIX shell command lines and
//! hand them to a [`Connection`]; `local` runs them here, SSH remotely.

pub mod r#become;
pub mod environment;
pub mod local;
pub mod output;
pub mod terminal;

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncWrite};

/// A byte stream opened from the host's side (a forwarded TCP connection or
/// unix socket), for HTTP requests, port checks and admin sockets.
pub trait HostStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> HostStream for T {}
pub type BoxStream = Box<dyn HostStream>;

/// Input fed to a command as it is read ([`Connection::exec_streaming`]).
pub type InputStream = Box<dyn AsyncRead + Unpin + Send>;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    pub rc: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// The stream was longer than `output::OUTPUT_CAP` and was cut there.
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// The host could not be reached or the connection was lost: the host
    /// counts as unreachable, not failed.
    #[error("{0}")]
    Unreachable(String),
    #[error("{0}")]
    Failed(String),
    /// sshd does not forward channels for this host (AllowTcpForwarding
    /// no): callers with a command-line fallback (curl for IMDS) use it.
    #[error("{0}")]
    ForwardingRefused(String),
}

/// What [`Connection::exec_on_terminal`] types, and when.
#[derive(Clone, Copy)]
pub struct TerminalLogin<'a> {
    pub password: &'a str,
    /// A line the command prints once the login succeeded.
    pub marker: &'a str,
    /// Typed after the marker; the command reads exactly this much.
    pub input: Option<&'a [u8]>,
}

#[async_trait]
pub trait Connection: Send + Sync {
    /// Runs a POSIX shell command line, feeding `stdin` if given.
    async fn exec(
        &self,
        command: &str,
        stdin: Option<&[u8]>,
    ) -> Result<ExecOutput, ConnectionError>;

    /// Like [`Connection::exec`], but feeds `stdin` as it is read, through a
    /// bounded buffer, so input of any size (a download) never sits whole in
    /// the controller's memory.
    async fn exec_streaming(
        &self,
        command: &str,
        stdin: InputStream,
    ) -> Result<ExecOutput, ConnectionError> {
        let _ = (command, stdin);
        Err(ConnectionError::Failed(
            "this connection cannot stream input to a command".into(),
        ))
    }

    /// Runs `command` on a terminal, for programs that read a password from
    /// the tty (su): answers the first password prompt with
    /// `login.password`, waits for `login.marker` (what precedes it is the
    /// login's, dropped), then types `login.input`. Stdout and stderr come
    /// back merged, as a terminal has one output.
    async fn exec_on_terminal(
        &self,
        command: &str,
        login: TerminalLogin<'_>,
    ) -> Result<ExecOutput, ConnectionError> {
        let _ = (command, login);
        Err(ConnectionError::Failed(
            "this connection has no terminal to answer a password prompt on".into(),
        ))
    }

    /// Opens a TCP connection *from the host* to `host:port` (SSH:
    /// direct-tcpip), so `uri`, `wait_for` and IMDS see the host's network.
    async fn open_tcp(&self, host: &str, port: u16) -> Result<BoxStream, ConnectionError> {
        let _ = (host, port);
        Err(ConnectionError::Failed(
            "this connection cannot open network connections from the host".into(),
        ))
    }

    /// Connects *from the host* to a unix socket (SSH: direct-streamlocal).
    async fn open_unix(&self, path: &str) -> Result<BoxStream, ConnectionError> {
        let _ = path;
        Err(ConnectionError::Failed(
            "this connection cannot open unix sockets on the host".into(),
        ))
    }

    /// Drops the transport so the next command reconnects (after a reboot).
    async fn reset(&self) {}

    /// Under `async:`, the connection beneath the job runner: a module's
    /// quick checks (`creates`) run there at once, not as async jobs.
    fn beneath_async(&self) -> Option<&dyn Connection> {
        None
    }
}
