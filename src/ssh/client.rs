//! One authenticated SSH connection to a host, and `exec` over it: each
//! command gets its own session channel, so commands can run concurrently
//! on one connection without any new handshake.

use super::auth::{KeyStore, authenticate};
use super::known_hosts::{HostKeyPolicy, host_key_preference, verify};
use super::shell::{PersistentShell, ShellDied};
use super::target::SshTarget;
use crate::connection::output::Capped;
use crate::connection::terminal::{Step, Transcript};
use crate::connection::{
    BoxStream, Connection, ConnectionError, ExecOutput, InputStream, TerminalLogin,
};
use async_trait::async_trait;
use russh::client::{Config, Handle, Handler};
use russh::keys::{PublicKey, PublicKeyOrCertificate};
use russh::{ChannelMsg, Sig};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::sync::Semaphore;

/// sshd's default `MaxSessions` is 10 session channels per connection, and
/// sshd frees a closed channel only after handling the packets that came
/// with its close, so up to twice our in-flight count can be counted.
/// One more session is the persistent shell.
const MAX_SESSIONS: usize = 4;

/// Session opens refused by a server with a lower `MaxSessions` are retried.
const OPEN_RETRIES: u32 = 5;

/// Errors from the russh session, plus our own host key verdict.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    #[error(transparent)]
    Russh(#[from] russh::Error),
    #[error("{0}")]
    HostKey(String),
}

/// Verifies the server's host key; the rest of the protocol needs nothing
/// from us.
pub struct ClientHandler {
    policy: HostKeyPolicy,
    known_hosts: Vec<PathBuf>,
    user_file: Option<PathBuf>,
    hostname: String,
    port: u16,
}

impl ClientHandler {
    fn new(target: &SshTarget) -> Self {
        ClientHandler {
            policy: target.strict,
            known_hosts: target.known_hosts_files.clone(),
            user_file: target.user_known_hosts_file.clone(),
            hostname: target.hostname.clone(),
            port: target.port,
        }
    }
}

impl Handler for ClientHandler {
    type Error = SshError;

    async fn check_server_key(&mut self, key: &PublicKeyOrCertificate) -> Result<bool, SshError> {
        // A host certificate is judged by its key: the CA is not trusted.
        let key = match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
            PublicKeyOrCertificate::Certificate(cert) => {
                PublicKey::new(cert.public_key().clone(), "")
            }
        };
        verify(
            self.policy,
            &self.known_hosts,
            self.user_file.as_deref(),
            &self.hostname,
            self.port,
            &key,
        )
        .map(|()| true)
        .map_err(SshError::HostKey)
    }
}

/// An authenticated connection, shared by every task on the host.
pub struct SshConnection {
    target: SshTarget,
    handle: Handle<ClientHandler>,
    sessions: Semaphore,
    /// The persistent shell for commands without stdin (`None` until used).
    shell: tokio::sync::Mutex<Option<PersistentShell>>,
    /// Failed attempts to start the shell; after a few, channels only.
    shell_failures: std::sync::atomic::AtomicU32,
    /// Keeps the jump host's connection open while this one uses it.
    _jump: Option<Arc<SshConnection>>,
}

impl std::fmt::Debug for SshConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshConnection")
            .field("target", &self.target.describe())
            .finish()
    }
}

impl SshConnection {
    /// Runs the SSH handshake and authentication over an open stream
    /// (a TCP socket, or a channel through a jump host).
    pub(crate) async fn handshake<S>(
        target: &SshTarget,
        stream: S,
        keys: &KeyStore,
        jump: Option<Arc<SshConnection>>,
    ) -> Result<Self, ConnectionError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let preferred = russh::Preferred {
            key: host_key_preference(&target.known_hosts_files, &target.hostname, target.port)
                .into(),
            ..Default::default()
        };
        let config = Arc::new(Config {
            preferred,
            keepalive_interval: target.keepalive_interval,
            keepalive_max: 3,
            nodelay: true,
            ..Config::default()
        });
        let unreachable =
            |why: String| ConnectionError::Unreachable(format!("{}: {why}", target.host_alias));
        let connecting = russh::client::connect_stream(config, stream, ClientHandler::new(target));
        let mut handle = match tokio::time::timeout(target.connect_timeout, connecting).await {
            Err(_) => {
                return Err(unreachable(format!(
                    "SSH handshake with {}:{} timed out: no answer within {}s \
                     (ConnectTimeout in the ssh config, or ansible_ssh_timeout)",
                    target.hostname,
                    target.port,
                    target.connect_timeout.as_secs()
                )));
            }
            Ok(Err(SshError::HostKey(message))) => return Err(unreachable(message)),
            Ok(Err(SshError::Russh(e))) => {
                return Err(unreachable(format!(
                    "SSH handshake with {}:{} failed: {e}",
                    target.hostname, target.port
                )));
            }
            Ok(Ok(handle)) => handle,
        };
        authenticate(&mut handle, target, keys)
            .await
            .map_err(unreachable)?;
        Ok(SshConnection {
            target: target.clone(),
            handle,
            sessions: Semaphore::new(MAX_SESSIONS),
            shell: tokio::sync::Mutex::new(None),
            shell_failures: std::sync::atomic::AtomicU32::new(0),
            _jump: jump,
        })
    }

    pub fn target(&self) -> &SshTarget {
        &self.target
    }

    /// The russh handle, for opening other kinds of channels.
    pub fn handle(&self) -> &Handle<ClientHandler> {
        &self.handle
    }

    pub fn is_closed(&self) -> bool {
        self.handle.is_closed()
    }

    /// Says goodbye to the server (the connection also closes when dropped).
    pub async fn close(&self) {
        let _ = self
            .handle
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
    }

    /// The error for a failed channel operation: the connection is gone,
    /// or the server refused this one thing.
    pub(crate) fn channel_error(&self, doing: &str, e: russh::Error) -> ConnectionError {
        if self.is_closed() {
            self.lost(doing)
        } else {
            ConnectionError::Failed(format!("{}: {doing}: {e}", self.target.host_alias))
        }
    }

    pub(crate) fn lost(&self, doing: &str) -> ConnectionError {
        ConnectionError::Unreachable(format!(
            "{}: connection to {} lost while {doing}",
            self.target.host_alias,
            self.target.describe()
        ))
    }
}

#[async_trait]
impl Connection for SshConnection {
    async fn exec(
        &self,
        command: &str,
        stdin: Option<&[u8]>,
    ) -> Result<ExecOutput, ConnectionError> {
        let doing = format!("running `{}`", abbreviate(command));
        self.reap_abandoned_shell().await;
        if stdin.is_none()
            && let Some(result) = self.exec_in_shell(command, &doing).await
        {
            return result;
        }
        let stdin = stdin.map(|data| Box::new(data) as Box<dyn AsyncRead + Unpin + Send>);
        self.exec_on_channel(command, stdin, &doing).await
    }

    async fn exec_streaming(
        &self,
        command: &str,
        stdin: InputStream,
    ) -> Result<ExecOutput, ConnectionError> {
        let doing = format!("running `{}`", abbreviate(command));
        self.reap_abandoned_shell().await;
        self.exec_on_channel(command, Some(stdin), &doing).await
    }

    async fn exec_on_terminal(
        &self,
        command: &str,
        login: TerminalLogin<'_>,
    ) -> Result<ExecOutput, ConnectionError> {
        let doing = format!("running `{}` on a terminal", abbreviate(command));
        self.reap_abandoned_shell().await;
        // The semaphore is never closed, so acquire cannot fail.
        let _permit = (self.sessions.acquire().await).map_err(|_| self.lost(&doing))?;
        let channel = self.open_session(&doing).await?;
        let failed = |e| self.channel_error(&doing, e);
        channel
            .request_pty(false, "dumb", 200, 24, 0, 0, &[])
            .await
            .map_err(failed)?;
        channel.exec(false, command).await.map_err(failed)?;
        let (mut reader, writer) = channel.split();
        let mut transcript = Transcript::new(login);
        let mut output = Capped::new();
        let mut status = None;
        // A login that never prompts as expected (another language, another
        // question) must not wait forever.
        let login_deadline = tokio::time::Instant::now() + self.target.connect_timeout * 2;
        loop {
            let message = if transcript.started() {
                reader.wait().await
            } else {
                match tokio::time::timeout_at(login_deadline, reader.wait()).await {
                    Ok(message) => message,
                    Err(_) => {
                        return Err(ConnectionError::Failed(format!(
                            "the login did not finish in time; it said: {}",
                            transcript.failure()
                        )));
                    }
                }
            };
            let Some(message) = message else { break };
            match message {
                ChannelMsg::Data { data } | ChannelMsg::ExtendedData { data, .. } => {
                    let typed = match transcript.feed(&data) {
                        Step::Wait => None,
                        Step::Type(text) => Some(text),
                        Step::Started(first) => {
                            output.push(&first);
                            login.input.map(<[u8]>::to_vec)
                        }
                        Step::Output(more) => {
                            output.push(&more);
                            None
                        }
                    };
                    if let Some(text) = typed {
                        let _ = writer.data_bytes(bytes::Bytes::from(text)).await;
                    }
                }
                ChannelMsg::Close => break,
                other => status = exit_status(&other).or(status),
            }
        }
        drop(writer);
        if !transcript.started() {
            return Err(ConnectionError::Failed(transcript.failure()));
        }
        let (stdout, stdout_truncated) = output.finish_all();
        match status {
            Some(rc) => Ok(ExecOutput {
                rc,
                stdout,
                stdout_truncated,
                ..Default::default()
            }),
            None => Err(self.lost(&doing)),
        }
    }

    async fn open_tcp(&self, host: &str, port: u16) -> Result<BoxStream, ConnectionError> {
        Ok(Box::new(super::forward::open_tcp(self, host, port).await?))
    }

    async fn open_unix(&self, path: &str) -> Result<BoxStream, ConnectionError> {
        Ok(Box::new(super::forward::open_unix(self, path).await?))
    }
}

impl SshConnection {
    /// Runs `command` on a session channel of its own.
    async fn exec_on_channel(
        &self,
        command: &str,
        stdin: Option<Box<dyn AsyncRead + Unpin + Send + '_>>,
        doing: &str,
    ) -> Result<ExecOutput, ConnectionError> {
        // The semaphore is never closed, so acquire cannot fail.
        let _permit = self
            .sessions
            .acquire()
            .await
            .map_err(|_| self.lost(doing))?;
        let channel = self.open_session(doing).await?;
        channel
            .exec(false, command)
            .await
            .map_err(|e| self.channel_error(doing, e))?;
        let (mut reader, writer) = channel.split();
        // Feed stdin while reading output: a command may fill its output
        // window before it reads all of its input.
        let feed = async {
            if let Some(mut data) = stdin {
                // Chunk by chunk: russh waits for the channel's window, so
                // no more than a chunk is held here.
                let mut buf = vec![0; 64 * 1024];
                while let Ok(n @ 1..) = data.read(&mut buf).await {
                    // A command that exits without reading its input is fine.
                    if writer
                        .data_bytes(bytes::Bytes::copy_from_slice(&buf[..n]))
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            }
            let _ = writer.eof().await;
        };
        let collect = async {
            let (mut stdout, mut stderr) = (Capped::new(), Capped::new());
            let mut status = None;
            while let Some(message) = reader.wait().await {
                match message {
                    ChannelMsg::Data { data } => stdout.push(&data),
                    ChannelMsg::ExtendedData { data, ext: 1 } => stderr.push(&data),
                    ChannelMsg::Close => break,
                    other => status = exit_status(&other).or(status),
                }
            }
            let (stdout, stdout_truncated) = stdout.finish_all();
            let (stderr, stderr_truncated) = stderr.finish_all();
            let out = ExecOutput {
                stdout,
                stderr,
                stdout_truncated,
                stderr_truncated,
                ..Default::default()
            };
            (out, status)
        };
        let ((), (mut out, status)) = tokio::join!(feed, collect);
        // Keep the write half until the end: dropping it early is harmless
        // in russh, but this makes the channel's lifetime obvious.
        drop(writer);
        match status {
            Some(rc) => {
                out.rc = rc;
                Ok(out)
            }
            None if self.closes_soon().await => Err(self.lost(doing)),
            None => Err(ConnectionError::Failed(format!(
                "{}: {doing}: the command ended without an exit status",
                self.target.host_alias
            ))),
        }
    }

    /// A shell whose caller gave up midway (a task timeout) is closed, and
    /// the command it was running is killed with its children.
    async fn reap_abandoned_shell(&self) {
        let stale = match self.shell.try_lock() {
            Ok(mut slot) => slot.take_if(|s| !s.is_reusable()),
            Err(_) => None,
        };
        let Some(stale) = stale else { return };
        if let Some(pid) = stale.abandoned() {
            let kill = format!("pkill -TERM -P {pid}; kill -TERM {pid}; :");
            let _ = self
                .exec_on_channel(&kill, None, "stopping a timed-out command")
                .await;
        }
        stale.close().await;
    }

    /// Runs the command in the persistent shell when it is free; `None`
    /// means "use a channel of its own" (busy, disabled or unavailable).
    async fn exec_in_shell(
        &self,
        command: &str,
        doing: &str,
    ) -> Option<Result<ExecOutput, ConnectionError>> {
        use std::sync::atomic::Ordering::Relaxed;
        if self.shell_failures.load(Relaxed) >= 3 {
            return None;
        }
        let mut slot = self.shell.try_lock().ok()?;
        if slot.as_ref().is_some_and(|s| !s.is_reusable()) {
            // Abandoned since the reap: leave it to the next command.
            return None;
        }
        if slot.is_none() {
            match PersistentShell::start(&self.handle).await {
                Ok(shell) => *slot = Some(shell),
                Err(_) => {
                    self.shell_failures.fetch_add(1, Relaxed);
                    return None;
                }
            }
        }
        let shell = slot.as_mut()?;
        match shell.run(command).await {
            Ok(out) => Some(Ok(out)),
            Err(ShellDied) => {
                *slot = None;
                Some(Err(if self.closes_soon().await {
                    self.lost(doing)
                } else {
                    ConnectionError::Failed(format!(
                        "{}: {doing}: the remote shell running it was killed",
                        self.target.host_alias
                    ))
                }))
            }
        }
    }

    async fn open_session(
        &self,
        doing: &str,
    ) -> Result<russh::Channel<russh::client::Msg>, ConnectionError> {
        let mut tries = 0;
        loop {
            match self.handle.channel_open_session().await {
                Ok(channel) => return Ok(channel),
                Err(russh::Error::ChannelOpenFailure(_))
                    if tries < OPEN_RETRIES && !self.is_closed() =>
                {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(10 * u64::from(tries))).await;
                }
                Err(e) => return Err(self.channel_error(doing, e)),
            }
        }
    }

    /// Whether the connection is closed or closing: a channel that ends
    /// without a status usually means the session is being torn down.
    async fn closes_soon(&self) -> bool {
        for _ in 0..20 {
            if self.is_closed() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }
}

/// The exit status a channel message reports, a signal as the shell's 128+n.
fn exit_status(message: &ChannelMsg) -> Option<i32> {
    match message {
        ChannelMsg::ExitStatus { exit_status } => Some(i32::try_from(*exit_status).unwrap_or(255)),
        ChannelMsg::ExitSignal { signal_name, .. } => Some(128 + signal_number(signal_name)),
        _ => None,
    }
}

/// Signal numbers as Linux reports them (the shell's 128+n convention).
fn signal_number(sig: &Sig) -> i32 {
    match sig {
        Sig::HUP => 1,
        Sig::INT => 2,
        Sig::QUIT => 3,
        Sig::ILL => 4,
        Sig::ABRT => 6,
        Sig::FPE => 8,
        Sig::KILL => 9,
        Sig::USR1 => 10,
        Sig::SEGV => 11,
        Sig::PIPE => 13,
        Sig::ALRM => 14,
        Sig::TERM => 15,
        Sig::Custom(name) => match name.as_str() {
            "BUS" => 7,
            "USR2" => 12,
            "STOP" => 19,
            _ => 0,
        },
    }
}

/// The first line of a command, shortened for error messages.
fn abbreviate(command: &str) -> String {
    let line = command.lines().next().unwrap_or("");
    if line.chars().count() > 60 || line.len() < command.len() {
        format!("{}…", line.chars().take(60).collect::<String>())
    } else {
        line.to_string()
    }
}
