//! HTTP/1.1 (hyper) over a byte stream that a [`Connection`] opens *from the
//! host*: a forwarded TCP connection or unix socket over SSH, or a plain
//! socket on the controller for `ansible_connection: local` and
//! `delegate_to: localhost`. Used by `uri`, `get_url`, `wait_for`, IMDSv2
//! and webhooks. `https://` runs TLS (rustls) over the same stream, so the
//! controller verifies the server's certificate against its trusted roots
//! (the system's, or `SSL_CERT_FILE` / `SSL_CERT_DIR`) even when the
//! request leaves from the host.
//!
//! This file holds the public API (requests, responses, [`send`] with its
//! redirects and timeout, [`send_streaming`] for bodies too large to keep);
//! `exchange` runs one HTTP/1.1 exchange, `body` reads a body chunk by
//! chunk, `url` parses URLs, `tls` sets up rustls, `curl` is the fallback
//! where sshd refuses to forward.

mod body;
mod curl;
mod exchange;
mod tls;
mod url;

pub use body::Body;
pub use curl::{curl_download_config, parse_curl_heads};
pub use exchange::{exchange, exchange_head};
pub use url::Url;

use crate::connection::{Connection, ConnectionError};
use curl::curl;
use std::time::Duration;
use tls::{tls_config, tls_handshake_with};

/// Redirects followed at most, as curl's and Ansible's default bound.
const MAX_REDIRECTS: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    /// `http(s)://host[:port]/path?query`; the host is resolved on the remote side.
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Bounds the whole exchange, redirects included ([`send`]); with
    /// [`send_streaming`], the head and then each read of the body.
    pub timeout: Duration,
    /// Follow 301/302/303/307/308 for GET and HEAD (Ansible's `safe`).
    pub follow_redirects: bool,
    /// Send the request to this unix socket on the host instead of the
    /// URL's host and port (`uri`'s `unix_socket`).
    pub unix_socket: Option<String>,
    /// Verify an `https://` server's certificate and name (`validate_certs`).
    pub validate_certs: bool,
}

impl HttpRequest {
    pub fn get(url: &str) -> Self {
        HttpRequest {
            method: "GET".into(),
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: Duration::from_secs(10),
            follow_redirects: false,
            unix_socket: None,
            validate_certs: true,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The URL that answered, after any redirects.
    pub url: String,
    pub redirected: bool,
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

/// Sends `request` from the host's side of `conn`, following redirects when
/// asked, all within `request.timeout`. A refused or failed exchange is
/// `Failed` (or `ForwardingRefused`); a lost connection stays `Unreachable`.
pub async fn send(
    conn: &dyn Connection,
    request: &HttpRequest,
) -> Result<HttpResponse, ConnectionError> {
    let exchange = async {
        let (mut response, body) = follow(conn, request).await?;
        response.body = body.collect().await?;
        Ok(response)
    };
    within(request, exchange).await
}

/// Like [`send`], but returns once the final response's head is in (within
/// `request.timeout`); its body is then read chunk by chunk from the
/// [`Body`], and only a read with no data for `request.timeout` fails, so a
/// large download on a slow link is not cut short.
pub async fn send_streaming(
    conn: &dyn Connection,
    request: &HttpRequest,
) -> Result<(HttpResponse, Body), ConnectionError> {
    within(request, follow(conn, request)).await
}

/// `work`, failed when it takes longer than `request.timeout`.
async fn within<T>(
    request: &HttpRequest,
    work: impl std::future::Future<Output = Result<T, ConnectionError>>,
) -> Result<T, ConnectionError> {
    tokio::time::timeout(request.timeout, work)
        .await
        .unwrap_or_else(|_| {
            Err(ConnectionError::Failed(format!(
                "{} {} timed out after {}s",
                request.method,
                request.url,
                request.timeout.as_secs_f32()
            )))
        })
}

/// The final response's head and its unread body, after the redirects
/// (credentials dropped when one leaves their origin).
async fn follow(
    conn: &dyn Connection,
    request: &HttpRequest,
) -> Result<(HttpResponse, Body), ConnectionError> {
    let mut current = request.clone();
    let mut redirected = false;
    for _ in 0..=MAX_REDIRECTS {
        let (mut response, body) = send_once(conn, &current).await?;
        response.redirected = redirected;
        match redirect_target(&current, &response)? {
            Some(next) if request.follow_redirects => {
                if !same_origin(&current.url, &next) {
                    drop_credentials(&mut current.headers);
                }
                current.url = next;
                redirected = true;
            }
            _ => return Ok((response, body)),
        }
    }
    Err(ConnectionError::Failed(format!(
        "{}: more than {MAX_REDIRECTS} redirects",
        request.url
    )))
}

/// Like [`send`], but where the host's sshd refuses to forward channels it
/// runs curl on the host instead. curl reads its whole configuration (URL,
/// headers such as an IMDS token) from stdin, so nothing reaches the host's
/// command line or process list.
pub async fn send_or_curl(
    conn: &dyn Connection,
    request: &HttpRequest,
) -> Result<HttpResponse, ConnectionError> {
    match send(conn, request).await {
        Err(ConnectionError::ForwardingRefused(why)) => curl(conn, request, &why).await,
        other => other,
    }
}

async fn send_once(
    conn: &dyn Connection,
    request: &HttpRequest,
) -> Result<(HttpResponse, Body), ConnectionError> {
    let url = Url::parse(&request.url).map_err(ConnectionError::Failed)?;
    let stream = match &request.unix_socket {
        Some(path) => conn.open_unix(path).await?,
        None => conn.open_tcp(&url.host, url.port).await?,
    };
    let answer = if url.tls {
        let config = tls_config(request.validate_certs).map_err(ConnectionError::Failed)?;
        exchange_head(tls_handshake_with(config, stream, &url).await?, request).await
    } else {
        exchange_head(stream, request).await
    };
    answer.map_err(ConnectionError::Failed)
}

/// Headers that carry credentials, sent only where the user sent them.
const CREDENTIAL_HEADERS: [&str; 3] = ["authorization", "proxy-authorization", "cookie"];

/// Whether a redirect from `from` to `to` stays where the credentials were
/// meant for: the same host and port, and never from https down to http.
fn same_origin(from: &str, to: &str) -> bool {
    match (Url::parse(from), Url::parse(to)) {
        (Ok(from), Ok(to)) => {
            from.host.eq_ignore_ascii_case(&to.host)
                && from.port == to.port
                && (to.tls || !from.tls)
        }
        _ => false,
    }
}

/// Removes the credentials before a redirect leaves their origin (as curl
/// and browsers do), so a redirect cannot hand a token to another server.
fn drop_credentials(headers: &mut Vec<(String, String)>) {
    headers.retain(|(name, _)| {
        !CREDENTIAL_HEADERS
            .iter()
            .any(|c| name.eq_ignore_ascii_case(c))
    });
}

/// Where a redirect for a GET/HEAD points, resolved against the request URL.
fn redirect_target(
    request: &HttpRequest,
    response: &HttpResponse,
) -> Result<Option<String>, ConnectionError> {
    let safe = matches!(request.method.to_ascii_uppercase().as_str(), "GET" | "HEAD");
    if !safe || !matches!(response.status, 301 | 302 | 303 | 307 | 308) {
        return Ok(None);
    }
    let Some(location) = response.header("location") else {
        return Ok(None);
    };
    if location.contains("://") {
        return Ok(Some(location.to_string()));
    }
    let url = Url::parse(&request.url).map_err(ConnectionError::Failed)?;
    let path = if location.starts_with('/') {
        location.to_string()
    } else {
        let dir = url.path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        format!("{dir}/{location}")
    };
    Ok(Some(format!("{}://{}{path}", url.scheme(), url.authority)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::local::LocalConnection;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Answers each connection with the next canned response.
    pub(super) async fn serve(
        responses: Vec<&'static str>,
    ) -> (u16, tokio::task::JoinHandle<Vec<String>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let mut seen = Vec::new();
            for response in responses {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = vec![0; 4096];
                let n = s.read(&mut buf).await.unwrap();
                seen.push(
                    String::from_utf8_lossy(&buf[..n])
                        .lines()
                        .next()
                        .unwrap_or("")
                        .to_string(),
                );
                s.write_all(response.as_bytes()).await.unwrap();
            }
            seen
        });
        (port, task)
    }

    #[tokio::test]
    async fn redirects_are_followed_only_when_asked() {
        let moved = "HTTP/1.1 302 Found\r\nLocation: /new\r\nContent-Length: 0\r\n\r\n";
        let ok = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nnew";
        let (port, server) = serve(vec![moved, ok]).await;
        let mut req = HttpRequest::get(&format!("http://127.0.0.1:{port}/old"));
        req.follow_redirects = true;
        let resp = send(&LocalConnection, &req).await.unwrap();
        assert_eq!((resp.status, resp.body.as_slice()), (200, &b"new"[..]));
        assert!(resp.redirected);
        assert_eq!(resp.url, format!("http://127.0.0.1:{port}/new"));
        assert_eq!(
            server.await.unwrap(),
            ["GET /old HTTP/1.1", "GET /new HTTP/1.1"]
        );

        let (port, server) = serve(vec![moved]).await;
        let req = HttpRequest::get(&format!("http://127.0.0.1:{port}/old"));
        let resp = send(&LocalConnection, &req).await.unwrap();
        assert_eq!((resp.status, resp.redirected), (302, false));
        server.await.unwrap();
    }

    #[test]
    fn credentials_stay_with_their_origin() {
        let same = |a, b| same_origin(a, b);
        assert!(same("http://h:8/a", "http://H:8/b"));
        assert!(same("https://h/a", "https://h:443/b"));
        assert!(
            same("http://h/a", "https://h:80/b"),
            "an upgrade keeps them"
        );
        assert!(!same("http://h:8/a", "http://other:8/b"), "another host");
        assert!(!same("http://h:8/a", "http://h:9/b"), "another port");
        assert!(!same("https://h/a", "http://h:443/b"), "https down to http");
        let mut headers = vec![
            ("AUTHORIZATION".to_string(), "Bearer t".to_string()),
            ("Cookie".into(), "s=1".into()),
            ("X-Trace".into(), "1".into()),
        ];
        drop_credentials(&mut headers);
        assert_eq!(headers, [("X-Trace".to_string(), "1".to_string())]);
    }

    #[tokio::test]
    async fn a_silent_server_times_out() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut req = HttpRequest::get(&format!("http://127.0.0.1:{port}/"));
        req.timeout = Duration::from_millis(200);
        match send(&LocalConnection, &req).await {
            Err(ConnectionError::Failed(m)) => assert!(m.contains("timed out"), "{m}"),
            other => panic!("expected a timeout, got {other:?}"),
        }
        drop(listener);
    }
}
