//! Network access *from* a host through its SSH connection: TCP
//! (direct-tcpip) and unix sockets (direct-streamlocal). [`crate::http`]
//! speaks HTTP over them for `uri`, `wait_for` and IMDSv2: the host needs no
//! curl, and the traffic originates on the host.

use super::client::SshConnection;
use crate::connection::ConnectionError;

/// A byte stream tunnelled through an SSH channel.
pub type SshStream = russh::ChannelStream<russh::client::Msg>;

/// Opens a TCP connection from the remote host to `host:port`.
pub async fn open_tcp(
    conn: &SshConnection,
    host: &str,
    port: u16,
) -> Result<SshStream, ConnectionError> {
    let doing = format!("opening a forwarded connection to {host}:{port}");
    let channel = conn
        .handle()
        .channel_open_direct_tcpip(host, u32::from(port), "127.0.0.1", 0)
        .await
        .map_err(|e| open_error(conn, &doing, e))?;
    Ok(channel.into_stream())
}

/// Connects, from the remote host, to the unix socket at `path`.
pub async fn open_unix(conn: &SshConnection, path: &str) -> Result<SshStream, ConnectionError> {
    let doing = format!("opening a forwarded connection to unix socket {path}");
    let channel = conn
        .handle()
        .channel_open_direct_streamlocal(path)
        .await
        .map_err(|e| open_error(conn, &doing, e))?;
    Ok(channel.into_stream())
}

fn open_error(conn: &SshConnection, doing: &str, e: russh::Error) -> ConnectionError {
    match e {
        // sshd's forwarding is off: callers may fall back to a command.
        russh::Error::ChannelOpenFailure(russh::ChannelOpenFailure::AdministrativelyProhibited) => {
            ConnectionError::ForwardingRefused(format!(
                "{}: {doing}: sshd refused to forward (administratively prohibited); \
                 allow AllowTcpForwarding / AllowStreamLocalForwarding on the host",
                conn.target().host_alias
            ))
        }
        // The server's verdict on this one channel (nothing listening…).
        russh::Error::ChannelOpenFailure(reason) => ConnectionError::Failed(format!(
            "{}: {doing}: connection refused from the host's side ({reason:?}); \
             check that the target is listening",
            conn.target().host_alias
        )),
        e => conn.channel_error(doing, e),
    }
}
