//! One HTTP/1.1 exchange (hyper) over any byte stream.

use super::{HttpRequest, HttpResponse, Url};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

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
}
