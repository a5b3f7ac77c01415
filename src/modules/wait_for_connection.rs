//! `wait_for_connection`: waits until the host runs a trivial command
//! again (what follows a reboot or a restarted sshd). Each attempt drops
//! the pooled connection first, so it is a fresh login, as Ansible resets
//! its connection between attempts. Timing uses tokio's clock so tests can
//! pause it.

use super::registry::Module;
use super::spec::{Kind, ModuleSpec, p};
use super::{ModuleContext, TaskResult, Vars, arg_secs};
use crate::connection::Connection;
use std::time::Duration;
use tokio::time::{Instant, sleep, timeout};

/// `wait_for_connection`: what it accepts and how it runs.
pub const MODULE: Module = Module::new(
    ModuleSpec::new(
        "wait_for_connection",
        &[
            p("connect_timeout", Kind::Duration),
            p("delay", Kind::Duration),
            p("sleep", Kind::Duration),
            p("timeout", Kind::Duration),
        ],
    ),
    |args, ctx| Box::pin(run(args, ctx)),
);

/// Ansible's defaults (its action plugin's `DEFAULT_*`).
pub struct Settings {
    pub connect_timeout: Duration,
    pub delay: Duration,
    pub sleep: Duration,
    pub timeout: Duration,
}

impl Settings {
    pub fn from_args(args: &Vars) -> Result<Settings, String> {
        Ok(Settings {
            connect_timeout: arg_secs(args, "connect_timeout", 5.0)?,
            delay: arg_secs(args, "delay", 0.0)?,
            sleep: arg_secs(args, "sleep", 1.0)?,
            timeout: arg_secs(args, "timeout", 600.0)?,
        })
    }
}

pub async fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    let settings = match Settings::from_args(args) {
        Ok(settings) => settings,
        Err(e) => return TaskResult::failed(e),
    };
    // As Ansible: nothing is waited for in check mode.
    if ctx.check_mode {
        let mut skipped = TaskResult::ok();
        skipped.skipped = true;
        return skipped;
    }
    wait(ctx.conn, &settings).await
}

/// One attempt: a fresh connection that runs `true` within `connect_timeout`.
async fn attempt(conn: &dyn Connection, connect_timeout: Duration) -> Result<(), String> {
    conn.reset().await;
    match timeout(connect_timeout, conn.exec("true", None)).await {
        Err(_) => Err(format!(
            "no answer within {}s",
            connect_timeout.as_secs_f64()
        )),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok(out)) if out.rc != 0 => Err(format!("`true` returned rc {}", out.rc)),
        Ok(Ok(_)) => Ok(()),
    }
}

/// Retries every `sleep` until an attempt succeeds or `timeout` has passed
/// (counted after `delay`, as Ansible does); a lost host is a failure
/// here, not unreachable, as in Ansible.
pub async fn wait(conn: &dyn Connection, s: &Settings) -> TaskResult {
    let started = Instant::now();
    sleep(s.delay).await;
    let deadline = Instant::now() + s.timeout;
    let mut error = String::from("no attempt was made");
    while Instant::now() < deadline {
        match attempt(conn, s.connect_timeout).await {
            Ok(()) => return TaskResult::ok().with("elapsed", started.elapsed().as_secs()),
            Err(e) => error = e,
        }
        sleep(s.sleep).await;
    }
    TaskResult::failed(format!("timed out waiting for ping module test: {error}"))
        .with("elapsed", started.elapsed().as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::{ConnectionError, ExecOutput};
    use async_trait::async_trait;
    use std::sync::Mutex;

    /// Refuses `down` attempts, then answers; counts resets.
    struct Flaky {
        down: u32,
        seen: Mutex<(u32, u32)>,
    }

    #[async_trait]
    impl Connection for Flaky {
        async fn exec(&self, _: &str, _: Option<&[u8]>) -> Result<ExecOutput, ConnectionError> {
            let mut seen = self.seen.lock().unwrap();
            seen.0 += 1;
            if seen.0 <= self.down {
                return Err(ConnectionError::Unreachable("connection refused".into()));
            }
            Ok(ExecOutput::default())
        }

        async fn reset(&self) {
            self.seen.lock().unwrap().1 += 1;
        }
    }

    fn settings(timeout: u64) -> Settings {
        Settings {
            connect_timeout: Duration::from_secs(5),
            delay: Duration::from_secs(2),
            sleep: Duration::from_secs(3),
            timeout: Duration::from_secs(timeout),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn reconnects_until_the_host_answers() {
        let conn = Flaky {
            down: 3,
            seen: Mutex::new((0, 0)),
        };
        let result = wait(&conn, &settings(60)).await;
        assert!(!result.failed, "{result:?}");
        // delay 2s + three refused attempts 3s apart.
        assert_eq!(result.data["elapsed"], 11);
        assert_eq!(
            *conn.seen.lock().unwrap(),
            (4, 4),
            "a fresh login each time"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn fails_with_the_last_error_after_the_timeout() {
        let conn = Flaky {
            down: u32::MAX,
            seen: Mutex::new((0, 0)),
        };
        let result = wait(&conn, &settings(10)).await;
        assert!(result.failed && !result.unreachable);
        assert_eq!(
            result.msg.as_deref(),
            Some("timed out waiting for ping module test: connection refused")
        );
        assert_eq!(result.data["elapsed"], 14);
    }
}
