//! The SSH transport: one russh connection per host, shared by its tasks.
//!
//! - [`target`]: inventory vars + `~/.ssh/config` → where and how to connect.
//! - [`config`]: the OpenSSH client config parser.
//! - [`known_hosts`]: host key verification and the accept-new policy.
//! - [`auth`]: identity files (passphrases) and ssh-agent.
//! - [`client`]: the authenticated connection; `exec` runs stdin-less commands
//!   in a persistent remote shell (`shell`), others on a channel of their own.
//! - [`pool`]: one connection per host (and per jump host), with retries,
//!   over a TCP stream that acknowledges at once (`quickack`).
//! - [`forward`]: TCP / unix sockets from the host (HTTP over them: [`crate::http`]).
//! - sudo wrapping is not here: `connection::become` wraps any connection.
//!
//! Wiring: build one [`SshPool`] per run from [`SshOptions`], then
//! `pool.lazy(host, vars)` gives an `Arc<dyn Connection>`; `pool.connect`
//! gives the [`SshConnection`] for forwarding.

pub mod auth;
pub mod client;
pub mod config;
pub mod forward;
pub mod known_hosts;
pub mod pool;
mod quickack;
mod shell;
pub mod target;

pub use client::SshConnection;
pub use forward::{SshStream, open_tcp, open_unix};
pub use known_hosts::HostKeyPolicy;
pub use pool::SshPool;
pub use target::{HostDefaults, SshOptions, SshTarget};
