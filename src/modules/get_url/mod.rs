//! `get_url`: download a URL from the host's side (its forwarded channel,
//! or curl when sshd refuses forwarding) and put it at `dest` with copy's
//! semantics (atomic rename, mode/owner/group, backup, `--check`,
//! `--diff`). As in Ansible, an existing `dest` is left alone unless
//! `force: true` or a `checksum` is given; a download whose checksum does
//! not match is never written.
//!
//! The body streams to a temp file on the host (`stage.rs`), hashed on the
//! way (`checksum.rs`), so memory stays bounded whatever its size; `timeout`
//! bounds each read, not the whole transfer.

mod checksum;
mod stage;

use super::copy::{self, Payload, Staged};
use super::registry::Module;
use super::remote_file;
use super::spec::{ATTRS, Kind, ModuleSpec, p, required};
use super::{ModuleContext, TaskResult, Vars, arg_bool, arg_secs, arg_str};
use crate::core::display_text;
use crate::http::HttpRequest;
use checksum::Checksum;
use serde_json::Value as Json;
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
        let probe = remote_file::probe_followed(ctx, dest).await?;
        if probe.exists() && probe.kind != remote_file::FileKind::Directory {
            return Ok(remote_file::add_file_fields(
                TaskResult::ok().with("url", url).with("dest", dest),
                &probe,
            )
            .with_msg("file already exists; set force: true to download it again"));
        }
    }
    let staged = stage::stage(ctx, &request(args, url)?, dest, expected.as_ref())
        .await
        .map_err(|r| r.with("url", url))?;
    let response = &staged.head;
    if response.status != 200 {
        stage::discard(ctx, staged.tmp.as_deref()).await;
        return Err(TaskResult::failed(format!(
            "Request failed: HTTP {} from {}",
            response.status, response.url
        ))
        .with("status_code", response.status)
        .with("url", url));
    }
    if let Some(expected) = &expected {
        let actual = staged.sums.digest.as_deref().unwrap_or_default();
        if let Err(r) = expected.verify(actual, dest) {
            stage::discard(ctx, staged.tmp.as_deref()).await;
            return Err(r);
        }
    }
    let payload = Payload {
        bytes: staged.sums.head.clone(),
        staged: Some(Staged {
            tmp: staged.tmp.clone(),
            sha1: staged.sums.sha1.clone(),
            used: Default::default(),
        }),
        origin: None,
        file_name: file_name(&response.url),
        local_mode: None,
    };
    // Past the checks above, the download replaces what differs.
    let mut deliver_args = args.clone();
    deliver_args.insert("force".into(), Json::Bool(true));
    let result = copy::deliver(&deliver_args, ctx, &payload).await;
    let used = payload
        .staged
        .as_ref()
        .is_some_and(|s| s.used.load(std::sync::atomic::Ordering::Relaxed));
    if !used {
        // Unchanged, --check, or stopped before the upload.
        stage::discard(ctx, staged.tmp.as_deref()).await;
    }
    Ok(result
        .with("url", url)
        .with("status_code", response.status)
        .with("size", staged.sums.size))
}

fn request(args: &Vars, url: &str) -> Result<HttpRequest, TaskResult> {
    let mut request = HttpRequest::get(url);
    request.follow_redirects = true;
    // With a streamed body, the head and then each read.
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

#[cfg(test)]
mod tests {
    use super::*;

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
