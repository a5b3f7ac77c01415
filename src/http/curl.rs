//! The fallback where the host's sshd refuses to forward channels: curl on
//! the host, configured entirely through its stdin.

use super::{HttpRequest, HttpResponse, MAX_REDIRECTS};
use crate::connection::{Connection, ConnectionError};

pub(super) async fn curl(
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
    let max_time = format!("max-time = {}", request.timeout.as_secs_f64().max(1.0));
    config(request, &["include".into(), max_time])
}

/// A curl config for a download that the command line sends to a file
/// (`-o`) with the heads on stdout (`-D -`): no limit on the whole
/// transfer, but connecting, and any stretch below 1 byte/s, fail after
/// `request.timeout` (curl's nearest to "no data for that long").
pub fn curl_download_config(request: &HttpRequest) -> Result<String, String> {
    let secs = request.timeout.as_secs_f64().max(1.0);
    config(
        request,
        &[
            format!("connect-timeout = {secs}"),
            "speed-limit = 1".into(),
            format!("speed-time = {}", secs.ceil()),
        ],
    )
}

/// The heads curl dumped (`-D -`) for a download: the final response,
/// with an empty body.
pub fn parse_curl_heads(heads: &[u8], request: &HttpRequest) -> Result<HttpResponse, String> {
    parse_curl_output(heads, request)
}

/// The config lines every request has, after `limits`.
fn config(request: &HttpRequest, limits: &[String]) -> Result<String, String> {
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
    let mut lines = vec!["silent".to_string(), "show-error".to_string()];
    lines.extend_from_slice(limits);
    lines.push(format!(
        "request = {}",
        quote(&request.method.to_ascii_uppercase())
    ));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::local::LocalConnection;
    use crate::http::tests::serve;

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
}
