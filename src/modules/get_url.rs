//! `get_url`: download a URL from the host's side (its forwarded channel,
//! or curl when sshd refuses forwarding) and put it at `dest` with copy's
//! semantics (atomic rename, mode/owner/group, backup, `--check`,
//! `--diff`). As in Ansible, an existing `dest` is left alone unless
//! `force: true` or a `checksum` is given; a download whose checksum does
//! not match is never written.

use super::copy::{self, Payload};
use super::registry::Module;
use super::remote_file::{self, ProbeRequest};
use super::spec::{ATTRS, Kind, ModuleSpec, p, required};
use super::{ModuleContext, TaskResult, Vars, arg_bool, arg_secs, arg_str};
use crate::core::display_text;
use crate::http::{self, HttpRequest};
use serde_json::Value as Json;
use sha2::Digest;
use std::time::Duration;

/// `get_url`: what it accepts and how it runs.
pub const MODULE: Module = Module::new(
    ModuleSpec::new(
        "get_url",
        &[
            required(p("url", Kind::Str)),
            required(p("dest", Kind::Str)),
            ATTRS[0],
            ATTRS[1],
            ATTRS[2],
            p("backup", Kind::Bool),
            p("force", Kind::Bool),
            p("checksum", Kind::Str),
            p("headers", Kind::Map),
            p("timeout", Kind::Duration),
            p("validate_certs", Kind::Bool),
        ],
    ),
    |args, ctx| Box::pin(run(args, ctx)),
);

pub async fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    match try_run(args, ctx).await {
        Ok(r) | Err(r) => r,
    }
}

async fn try_run(args: &Vars, ctx: &ModuleContext<'_>) -> Result<TaskResult, TaskResult> {
    let url = arg_str(args, "url").ok_or_else(|| TaskResult::failed("url is required"))?;
    let dest = arg_str(args, "dest").ok_or_else(|| TaskResult::failed("dest is required"))?;
    let expected = arg_str(args, "checksum")
        .map(Checksum::parse)
        .transpose()
        .map_err(TaskResult::failed)?;
    if !arg_bool(args, "force", false) && expected.is_none() {
        let probe = remote_file::probe(
            ctx,
            &ProbeRequest {
                path: dest,
                follow: true,
                ..Default::default()
            },
        )
        .await?;
        if probe.exists() && probe.kind != remote_file::FileKind::Directory {
            return Ok(remote_file::add_file_fields(
                TaskResult::ok().with("url", url).with("dest", dest),
                &probe,
            )
            .with_msg("file already exists; set force: true to download it again"));
        }
    }
    let response = http::send_or_curl(ctx.conn, &request(args, url)?)
        .await
        .map_err(|e| TaskResult::from_connection(e).with("url", url))?;
    if response.status != 200 {
        return Err(TaskResult::failed(format!(
            "Request failed: HTTP {} from {}",
            response.status, response.url
        ))
        .with("status_code", response.status)
        .with("url", url));
    }
    if let Some(expected) = &expected {
        expected.verify(&response.body, dest)?;
    }
    let payload = Payload {
        bytes: response.body,
        origin: None,
        file_name: file_name(&response.url),
        local_mode: None,
    };
    // Past the checks above, the download replaces what differs.
    let mut deliver_args = args.clone();
    deliver_args.insert("force".into(), Json::Bool(true));
    let result = copy::deliver(&deliver_args, ctx, &payload).await;
    Ok(result
        .with("url", url)
        .with("status_code", response.status)
        .with("size", payload.bytes.len()))
}

fn request(args: &Vars, url: &str) -> Result<HttpRequest, TaskResult> {
    let mut request = HttpRequest::get(url);
    request.follow_redirects = true;
    request.validate_certs = arg_bool(args, "validate_certs", true);
    request.timeout = arg_secs(args, "timeout", 10.0)
        .map_err(TaskResult::failed)?
        .max(Duration::from_millis(100));
    match args.get("headers") {
        None | Some(Json::Null) => {}
        Some(Json::Object(headers)) => {
            for (name, value) in headers {
                request.headers.push((name.clone(), display_text(value)));
            }
        }
        Some(_) => return Err(TaskResult::failed("headers must be a mapping")),
    }
    Ok(request)
}

/// The file name to use when `dest` is a directory: the URL's last segment.
fn file_name(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next()?;
    let name = path.rsplit('/').next()?;
    (!name.is_empty() && !path.ends_with("//") && path.matches('/').count() > 2)
        .then(|| name.to_string())
}

/// `checksum: sha256:abc…` (also md5, sha1, sha224, sha384, sha512).
struct Checksum {
    algorithm: String,
    hex: String,
}

impl Checksum {
    fn parse(text: &str) -> Result<Checksum, String> {
        let (algorithm, hex) = text.split_once(':').ok_or_else(|| {
            format!("checksum '{text}' must be <algorithm>:<hex digest>, e.g. sha256:9f86d0…")
        })?;
        let algorithm = algorithm.trim().to_ascii_lowercase();
        if digest(&algorithm, b"").is_none() {
            return Err(format!(
                "checksum algorithm '{algorithm}' is not one of md5, sha1, sha224, sha256, sha384, sha512"
            ));
        }
        Ok(Checksum {
            algorithm,
            hex: hex.trim().to_ascii_lowercase(),
        })
    }

    fn verify(&self, data: &[u8], dest: &str) -> Result<(), TaskResult> {
        let actual = digest(&self.algorithm, data).unwrap_or_default();
        if actual == self.hex {
            return Ok(());
        }
        Err(TaskResult::failed(format!(
            "The checksum for {dest} did not match {}:{}; it was {actual}. Nothing was written",
            self.algorithm, self.hex
        )))
    }
}

fn digest(algorithm: &str, data: &[u8]) -> Option<String> {
    Some(match algorithm {
        "md5" => hex::encode(md5::Md5::digest(data)),
        "sha1" => remote_file::sha1_hex(data),
        "sha224" => hex::encode(sha2::Sha224::digest(data)),
        "sha256" => hex::encode(sha2::Sha256::digest(data)),
        "sha384" => hex::encode(sha2::Sha384::digest(data)),
        "sha512" => hex::encode(sha2::Sha512::digest(data)),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums() {
        let c = Checksum::parse(
            "SHA256: 2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824",
        )
        .unwrap();
        assert!(c.verify(b"hello", "/d").is_ok());
        let err = c.verify(b"hellO", "/d").unwrap_err();
        assert!(err.msg.unwrap().contains("did not match"));
        assert!(Checksum::parse("nocolon").is_err());
        assert!(Checksum::parse("crc32:00").is_err());
        assert_eq!(
            digest("md5", b"").unwrap(),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
    }

    #[test]
    fn file_names_from_urls() {
        assert_eq!(
            file_name("http://h/a/app-2.0.tar.gz?x=1").as_deref(),
            Some("app-2.0.tar.gz")
        );
        assert_eq!(file_name("http://h/"), None);
        assert_eq!(file_name("http://h"), None);
    }
}
