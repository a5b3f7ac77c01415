//! Streaming a download into a temp file on the host, never whole in the
//! controller's memory: through the forwarded connection, chunk by chunk
//! into a remote `cat` (hashed on the way), or, where sshd refuses
//! forwarding, by curl on the host writing the file itself (hashed there).

use super::checksum::{Checksum, Hashes, Sums};
use crate::connection::ConnectionError;
use crate::core::shell_quote;
use crate::http::{self, Body, HttpRequest, HttpResponse};
use crate::modules::remote_file::{self, DIFF_MAX_BYTES, SHA1_FN, exec, printed_digest};
use crate::modules::{ModuleContext, TaskResult};
use tokio::io::AsyncWriteExt;

/// What the pipe to the host holds at most (backpressure beyond it).
const PIPE: usize = 64 * 1024;

/// A download written to the host, or its error response.
pub struct Staged {
    /// The final response's head (its body is empty).
    pub head: HttpResponse,
    /// The temp file on the host; `None` when nothing was written (an
    /// error status through forwarding, `--check` through forwarding).
    pub tmp: Option<String>,
    pub sums: Sums,
}

/// Downloads `request` into a temp file in `dest`'s directory (in `dest`
/// when it is one; under `--check`, only hashed, or with curl into the
/// host's `$TMPDIR`).
pub async fn stage(
    ctx: &ModuleContext<'_>,
    request: &HttpRequest,
    dest: &str,
    checksum: Option<&Checksum>,
) -> Result<Staged, TaskResult> {
    match http::send_streaming(ctx.conn, request).await {
        Ok((head, _)) if head.status != 200 => Ok(Staged {
            head,
            tmp: None,
            sums: Sums::default(),
        }),
        Ok((head, body)) => {
            through_connection(ctx, head, body, dest, checksum, request.timeout).await
        }
        Err(ConnectionError::ForwardingRefused(why)) => {
            with_curl(ctx, request, dest, checksum, &why).await
        }
        Err(e) => Err(TaskResult::from_connection(e)),
    }
}

/// Shell lines that pick the temp file `$tmp` beside the file to be
/// written and set a private umask and noclobber for creating it.
fn temp_file_lines(ctx: &ModuleContext<'_>, dest: &str) -> String {
    let name = shell_quote(&remote_file::temp_name());
    if ctx.check_mode {
        return format!("tmp=\"${{TMPDIR:-/tmp}}\"/{name}\numask 077\nset -C\n");
    }
    let make_dir = if dest.ends_with('/') {
        "mkdir -p -- \"$d\" || exit 1\n"
    } else {
        ""
    };
    format!(
        "d={}\n{make_dir}if [ -d \"$d\" ]; then dir=$d; else dir=$(dirname -- \"$d\"); fi\n\
         tmp=$dir/{name}\numask 077\nset -C\n",
        shell_quote(dest)
    )
}

/// The body, read chunk by chunk from the forwarded connection, hashed,
/// and fed to `cat` on the host through a bounded pipe.
async fn through_connection(
    ctx: &ModuleContext<'_>,
    head: HttpResponse,
    mut body: Body,
    dest: &str,
    checksum: Option<&Checksum>,
    idle: std::time::Duration,
) -> Result<Staged, TaskResult> {
    let mut hashes = Hashes::new(checksum, ctx.diff);
    if ctx.check_mode {
        while let Some(chunk) = body.chunk().await.map_err(TaskResult::from_connection)? {
            hashes.update(&chunk);
        }
        let sums = hashes.finish();
        return Ok(Staged {
            head,
            tmp: None,
            sums,
        });
    }
    let script = format!(
        "{}cat > \"$tmp\" || {{ printf 'cannot create temp file %s\\n' \"$tmp\" >&2; exit 1; }}\n\
         printf '%s' \"$tmp\"\n",
        temp_file_lines(ctx, dest)
    );
    let (mut to_host, from_controller) = tokio::io::duplex(PIPE);
    let feed = async {
        while let Some(chunk) = body.chunk().await? {
            hashes.update(&chunk);
            match tokio::time::timeout(idle, to_host.write_all(&chunk)).await {
                Ok(Ok(())) => {}
                // The host stopped reading: its error says why.
                Ok(Err(_)) => break,
                Err(_) => {
                    return Err(ConnectionError::Failed(format!(
                        "timed out: the host accepted no data for {}s (timeout)",
                        idle.as_secs_f32()
                    )));
                }
            }
        }
        // The end of input: `cat` finishes the file.
        drop(to_host);
        Ok(())
    };
    let write = ctx.conn.exec_streaming(&script, Box::new(from_controller));
    let (fed, written) = tokio::join!(feed, write);
    let out = written.map_err(TaskResult::from_connection)?;
    if out.rc != 0 {
        return Err(TaskResult::failed(format!(
            "writing the download to the host failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let tmp = String::from_utf8_lossy(&out.stdout).into_owned();
    if let Err(e) = fed {
        // A cut download leaves nothing behind.
        discard(ctx, Some(&tmp)).await;
        return Err(TaskResult::from_connection(e));
    }
    Ok(Staged {
        head,
        tmp: Some(tmp),
        sums: hashes.finish(),
    })
}

/// curl on the host writes the body to the temp file itself; the host
/// hashes it. Its output: the temp file's path, size, sha1, the digest
/// asked for, curl's heads and (for `--diff`) the first bytes, each ended
/// by a NUL (heads cannot hold one; the bytes come last).
async fn with_curl(
    ctx: &ModuleContext<'_>,
    request: &HttpRequest,
    dest: &str,
    checksum: Option<&Checksum>,
    refused: &str,
) -> Result<Staged, TaskResult> {
    let config = http::curl_download_config(request).map_err(TaskResult::failed)?;
    let digest = checksum.map_or(":".to_string(), |c| {
        format!(
            "if command -v {a}sum >/dev/null 2>&1; then {a}sum; else openssl dgst -{a}; fi",
            a = c.algorithm
        )
    });
    let first_bytes = if ctx.diff {
        format!("head -c {} -- \"$tmp\"", DIFF_MAX_BYTES + 1)
    } else {
        ":".to_string()
    };
    let script = format!(
        "{}: > \"$tmp\" || {{ printf 'cannot create temp file %s\\n' \"$tmp\" >&2; exit 1; }}\nset +C\n\
         heads=$(curl --config - --dump-header - --output \"$tmp\"); r=$?\n\
         if [ $r -ne 0 ]; then rm -f -- \"$tmp\"; exit $r; fi\n{SHA1_FN}\n\
         printf '%s\\0' \"$tmp\"; wc -c < \"$tmp\"; printf '\\0'; h < \"$tmp\"; printf '\\0'\n\
         {digest} < \"$tmp\"; printf '\\0%s\\n\\0' \"$heads\"; {first_bytes}\n",
        temp_file_lines(ctx, dest)
    );
    let out = exec(ctx, &script, Some(config.as_bytes())).await?;
    match out.rc {
        0 => {}
        127 => {
            return Err(TaskResult::failed(format!(
                "{refused}; and curl, the fallback, is not installed on the host"
            )));
        }
        rc => {
            return Err(TaskResult::failed(format!(
                "GET {} with curl on the host (sshd refuses forwarding) failed (rc {rc}): {}",
                request.url,
                String::from_utf8_lossy(&out.stderr).trim()
            ))
            .with("rc", rc));
        }
    }
    let mut fields = out.stdout.splitn(6, |&b| b == 0);
    let mut text = || String::from_utf8_lossy(fields.next().unwrap_or_default()).into_owned();
    let (tmp, size, sha1, digest, heads) = (text(), text(), text(), text(), text());
    let head_bytes = fields.next().unwrap_or_default().to_vec();
    let unreadable = || TaskResult::failed("the host printed no checksum of the download");
    let sums = Sums {
        size: size.trim().parse().unwrap_or(0),
        sha1: printed_digest(&sha1, 40).ok_or_else(unreadable)?,
        digest: match checksum {
            Some(c) => Some(printed_digest(&digest, c.hex_len()).ok_or_else(unreadable)?),
            None => None,
        },
        head: head_bytes,
    };
    let head = match http::parse_curl_heads(heads.as_bytes(), request) {
        Ok(head) => head,
        Err(e) => {
            discard(ctx, Some(&tmp)).await;
            return Err(TaskResult::failed(e));
        }
    };
    Ok(Staged {
        head,
        tmp: Some(tmp),
        sums,
    })
}

/// Removes a temp file that will not be used (best effort: it is hidden,
/// and named for this run).
pub async fn discard(ctx: &ModuleContext<'_>, tmp: Option<&str>) {
    if let Some(tmp) = tmp {
        let _ = ctx
            .conn
            .exec(&format!("rm -f -- {}", shell_quote(tmp)), None)
            .await;
    }
}
