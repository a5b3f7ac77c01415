//! `ansible_connection: local`: commands run on the controller under /bin/sh.

use super::output::Capped;
use super::{BoxStream, Connection, ConnectionError, ExecOutput, InputStream};
use async_trait::async_trait;
use std::process::Stdio;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

#[derive(Debug, Default)]
pub struct LocalConnection;

#[async_trait]
impl Connection for LocalConnection {
    async fn exec(
        &self,
        command: &str,
        stdin: Option<&[u8]>,
    ) -> Result<ExecOutput, ConnectionError> {
        run(command, stdin).await
    }

    async fn exec_streaming(
        &self,
        command: &str,
        stdin: InputStream,
    ) -> Result<ExecOutput, ConnectionError> {
        run(command, Some(stdin)).await
    }

    async fn open_tcp(&self, host: &str, port: u16) -> Result<BoxStream, ConnectionError> {
        let stream = tokio::net::TcpStream::connect((host, port))
            .await
            .map_err(|e| {
                ConnectionError::Failed(format!("cannot connect to {host}:{port}: {e}"))
            })?;
        Ok(Box::new(stream))
    }

    async fn open_unix(&self, path: &str) -> Result<BoxStream, ConnectionError> {
        let stream = tokio::net::UnixStream::connect(path).await.map_err(|e| {
            ConnectionError::Failed(format!("cannot connect to unix socket {path}: {e}"))
        })?;
        Ok(Box::new(stream))
    }
}

/// Runs `command` under /bin/sh, feeding `stdin` while reading its output.
async fn run(
    command: &str,
    stdin: Option<impl AsyncRead + Unpin>,
) -> Result<ExecOutput, ConnectionError> {
    let mut child = tokio::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(command)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| ConnectionError::Failed(format!("cannot start /bin/sh: {e}")))?;
    let feed = async {
        if let (Some(mut data), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // A command that exits without reading its input is not an error.
            let _ = tokio::io::copy(&mut data, &mut pipe).await;
            let _ = pipe.shutdown().await;
        }
    };
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let ((), (stdout, stdout_truncated), (stderr, stderr_truncated)) =
        tokio::join!(feed, read_capped(stdout), read_capped(stderr));
    let status = child
        .wait()
        .await
        .map_err(|e| ConnectionError::Failed(format!("waiting for command: {e}")))?;
    Ok(ExecOutput {
        // A signal-killed command has no code; report it like a shell (128+n).
        rc: status.code().unwrap_or_else(|| {
            use std::os::unix::process::ExitStatusExt;
            128 + status.signal().unwrap_or(0)
        }),
        stdout,
        stderr,
        stdout_truncated,
        stderr_truncated,
    })
}

/// A pipe read to its end, keeping what [`Capped`] keeps.
async fn read_capped(pipe: Option<impl AsyncRead + Unpin>) -> (Vec<u8>, bool) {
    let mut out = Capped::new();
    if let Some(mut pipe) = pipe {
        let mut buf = vec![0; 64 * 1024];
        while let Ok(n @ 1..) = pipe.read(&mut buf).await {
            out.push(&buf[..n]);
        }
    }
    out.finish_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_with_stdin_and_rc() {
        let c = LocalConnection;
        let out = c
            .exec("cat; echo err >&2; exit 3", Some(b"in"))
            .await
            .unwrap();
        assert_eq!(out.rc, 3);
        assert_eq!(out.stdout, b"in");
        assert_eq!(out.stderr, b"err\n");
    }
}
