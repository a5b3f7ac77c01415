//! `uri`: an HTTP request made from the host (through its connection's
//! forwarded channel, or curl when sshd refuses forwarding), or from the
//! controller with `delegate_to: localhost`. Results follow Ansible's
//! shape: `status`, `content`, `json`, and each response header as a
//! lowercase key (`content_type`).

use super::registry::Module;
use super::spec::{Kind, ModuleSpec, aliases, choices, p, required};
use super::{ModuleContext, TaskResult, Vars, arg_bool, arg_secs, arg_str};
use crate::core::display_text;
use crate::http::{self, HttpRequest, HttpResponse};
use base64::Engine as _;
use serde_json::{Map, Value as Json};
use std::time::Duration;

/// `uri`: what it accepts and how it runs.
pub const MODULE: Module = Module::new(
    ModuleSpec::new(
        "uri",
        &[
            required(p("url", Kind::Str)),
            p("method", Kind::Str),
            p("headers", Kind::Map),
            p("body", Kind::Any),
            choices(
                p("body_format", Kind::Str),
                &["raw", "json", "form-urlencoded"],
            ),
            p("status_code", Kind::Any),
            p("return_content", Kind::Bool),
            p("timeout", Kind::Duration),
            p("follow_redirects", Kind::Any),
            p("unix_socket", Kind::Str),
            aliases(p("url_username", Kind::Str), &["user"]),
            aliases(p("url_password", Kind::Str), &["password"]),
            p("force_basic_auth", Kind::Bool),
            p("validate_certs", Kind::Bool),
        ],
    ),
    |args, ctx| Box::pin(run(args, ctx)),
)
.without_check_mode();

pub async fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    let request = match build(args) {
        Ok(r) => r,
        Err(e) => return TaskResult::failed(e),
    };
    let expected = match expected_statuses(args) {
        Ok(codes) => codes,
        Err(e) => return TaskResult::failed(e),
    };
    let started = tokio::time::Instant::now();
    let outcome = http::send_or_curl(ctx.conn, &request).await;
    let elapsed = started.elapsed().as_secs();
    match outcome {
        Err(crate::connection::ConnectionError::Unreachable(m)) => TaskResult::unreachable(m),
        Err(e) => TaskResult::failed(format!(
            "Status code was -1 and not {expected:?}: Request failed: {e}"
        ))
        .with("status", -1)
        .with("url", request.url.clone())
        .with("elapsed", elapsed),
        Ok(response) => result(args, &request, &response, &expected).with("elapsed", elapsed),
    }
}

fn result(
    args: &Vars,
    request: &HttpRequest,
    response: &HttpResponse,
    expected: &[u16],
) -> TaskResult {
    let text = String::from_utf8_lossy(&response.body).into_owned();
    let ok = expected.contains(&response.status);
    let mut r = if ok {
        TaskResult::ok().with_msg(format!("OK ({} bytes)", response.body.len()))
    } else {
        TaskResult::failed(format!(
            "Status code was {} and not {expected:?}: {} {}",
            response.status, request.method, response.url
        ))
    };
    for (name, value) in &response.headers {
        r = r.with(&name.to_ascii_lowercase().replace('-', "_"), value.clone());
    }
    r = r
        .with("status", response.status)
        .with("url", response.url.clone())
        .with("redirected", response.redirected);
    // The body is kept when asked for, and always on failure to say why.
    if arg_bool(args, "return_content", false) || !ok {
        r = r.with("content", text.clone());
    }
    let is_json = response
        .header("content-type")
        .is_some_and(|t| t.contains("json"));
    if is_json && let Ok(value) = serde_json::from_str::<Json>(&text) {
        r = r.with("json", value);
    }
    r
}

fn build(args: &Vars) -> Result<HttpRequest, String> {
    let url = arg_str(args, "url").ok_or("url is required")?;
    let mut request = HttpRequest::get(url);
    request.method = arg_str(args, "method")
        .unwrap_or("GET")
        .to_ascii_uppercase();
    request.timeout = arg_secs(args, "timeout", 30.0)?.max(Duration::from_millis(100));
    request.follow_redirects = follows_redirects(args.get("follow_redirects"))?;
    request.validate_certs = arg_bool(args, "validate_certs", true);
    request.unix_socket = arg_str(args, "unix_socket").map(str::to_string);
    if let Some(Json::Object(headers)) = args.get("headers") {
        for (name, value) in headers {
            request.headers.push((name.clone(), display_text(value)));
        }
    } else if args.get("headers").is_some_and(|h| !h.is_null()) {
        return Err("headers must be a mapping of header names to values".into());
    }
    let (body, content_type) = body(args)?;
    request.body = body;
    if let Some(content_type) = content_type
        && !has_header(&request, "content-type")
    {
        request
            .headers
            .push(("Content-Type".into(), content_type.into()));
    }
    if let Some(user) = arg_str(args, "url_username") {
        let password = arg_str(args, "url_password").unwrap_or("");
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        if !has_header(&request, "authorization") {
            request
                .headers
                .push(("Authorization".into(), format!("Basic {token}")));
        }
    }
    Ok(request)
}

fn has_header(request: &HttpRequest, name: &str) -> bool {
    request
        .headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case(name))
}

/// Ansible's `follow_redirects`: `safe` (the default: GET and HEAD only),
/// `none`/`no`, and `all`/`yes`, which rollout also limits to GET and HEAD.
fn follows_redirects(value: Option<&Json>) -> Result<bool, String> {
    match value {
        None | Some(Json::Null) => Ok(true),
        Some(Json::Bool(b)) => Ok(*b),
        Some(Json::String(s)) => match s.as_str() {
            "safe" | "all" | "yes" | "urllib2" => Ok(true),
            "none" | "no" => Ok(false),
            other => Err(format!(
                "follow_redirects must be one of safe, all, none (not '{other}')"
            )),
        },
        Some(other) => Err(format!("follow_redirects must be a string, not {other}")),
    }
}

/// The request body and the content type its `body_format` implies.
fn body(args: &Vars) -> Result<(Vec<u8>, Option<&'static str>), String> {
    let Some(body) = args.get("body").filter(|b| !b.is_null()) else {
        return Ok((Vec::new(), None));
    };
    match arg_str(args, "body_format").unwrap_or("raw") {
        "raw" => Ok((display_text(body).into_bytes(), None)),
        "json" => {
            let text = match body {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            };
            Ok((text.into_bytes(), Some("application/json")))
        }
        "form-urlencoded" => {
            let Json::Object(fields) = body else {
                return Ok((display_text(body).into_bytes(), Some(FORM)));
            };
            Ok((form_encode(fields).into_bytes(), Some(FORM)))
        }
        other => Err(format!(
            "body_format must be raw, json or form-urlencoded (not '{other}')"
        )),
    }
}

const FORM: &str = "application/x-www-form-urlencoded";

fn form_encode(fields: &Map<String, Json>) -> String {
    let encode = |text: &str| {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(&display_text(v))))
        .collect::<Vec<_>>()
        .join("&")
}

/// `status_code`: one code or a list (default 200).
fn expected_statuses(args: &Vars) -> Result<Vec<u16>, String> {
    let parse = |v: &Json| {
        v.as_u64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .and_then(|n| u16::try_from(n).ok())
            .ok_or_else(|| format!("status_code must be HTTP status codes, not {v}"))
    };
    match args.get("status_code") {
        None | Some(Json::Null) => Ok(vec![200]),
        Some(Json::Array(items)) => items.iter().map(parse).collect(),
        Some(Json::String(s)) if s.contains(',') => s
            .split(',')
            .map(|part| parse(&Json::String(part.into())))
            .collect(),
        Some(one) => Ok(vec![parse(one)?]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote_file::test_support::args;
    use serde_json::json;

    #[test]
    fn requests_are_built_like_ansibles() {
        let r = build(&args(json!({
            "url": "http://h/x", "method": "post", "body_format": "json",
            "body": {"a": 1}, "headers": {"X-N": 2},
            "url_username": "u", "url_password": "p"
        })))
        .unwrap();
        assert_eq!(r.method, "POST");
        assert_eq!(r.body, br#"{"a":1}"#);
        assert!(r.headers.contains(&("X-N".into(), "2".into())));
        assert!(
            r.headers
                .contains(&("Content-Type".into(), "application/json".into()))
        );
        assert!(
            r.headers
                .contains(&("Authorization".into(), "Basic dTpw".into()))
        );
        assert!(r.follow_redirects);

        let r = build(&args(json!({
            "url": "http://h/", "body_format": "form-urlencoded",
            "body": {"name": "a b&c", "n": 1}, "follow_redirects": "none"
        })))
        .unwrap();
        assert_eq!(r.body, b"name=a+b%26c&n=1");
        assert!(!r.follow_redirects);
        assert!(
            build(&args(
                json!({"url": "http://h/", "body": "x", "body_format": "xml"})
            ))
            .is_err()
        );
        assert!(build(&args(json!({"url": "http://h/", "headers": "x"}))).is_err());
    }

    #[test]
    fn status_codes() {
        assert_eq!(expected_statuses(&args(json!({}))).unwrap(), [200]);
        assert_eq!(
            expected_statuses(&args(json!({"status_code": [200, "201"]}))).unwrap(),
            [200, 201]
        );
        assert_eq!(
            expected_statuses(&args(json!({"status_code": "200, 204"}))).unwrap(),
            [200, 204]
        );
        assert!(expected_statuses(&args(json!({"status_code": "ok"}))).is_err());
    }

    #[test]
    fn results_carry_status_headers_and_json() {
        let request = HttpRequest::get("http://h/");
        let response = HttpResponse {
            status: 503,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: br#"{"healthy": false}"#.to_vec(),
            url: "http://h/".into(),
            redirected: false,
        };
        let r = result(&args(json!({})), &request, &response, &[200]);
        assert!(r.failed);
        assert_eq!(r.data["status"], 503);
        assert_eq!(r.data["content_type"], "application/json");
        assert_eq!(r.data["json"], json!({"healthy": false}));
        assert!(r.data.contains_key("content"), "content is kept on failure");
        let r = result(&args(json!({})), &request, &response, &[503]);
        assert!(!r.failed && !r.data.contains_key("content"));
    }
}
