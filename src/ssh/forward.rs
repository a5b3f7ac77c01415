//! Network access *from* a host through its SSH connection: TCP
//! (direct-tcpip) and unix sockets (direct-streamlocal), and an HTTP/1.1
//! client (hyper) over them for `uri`, `wait_for` and IMDSv2. The host needs
//! no curl, and the traffic originates on the host.

use super::client::SshConnection;
use crate::connection::ConnectionError;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

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
        // The server's verdict on this one channel (refused, not allowed).
        russh::Error::ChannelOpenFailure(reason) => ConnectionError::Failed(format!(
            "{}: {doing}: the server refused ({reason:?}); check that the target is listening \
             and that sshd allows forwarding (AllowTcpForwarding / AllowStreamLocalForwarding)",
            conn.target().host_alias
        )),
        e => conn.channel_error(doing, e),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    /// `http://host[:port]/path?query`; the host is resolved on the remote side.
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub timeout: Duration,
}

impl HttpRequest {
    pub fn get(url: &str) -> Self {
        HttpRequest {
            method: "GET".into(),
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header with this (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends an HTTP/1.1 request from the remote host (through direct-tcpip).
/// Transport errors are `Failed`, unless the SSH connection itself is lost.
pub async fn http_request(
    conn: &SshConnection,
    request: &HttpRequest,
) -> Result<HttpResponse, ConnectionError> {
    let (host, port, _) = split_url(&request.url).map_err(ConnectionError::Failed)?;
    let exchange = async {
        let stream = open_tcp(conn, &host, port).await?;
        http_over(stream, request).await.map_err(|e| {
            if conn.is_closed() {
                conn.lost(&format!("requesting {}", request.url))
            } else {
                ConnectionError::Failed(format!("{}: {e}", conn.target().host_alias))
            }
        })
    };
    tokio::time::timeout(request.timeout, exchange)
        .await
        .unwrap_or_else(|_| {
            Err(ConnectionError::Failed(format!(
                "{}: {} {} timed out after {}s",
                conn.target().host_alias,
                request.method,
                request.url,
                request.timeout.as_secs_f32()
            )))
        })
}

/// Runs one HTTP/1.1 exchange over any byte stream (a forwarded TCP or unix
/// socket). The caller bounds the time it takes.
pub async fn http_over<S>(stream: S, request: &HttpRequest) -> Result<HttpResponse, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (_, _, authority) = split_url(&request.url)?;
    let uri: hyper::Uri = request
        .url
        .parse()
        .map_err(|e| format!("invalid URL {}: {e}", request.url))?;
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let method = hyper::Method::from_bytes(request.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| format!("invalid HTTP method '{}'", request.method))?;
    let mut builder = hyper::Request::builder().method(method).uri(path);
    if !request
        .headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("host"))
    {
        builder = builder.header(hyper::header::HOST, authority);
    }
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let req = builder
        .body(Full::new(Bytes::from(request.body.clone())))
        .map_err(|e| format!("invalid HTTP request: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake with {}: {e}", request.url))?;
    // The connection future does the I/O; it ends when the exchange does.
    let driver = tokio::spawn(connection);
    let result = async {
        let response = sender.send_request(req).await?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok::<_, hyper::Error>((parts, body))
    }
    .await;
    driver.abort();
    let (parts, body) = result.map_err(|e| format!("{} {}: {e}", request.method, request.url))?;
    Ok(HttpResponse {
        status: parts.status.as_u16(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
    })
}

/// `(host, port, authority)` of an `http://` URL.
fn split_url(url: &str) -> Result<(String, u16, String), String> {
    let uri: hyper::Uri = url.parse().map_err(|e| format!("invalid URL {url}: {e}"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some(other) => {
            return Err(format!(
                "{url}: only http:// is supported through the SSH connection, not {other}://"
            ));
        }
        None => return Err(format!("invalid URL {url}: no http:// scheme")),
    }
    let authority = uri
        .authority()
        .ok_or_else(|| format!("invalid URL {url}: no host"))?;
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    Ok((
        host,
        authority.port_u16().unwrap_or(80),
        authority.as_str().to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            split_url("http://169.254.169.254/latest/api/token").unwrap(),
            ("169.254.169.254".into(), 80, "169.254.169.254".into())
        );
        assert_eq!(split_url("http://[::1]:8080/x").unwrap().0, "::1");
        assert!(
            split_url("https://x/")
                .unwrap_err()
                .contains("only http://")
        );
        assert!(split_url("x/y").is_err());
    }

    #[tokio::test]
    async fn http_over_a_plain_stream() {
        let (client, mut server) = tokio::io::duplex(4096);
        let serve = tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut buf = vec![0; 4096];
            let n = server.read(&mut buf).await.unwrap();
            let head = String::from_utf8_lossy(&buf[..n]).to_string();
            server
                .write_all(b"HTTP/1.1 201 Created\r\nX-Test: yes\r\nContent-Length: 2\r\n\r\nok")
                .await
                .unwrap();
            head
        });
        let mut req = HttpRequest::get("http://example:8080/p?q=1");
        req.method = "put".into();
        req.headers.push(("X-Token".into(), "t".into()));
        let resp = http_over(client, &req).await.unwrap();
        assert_eq!(
            (resp.status, resp.body.as_slice(), resp.header("x-test")),
            (201, &b"ok"[..], Some("yes"))
        );
        let head = serve.await.unwrap();
        assert!(head.starts_with("PUT /p?q=1 HTTP/1.1\r\n"), "{head}");
        assert!(head.to_lowercase().contains("host: example:8080"), "{head}");
        assert!(head.to_lowercase().contains("x-token: t"), "{head}");
    }
}
