//! One HTTP/1.1 exchange (hyper) over any byte stream.

use super::{Body, HttpRequest, HttpResponse, Url};
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

/// Runs one HTTP/1.1 exchange over any byte stream and reads the whole
/// body. The caller bounds the time it takes.
pub async fn exchange<S>(stream: S, request: &HttpRequest) -> Result<HttpResponse, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut response, body) = exchange_head(stream, request).await?;
    response.body = body.collect().await.map_err(|e| e.to_string())?;
    Ok(response)
}

/// Sends the request and reads the response's head; the body (left empty
/// in the response) is read from the returned [`Body`], each read bounded
/// by `request.timeout`. The caller bounds the time the head takes.
pub async fn exchange_head<S>(
    stream: S,
    request: &HttpRequest,
) -> Result<(HttpResponse, Body), String>
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
    // The connection future does the I/O until the body is read or dropped.
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    let what = format!("{} {}", request.method, request.url);
    let response = match sender.send_request(req).await {
        Ok(response) => response,
        Err(e) => {
            driver.abort();
            return Err(format!("{what}: {e}"));
        }
    };
    let (parts, incoming) = response.into_parts();
    let head = HttpResponse {
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
        body: Vec::new(),
        url: request.url.clone(),
        redirected: false,
    };
    Ok((head, Body::new(incoming, driver, request.timeout, what)))
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
