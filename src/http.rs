//! HTTP/1.1 (hyper) over a byte stream that a [`Connection`] opens *from the
//! host*: a forwarded TCP connection or unix socket over SSH, or a plain
//! socket on the controller for `ansible_connection: local` and
//! `delegate_to: localhost`. Used by `uri`, `get_url`, `wait_for`, IMDSv2
//! and webhooks. `https://` runs TLS (rustls) over the same stream, so the
//! controller verifies the server's certificate against its trusted roots
//! (the system's, or `SSL_CERT_FILE` / `SSL_CERT_DIR`) even when the
//! request leaves from the host.

use crate::connection::{Connection, ConnectionError};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// Redirects followed at most, as curl's and Ansible's default bound.
const MAX_REDIRECTS: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    /// `http(s)://host[:port]/path?query`; the host is resolved on the remote side.
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Bounds the whole exchange, redirects included.
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
        let mut current = request.clone();
        let mut redirected = false;
        for _ in 0..=MAX_REDIRECTS {
            let mut response = send_once(conn, &current).await?;
            response.redirected = redirected;
            match redirect_target(&current, &response)? {
                Some(next) if request.follow_redirects => {
                    current.url = next;
                    redirected = true;
                }
                _ => return Ok(response),
            }
        }
        Err(ConnectionError::Failed(format!(
            "{}: more than {MAX_REDIRECTS} redirects",
            request.url
        )))
    };
    tokio::time::timeout(request.timeout, exchange)
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

async fn curl(
    conn: &dyn Connection,
    request: &HttpRequest,
    refused: &str,
) -> Result<HttpResponse, ConnectionError> {
    let config = curl_config(request).map_err(ConnectionError::Failed)?;
    let out = conn
        .exec("curl --config -", Some(config.as_bytes()))
        .await?;
    match out.rc {
        0 => parse_curl_output(&out.stdout, request).map_err(ConnectionError::Failed),
        127 => Err(ConnectionError::Failed(format!(
            "{refused}; and curl, the fallback, is not installed on the host"
        ))),
        rc => Err(ConnectionError::Failed(format!(
            "{} {} with curl on the host (sshd refuses forwarding) failed (rc {rc}): {}",
            request.method,
            request.url,
            String::from_utf8_lossy(&out.stderr).trim()
        ))),
    }
}

/// A curl config file (`curl --config -`) for `request`; `-i` puts the
/// response head before the body so that status and headers can be read.
fn curl_config(request: &HttpRequest) -> Result<String, String> {
    if request.body.contains(&0) {
        return Err(format!(
            "{}: a binary request body cannot be sent through curl (sshd on this host refuses \
             forwarding)",
            request.url
        ));
    }
    let quote = |text: &str| {
        let escaped = text
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
            .replace('\r', "\\r")
            .replace('\t', "\\t");
        format!("\"{escaped}\"")
    };
    let mut lines = vec![
        "silent".to_string(),
        "show-error".to_string(),
        "include".to_string(),
        format!("request = {}", quote(&request.method.to_ascii_uppercase())),
        format!("max-time = {}", request.timeout.as_secs_f64().max(1.0)),
    ];
    if request.follow_redirects {
        lines.push("location".into());
        lines.push(format!("max-redirs = {MAX_REDIRECTS}"));
    }
    for (name, value) in &request.headers {
        lines.push(format!("header = {}", quote(&format!("{name}: {value}"))));
    }
    if let Some(path) = &request.unix_socket {
        lines.push(format!("unix-socket = {}", quote(path)));
    }
    if !request.validate_certs {
        lines.push("insecure".into());
    }
    if !request.body.is_empty() {
        let body = String::from_utf8_lossy(&request.body);
        lines.push(format!("data-binary = {}", quote(&body)));
    }
    lines.push(format!("url = {}", quote(&request.url)));
    Ok(lines.join("\n") + "\n")
}

/// Reads `curl -i` output: one head per response (interim 1xx, and each
/// redirect curl followed), then the final body.
fn parse_curl_output(stdout: &[u8], request: &HttpRequest) -> Result<HttpResponse, String> {
    let mut rest = stdout;
    let mut redirects = 0;
    loop {
        let end = find(rest, b"\r\n\r\n")
            .ok_or_else(|| format!("{}: curl printed no HTTP response head", request.url))?;
        let head = String::from_utf8_lossy(&rest[..end]).into_owned();
        rest = &rest[end + 4..];
        let mut lines = head.lines();
        let status: u16 = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| format!("{}: curl printed no HTTP status line", request.url))?;
        let more = rest.starts_with(b"HTTP/");
        if more && (100..200).contains(&status) {
            continue;
        }
        if more && (300..400).contains(&status) && request.follow_redirects {
            redirects += 1;
            continue;
        }
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        return Ok(HttpResponse {
            status,
            headers,
            body: rest.to_vec(),
            url: request.url.clone(),
            redirected: redirects > 0,
        });
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

async fn send_once(
    conn: &dyn Connection,
    request: &HttpRequest,
) -> Result<HttpResponse, ConnectionError> {
    let url = Url::parse(&request.url).map_err(ConnectionError::Failed)?;
    let stream = match &request.unix_socket {
        Some(path) => conn.open_unix(path).await?,
        None => conn.open_tcp(&url.host, url.port).await?,
    };
    let answer = if url.tls {
        let config = tls_config(request.validate_certs).map_err(ConnectionError::Failed)?;
        exchange(tls_handshake_with(config, stream, &url).await?, request).await
    } else {
        exchange(stream, request).await
    };
    answer.map_err(ConnectionError::Failed)
}

/// TLS over `stream` for `url`'s host, as `config` verifies it.
async fn tls_handshake_with<S>(
    config: Arc<rustls::ClientConfig>,
    stream: S,
    url: &Url,
) -> Result<tokio_rustls::client::TlsStream<S>, ConnectionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let name = rustls::pki_types::ServerName::try_from(url.host.clone()).map_err(|e| {
        ConnectionError::Failed(format!("{}: not a TLS server name: {e}", url.host))
    })?;
    tokio_rustls::TlsConnector::from(config)
        .connect(name, stream)
        .await
        .map_err(|e| ConnectionError::Failed(format!("TLS with {}: {e}", url.authority)))
}

/// The TLS client settings, built once: the system's trusted roots (or
/// those `SSL_CERT_FILE` / `SSL_CERT_DIR` name), safe protocol versions;
/// with `verify` false (`validate_certs: false`) any certificate passes.
fn tls_config(verify: bool) -> Result<Arc<rustls::ClientConfig>, String> {
    static VERIFIED: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    static UNVERIFIED: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    if !verify {
        let config = UNVERIFIED.get_or_init(|| {
            let any = AnyCertificate(Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
            let config = client_builder()
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(any))
                .with_no_client_auth();
            Arc::new(config)
        });
        return Ok(config.clone());
    }
    VERIFIED
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let mut roots = rustls::RootCertStore::empty();
            let (_added, _unusable) = roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                let errors: Vec<String> = found.errors.iter().map(|e| e.to_string()).collect();
                return Err(format!(
                    "https: no trusted CA certificates found ({}); install ca-certificates or \
                     set SSL_CERT_FILE",
                    if errors.is_empty() {
                        "none installed".to_string()
                    } else {
                        errors.join("; ")
                    }
                ));
            }
            Ok(Arc::new(trusting(roots)))
        })
        .clone()
}

/// TLS client settings that verify servers against `roots`.
fn trusting(roots: rustls::RootCertStore) -> rustls::ClientConfig {
    client_builder()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// The start of every TLS client config: aws-lc, safe protocol versions.
fn client_builder() -> rustls::ConfigBuilder<rustls::ClientConfig, rustls::WantsVerifier> {
    rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("the default provider supports the safe protocol versions")
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

/// Runs one HTTP/1.1 exchange over any byte stream. The caller bounds the
/// time it takes.
pub async fn exchange<S>(stream: S, request: &HttpRequest) -> Result<HttpResponse, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let url = Url::parse(&request.url)?;
    let method = hyper::Method::from_bytes(request.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| format!("invalid HTTP method '{}'", request.method))?;
    let mut builder = hyper::Request::builder().method(method).uri(&url.path);
    if !request
        .headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("host"))
    {
        builder = builder.header(hyper::header::HOST, &url.authority);
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
        url: request.url.clone(),
        redirected: false,
    })
}

/// The parts of an `http://` or `https://` URL that a request needs.
#[derive(Debug, PartialEq, Eq)]
pub struct Url {
    /// `https://`: TLS over the stream.
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// `host[:port]`, for the Host header.
    pub authority: String,
    /// Path and query, `/` when empty.
    pub path: String,
}

impl Url {
    pub fn parse(url: &str) -> Result<Url, String> {
        let uri: hyper::Uri = url.parse().map_err(|e| format!("invalid URL {url}: {e}"))?;
        let tls = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            Some(other) => {
                return Err(format!(
                    "{url}: only http:// and https:// are supported, not {other}://"
                ));
            }
            None => return Err(format!("invalid URL {url}: no http:// or https:// scheme")),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| format!("invalid URL {url}: no host"))?;
        Ok(Url {
            tls,
            host: authority
                .host()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port: authority.port_u16().unwrap_or(if tls { 443 } else { 80 }),
            authority: authority.as_str().to_string(),
            path: uri
                .path_and_query()
                .map(|p| p.as_str())
                .filter(|p| !p.is_empty())
                .unwrap_or("/")
                .to_string(),
        })
    }
}

/// `validate_certs: false`: accepts any certificate and name, but still
/// checks the handshake's signatures (the session is encrypted, not
/// authenticated).
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

impl Url {
    pub fn scheme(&self) -> &'static str {
        if self.tls { "https" } else { "http" }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::local::LocalConnection;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn urls() {
        let url = Url::parse("http://169.254.169.254/latest/api/token").unwrap();
        assert_eq!(
            (url.host.as_str(), url.port, url.authority.as_str()),
            ("169.254.169.254", 80, "169.254.169.254")
        );
        assert_eq!(Url::parse("http://[::1]:8080/x").unwrap().host, "::1");
        assert_eq!(Url::parse("http://h:1").unwrap().path, "/");
        let url = Url::parse("https://x/y").unwrap();
        assert_eq!((url.tls, url.port, url.scheme()), (true, 443, "https"));
        assert!(
            Url::parse("ftp://x/")
                .unwrap_err()
                .contains("only http:// and https://")
        );
        assert!(Url::parse("x/y").is_err());
    }

    #[tokio::test]
    async fn exchange_over_a_plain_stream() {
        let (client, mut server) = tokio::io::duplex(4096);
        let serve = tokio::spawn(async move {
            let mut buf = vec![0; 4096];
            let n = server.read(&mut buf).await.unwrap();
            let head = String::from_utf8_lossy(&buf[..n]).to_string();
            server
                .write_all(b"HTTP/1.1 201 Created\r\nX-Test: yes\r\nContent-Length: 2\r\n\r\nok")
                .await
                .unwrap();
            head
        });
        let mut req = HttpRequest::get("http://example:8080/p?q=1").header("X-Token", "t");
        req.method = "put".into();
        let resp = exchange(client, &req).await.unwrap();
        assert_eq!(
            (resp.status, resp.body.as_slice(), resp.header("x-test")),
            (201, &b"ok"[..], Some("yes"))
        );
        let head = serve.await.unwrap();
        assert!(head.starts_with("PUT /p?q=1 HTTP/1.1\r\n"), "{head}");
        assert!(head.to_lowercase().contains("host: example:8080"), "{head}");
        assert!(head.to_lowercase().contains("x-token: t"), "{head}");
    }

    /// Answers each connection with the next canned response.
    async fn serve(responses: Vec<&'static str>) -> (u16, tokio::task::JoinHandle<Vec<String>>) {
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

    fn fixture(name: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/tls")
            .join(name)
    }

    /// A TLS listener on 127.0.0.1 with the test certificate, answering once.
    async fn tls_server() -> u16 {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certs = CertificateDer::pem_file_iter(fixture("cert.pem"))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(fixture("key.pem")).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    continue;
                };
                let mut buf = vec![0; 4096];
                let _ = tls.read(&mut buf).await;
                let _ = tls
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecret")
                    .await;
                let _ = tls.shutdown().await;
            }
        });
        port
    }

    fn client_trusting_the_test_ca() -> Arc<rustls::ClientConfig> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(fixture("ca.pem")).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
        Arc::new(trusting(roots))
    }

    #[tokio::test]
    async fn https_verifies_the_certificate_and_its_name() {
        let port = tls_server().await;
        let config = client_trusting_the_test_ca();
        let open = || tokio::net::TcpStream::connect(("127.0.0.1", port));
        // Trusted, and issued for 127.0.0.1: the exchange goes through.
        let url = Url::parse(&format!("https://127.0.0.1:{port}/s")).unwrap();
        let tls = tls_handshake_with(config.clone(), open().await.unwrap(), &url)
            .await
            .unwrap();
        let request = HttpRequest::get(&format!("https://127.0.0.1:{port}/s"));
        let response = exchange(tls, &request).await.unwrap();
        assert_eq!(
            (response.status, response.body.as_slice()),
            (200, &b"secret"[..])
        );
        // The same server under a name its certificate does not have.
        let url = Url::parse(&format!("https://other.example:{port}/s")).unwrap();
        let err = tls_handshake_with(config, open().await.unwrap(), &url)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("TLS with other.example") && err.contains("certificate"),
            "{err}"
        );
        // No trust in the test CA: refused.
        let empty = Arc::new(trusting(rustls::RootCertStore::empty()));
        let url = Url::parse(&format!("https://127.0.0.1:{port}/s")).unwrap();
        let err = tls_handshake_with(empty, open().await.unwrap(), &url)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("UnknownIssuer"), "{err}");
        // validate_certs: false accepts it, under any name.
        let url = Url::parse(&format!("https://other.example:{port}/s")).unwrap();
        let tls = tls_handshake_with(tls_config(false).unwrap(), open().await.unwrap(), &url)
            .await
            .unwrap();
        let response = exchange(tls, &request).await.unwrap();
        assert_eq!(response.status, 200);
    }

    #[test]
    fn curl_config_quotes_everything() {
        let mut req = HttpRequest::get("http://h/x").header("X-T", "a\"b\\c");
        req.method = "put".into();
        req.body = b"line1\nline2".to_vec();
        let config = curl_config(&req).unwrap();
        assert!(config.contains("request = \"PUT\"\n"), "{config}");
        assert!(
            config.contains("header = \"X-T: a\\\"b\\\\c\"\n"),
            "{config}"
        );
        assert!(
            config.contains("data-binary = \"line1\\nline2\"\n"),
            "{config}"
        );
        assert!(config.ends_with("url = \"http://h/x\"\n"), "{config}");
        req.body = vec![0];
        assert!(curl_config(&req).is_err());
    }

    #[test]
    fn curl_output_skips_interim_and_redirect_heads() {
        let mut req = HttpRequest::get("http://h/x");
        req.follow_redirects = true;
        let out = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 302 Found\r\nLocation: /y\r\n\r\n\
                    HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nHTTP/ in the body";
        let resp = parse_curl_output(out, &req).unwrap();
        assert_eq!(resp.status, 200);
        assert!(resp.redirected);
        assert_eq!(resp.header("content-type"), Some("text/plain"));
        assert_eq!(resp.body, b"HTTP/ in the body");
        assert!(parse_curl_output(b"garbage", &req).is_err());
    }

    #[tokio::test]
    async fn curl_fallback_reaches_a_real_server() {
        let ok = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello";
        let (port, server) = serve(vec![ok]).await;
        let req = HttpRequest::get(&format!("http://127.0.0.1:{port}/c")).header("X-Token", "t");
        if std::process::Command::new("curl")
            .arg("--version")
            .output()
            .is_err()
        {
            panic!("curl is needed for this test (scripts/setup installs it)");
        }
        let resp = curl(&LocalConnection, &req, "refused").await.unwrap();
        assert_eq!((resp.status, resp.body.as_slice()), (200, &b"hello"[..]));
        assert_eq!(resp.header("x-a"), Some("b"));
        assert_eq!(server.await.unwrap(), ["GET /c HTTP/1.1"]);
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
