//! One connection per host for the whole run: opened on first use, shared
//! by every task, reopened if it was lost (e.g. after a reboot). Jump hosts
//! are pooled too, so a fleet behind one bastion shares its connection.

use super::auth::KeyStore;
use super::client::SshConnection;
use super::config::SshConfig;
use super::forward::open_tcp;
use super::quickack::QuickAck;
use super::target::{SshOptions, SshTarget};
use crate::connection::{
    BoxStream, Connection, ConnectionError, ExecOutput, InputStream, TerminalLogin,
};
use async_trait::async_trait;
use futures::future::BoxFuture;
use serde_json::{Map, Value as Json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpStream;

/// Jump hosts may themselves use a jump host, up to this depth.
const MAX_JUMP_DEPTH: usize = 4;

#[derive(Clone)]
pub struct SshPool {
    inner: Arc<Inner>,
}

struct Inner {
    options: SshOptions,
    config: SshConfig,
    keys: KeyStore,
    /// Per-host slots; the async lock serialises connects to one host.
    slots: Mutex<HashMap<String, Slot>>,
}

type Slot = Arc<tokio::sync::Mutex<Option<Arc<SshConnection>>>>;

impl SshPool {
    /// Reads the SSH client config named by `options` (or `~/.ssh/config`).
    pub fn new(options: SshOptions) -> Result<Self, String> {
        let config = options.load_config()?;
        Ok(SshPool {
            inner: Arc::new(Inner {
                options,
                config,
                keys: KeyStore::default(),
                slots: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Where and how `host` would be reached with these inventory vars.
    pub fn target(&self, host: &str, vars: &Map<String, Json>) -> Result<SshTarget, String> {
        SshTarget::from_vars(host, vars, &self.inner.config, &self.inner.options)
    }

    /// A connection that connects on its first command: what the engine
    /// hands to modules. Connection errors surface from `exec`.
    pub fn lazy(&self, host: &str, vars: Arc<Map<String, Json>>) -> Arc<dyn Connection> {
        Arc::new(LazySsh {
            pool: self.clone(),
            host: host.to_string(),
            vars,
        })
    }

    /// The host's connection, opening it if needed.
    pub async fn connect(
        &self,
        host: &str,
        vars: &Map<String, Json>,
    ) -> Result<Arc<SshConnection>, ConnectionError> {
        let slot = self.slot(host);
        let mut slot = slot.lock().await;
        if let Some(conn) = slot.as_ref().filter(|c| !c.is_closed()) {
            return Ok(conn.clone());
        }
        let target = self.target(host, vars).map_err(ConnectionError::Failed)?;
        let conn = Arc::new(self.open(target, 0).await?);
        *slot = Some(conn.clone());
        Ok(conn)
    }

    /// A new connection to the host, outside the pool, for a transfer
    /// that must not share the pooled one: russh delivers every channel's
    /// data from one session loop, which waits while any channel's buffer
    /// is full, so a command fed from a forwarded download over the same
    /// connection would wait for a window adjust that loop cannot read.
    pub async fn connect_dedicated(
        &self,
        host: &str,
        vars: &Map<String, Json>,
    ) -> Result<SshConnection, ConnectionError> {
        let target = self.target(host, vars).map_err(ConnectionError::Failed)?;
        self.open(target, 0).await
    }

    /// Closes the host's pooled connection, if one is open; the next
    /// command opens a new one (`meta: reset_connection`, reboots).
    pub async fn disconnect(&self, host: &str) {
        let slot = self.slot(host);
        let open = slot.lock().await.take();
        if let Some(conn) = open {
            conn.close().await;
        }
    }

    /// Closes every pooled connection (end of run).
    pub async fn close_all(&self) {
        let slots: Vec<Slot> = self.lock_slots().drain().map(|(_, s)| s).collect();
        for slot in slots {
            if let Some(conn) = slot.lock().await.take() {
                conn.close().await;
            }
        }
    }

    fn slot(&self, key: &str) -> Slot {
        self.lock_slots()
            .entry(key.to_string())
            .or_default()
            .clone()
    }

    fn lock_slots(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        // A panic while holding this lock cannot leave the map inconsistent.
        self.inner.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens a connection to `target`, through its jump hosts if any.
    fn open(
        &self,
        target: SshTarget,
        depth: usize,
    ) -> BoxFuture<'_, Result<SshConnection, ConnectionError>> {
        Box::pin(async move {
            let Some(chain) = target.proxy_jump.clone() else {
                let stream = self.with_retries(&target, || tcp_connect(&target)).await?;
                return SshConnection::handshake(&target, stream, &self.inner.keys, None).await;
            };
            let mut via: Option<Arc<SshConnection>> = None;
            for (index, hop) in chain.split(',').map(str::trim).enumerate() {
                let mut hop_target =
                    SshTarget::from_destination(hop, &self.inner.config, &self.inner.options)
                        .map_err(|e| {
                            ConnectionError::Failed(format!(
                                "{}: ProxyJump {hop}: {e}",
                                target.host_alias
                            ))
                        })?;
                // Only the first hop may have its own jump host (as in OpenSSH).
                if index > 0 || depth >= MAX_JUMP_DEPTH {
                    hop_target.proxy_jump = None;
                }
                via = Some(match via {
                    None => self.jump_connection(hop_target, depth).await?,
                    Some(through) => Arc::new(self.open_via(&hop_target, through).await?),
                });
            }
            match via {
                Some(through) => self.open_via(&target, through).await,
                None => Err(ConnectionError::Failed(format!(
                    "{}: empty ProxyJump",
                    target.host_alias
                ))),
            }
        })
    }

    /// The pooled connection to a first-hop jump host.
    async fn jump_connection(
        &self,
        target: SshTarget,
        depth: usize,
    ) -> Result<Arc<SshConnection>, ConnectionError> {
        let slot = self.slot(&format!("jump:{}", target.describe()));
        let mut slot = slot.lock().await;
        if let Some(conn) = slot.as_ref().filter(|c| !c.is_closed()) {
            return Ok(conn.clone());
        }
        let conn = Arc::new(self.open(target, depth + 1).await?);
        *slot = Some(conn.clone());
        Ok(conn)
    }

    /// Handshakes with `target` over a direct-tcpip channel from `through`.
    async fn open_via(
        &self,
        target: &SshTarget,
        through: Arc<SshConnection>,
    ) -> Result<SshConnection, ConnectionError> {
        let stream = self
            .with_retries(target, || async {
                open_tcp(&through, &target.hostname, target.port)
                    .await
                    .map_err(|e| {
                        let message = format!("via {}: {e}", through.target().host_alias);
                        // The jump host itself being gone is not worth retrying.
                        (!through.is_closed(), message)
                    })
            })
            .await?;
        SshConnection::handshake(target, stream, &self.inner.keys, Some(through)).await
    }

    /// Retries refused and timed-out connects with a short backoff.
    async fn with_retries<T, F, Fut>(
        &self,
        target: &SshTarget,
        mut attempt: F,
    ) -> Result<T, ConnectionError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, (bool, String)>>,
    {
        let attempts = self.inner.options.connect_attempts.max(1);
        let mut tries = 0;
        loop {
            tries += 1;
            match attempt().await {
                Ok(value) => return Ok(value),
                Err((retryable, why)) if !retryable || tries >= attempts => {
                    let tried = if tries > 1 {
                        format!(" (after {tries} attempts)")
                    } else {
                        String::new()
                    };
                    return Err(ConnectionError::Unreachable(format!(
                        "{}: cannot connect to {}:{}: {why}{tried}",
                        target.host_alias, target.hostname, target.port
                    )));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200 * tries as u64)).await,
            }
        }
    }
}

/// Opens the TCP connection; the flag says whether a retry may help.
async fn tcp_connect(target: &SshTarget) -> Result<QuickAck, (bool, String)> {
    let timeout = target.connect_timeout;
    let lookup = tokio::net::lookup_host((target.hostname.as_str(), target.port));
    let addrs: Vec<_> = match tokio::time::timeout(timeout, lookup).await {
        Ok(Ok(addrs)) => addrs.collect(),
        Ok(Err(e)) => return Err((false, format!("cannot resolve {}: {e}", target.hostname))),
        Err(_) => return Err((true, format!("resolving {} timed out", target.hostname))),
    };
    let mut last = (false, format!("{} has no address", target.hostname));
    for addr in addrs {
        match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                return Ok(QuickAck::new(stream));
            }
            Ok(Err(e)) => {
                use std::io::ErrorKind::*;
                let retryable = matches!(e.kind(), ConnectionRefused | ConnectionReset | TimedOut);
                last = (retryable, e.to_string());
            }
            Err(_) => last = (true, format!("timed out after {}s", timeout.as_secs())),
        }
    }
    Err(last)
}

/// A pooled connection resolved on first use.
struct LazySsh {
    pool: SshPool,
    host: String,
    vars: Arc<Map<String, Json>>,
}

#[async_trait]
impl Connection for LazySsh {
    async fn exec(
        &self,
        command: &str,
        stdin: Option<&[u8]>,
    ) -> Result<ExecOutput, ConnectionError> {
        let conn = self.pool.connect(&self.host, &self.vars).await?;
        conn.exec(command, stdin).await
    }

    async fn exec_streaming(
        &self,
        command: &str,
        stdin: InputStream,
    ) -> Result<ExecOutput, ConnectionError> {
        // On a connection of its own: its input usually comes from a
        // channel of the pooled one (`get_url`).
        let conn = self.pool.connect_dedicated(&self.host, &self.vars).await?;
        let result = conn.exec_streaming(command, stdin).await;
        conn.close().await;
        result
    }

    async fn exec_on_terminal(
        &self,
        command: &str,
        login: TerminalLogin<'_>,
    ) -> Result<ExecOutput, ConnectionError> {
        let conn = self.pool.connect(&self.host, &self.vars).await?;
        conn.exec_on_terminal(command, login).await
    }

    async fn open_tcp(&self, host: &str, port: u16) -> Result<BoxStream, ConnectionError> {
        let conn = self.pool.connect(&self.host, &self.vars).await?;
        conn.open_tcp(host, port).await
    }

    async fn open_unix(&self, path: &str) -> Result<BoxStream, ConnectionError> {
        let conn = self.pool.connect(&self.host, &self.vars).await?;
        conn.open_unix(path).await
    }

    /// Closes the pooled connection; the pool reopens it on the next use.
    async fn reset(&self) {
        self.pool.disconnect(&self.host).await;
    }
}
