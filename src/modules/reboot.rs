//! `reboot`: reboots the host and waits until it is back.
//!
//! Reads the boot id, runs the reboot command (losing the connection there
//! is expected), drops the connection, then polls until a new connection
//! works, the boot id has changed and `test_command` succeeds — all within
//! `reboot_timeout`. Timing uses tokio's clock so tests can pause it.

use super::registry::Module;
use super::spec::{Kind, ModuleSpec, p};
use super::{ModuleContext, TaskResult, Vars, arg_secs, arg_str};
use crate::connection::Connection;
use crate::core::shell_quote;
use std::time::Duration;
use tokio::time::{Instant, sleep, timeout};

/// `reboot`: what it accepts and how it runs.
pub const MODULE: Module = Module::new(
    ModuleSpec::new(
        "reboot",
        &[
            p("reboot_timeout", Kind::Duration),
            p("connect_timeout", Kind::Duration),
            p("pre_reboot_delay", Kind::Duration),
            p("post_reboot_delay", Kind::Duration),
            p("test_command", Kind::Str),
            p("msg", Kind::Str),
            p("reboot_command", Kind::Str),
            p("boot_time_command", Kind::Str),
        ],
    ),
    |args, ctx| Box::pin(run(args, ctx)),
);

const DEFAULT_BOOT_ID: &str = "cat /proc/sys/kernel/random/boot_id";
const DEFAULT_MSG: &str = "Reboot initiated by rollout";

pub struct Settings {
    pub reboot_timeout: Duration,
    pub connect_timeout: Duration,
    pub pre_delay: Duration,
    pub post_delay: Duration,
    pub test_command: String,
    pub reboot_command: String,
    pub boot_time_command: String,
}

impl Settings {
    pub fn from_args(args: &Vars) -> Result<Settings, String> {
        let msg = arg_str(args, "msg").unwrap_or(DEFAULT_MSG);
        Ok(Settings {
            reboot_timeout: arg_secs(args, "reboot_timeout", 600.0)?,
            connect_timeout: arg_secs(args, "connect_timeout", 30.0)?,
            pre_delay: arg_secs(args, "pre_reboot_delay", 0.0)?,
            post_delay: arg_secs(args, "post_reboot_delay", 0.0)?,
            test_command: arg_str(args, "test_command").unwrap_or("whoami").into(),
            reboot_command: arg_str(args, "reboot_command")
                .map(str::to_string)
                .unwrap_or_else(|| format!("shutdown -r now {}", shell_quote(msg))),
            boot_time_command: arg_str(args, "boot_time_command")
                .unwrap_or(DEFAULT_BOOT_ID)
                .into(),
        })
    }
}

pub async fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    let settings = match Settings::from_args(args) {
        Ok(settings) => settings,
        Err(e) => return TaskResult::failed(e),
    };
    if ctx.check_mode {
        return TaskResult::changed()
            .with("rebooted", false)
            .with("elapsed", 0);
    }
    reboot(ctx.conn, &settings).await
}

/// The boot id, or why it could not be read.
async fn boot_id(conn: &dyn Connection, s: &Settings) -> Result<String, String> {
    match timeout(s.connect_timeout, conn.exec(&s.boot_time_command, None)).await {
        Err(_) => Err("timed out".into()),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok(out)) if out.rc != 0 => Err(format!(
            "`{}` failed (rc {}): {}",
            s.boot_time_command,
            out.rc,
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Ok(Ok(out)) => Ok(String::from_utf8_lossy(&out.stdout).trim().to_string()),
    }
}

pub async fn reboot(conn: &dyn Connection, s: &Settings) -> TaskResult {
    let before = match boot_id(conn, s).await {
        Ok(id) => id,
        Err(e) => {
            return TaskResult::failed(format!("cannot read the boot id before rebooting: {e}"));
        }
    };
    sleep(s.pre_delay).await;
    let started = Instant::now();
    // The connection may drop (or hang) as the host goes down: expected.
    if let Ok(Ok(out)) = timeout(s.connect_timeout, conn.exec(&s.reboot_command, None)).await
        && out.rc != 0
    {
        return TaskResult::failed(format!(
            "the reboot command `{}` failed (rc {}): {}",
            s.reboot_command,
            out.rc,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
        .with("rebooted", false);
    }
    conn.reset().await;
    sleep(s.post_delay).await;
    let mut last_error: String;
    let deadline = started + s.reboot_timeout;
    let mut pause = Duration::from_secs(1);
    loop {
        match boot_id(conn, s).await {
            Ok(id) if id == before => last_error = "the boot id has not changed yet".into(),
            Ok(_) => match timeout(s.connect_timeout, conn.exec(&s.test_command, None)).await {
                Ok(Ok(out)) if out.rc == 0 => {
                    return TaskResult::changed()
                        .with("rebooted", true)
                        .with("elapsed", started.elapsed().as_secs());
                }
                Ok(Ok(out)) => {
                    last_error = format!("test command `{}` returned rc {}", s.test_command, out.rc)
                }
                Ok(Err(e)) => last_error = e.to_string(),
                Err(_) => last_error = "the test command timed out".into(),
            },
            Err(e) => {
                last_error = e;
                conn.reset().await;
            }
        }
        if Instant::now() + pause > deadline {
            return TaskResult::failed(format!(
                "the host did not come back within {}s of the reboot: {last_error}",
                s.reboot_timeout.as_secs()
            ))
            .with("rebooted", false)
            .with("elapsed", started.elapsed().as_secs());
        }
        sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::{ConnectionError, ExecOutput};
    use async_trait::async_trait;
    use std::sync::Mutex;

    /// Answers the boot id and `whoami`; after `reset` it is unreachable for
    /// `down` more attempts, then reports `new_id`.
    struct Fake {
        state: Mutex<(u32, bool, Vec<String>)>,
        down: u32,
        new_id: Option<&'static str>,
    }

    #[async_trait]
    impl Connection for Fake {
        async fn exec(&self, cmd: &str, _: Option<&[u8]>) -> Result<ExecOutput, ConnectionError> {
            let mut st = self.state.lock().unwrap();
            st.2.push(cmd.to_string());
            let ok = |s: &str| {
                Ok(ExecOutput {
                    rc: 0,
                    stdout: s.as_bytes().to_vec(),
                    ..Default::default()
                })
            };
            if !st.1 {
                return match cmd {
                    "cat /proc/sys/kernel/random/boot_id" => ok("old\n"),
                    _ => Err(ConnectionError::Unreachable("connection lost".into())),
                };
            }
            if st.0 < self.down {
                st.0 += 1;
                return Err(ConnectionError::Unreachable("connection refused".into()));
            }
            match (cmd, self.new_id) {
                ("cat /proc/sys/kernel/random/boot_id", Some(id)) => ok(id),
                ("cat /proc/sys/kernel/random/boot_id", None) => ok("old"),
                ("whoami", _) => ok("root"),
                _ => ok(""),
            }
        }

        async fn reset(&self) {
            self.state.lock().unwrap().1 = true;
        }
    }

    fn settings(args: serde_json::Value) -> Settings {
        Settings::from_args(args.as_object().unwrap()).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn waits_for_a_new_boot_id() {
        let fake = Fake {
            state: Mutex::new((0, false, vec![])),
            down: 3,
            new_id: Some("new\n"),
        };
        let s = settings(serde_json::json!({"reboot_timeout": 120}));
        let r = reboot(&fake, &s).await;
        assert!(!r.failed, "{r:?}");
        assert_eq!(r.data["rebooted"], serde_json::Value::Bool(true));
        // 1 + 2 + 4 seconds of back-off while down.
        assert_eq!(r.data["elapsed"], serde_json::json!(7));
        let cmds = fake.state.lock().unwrap().2.clone();
        assert_eq!(cmds[1], "shutdown -r now 'Reboot initiated by rollout'");
        assert_eq!(cmds.last().unwrap(), "whoami");
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_the_timeout() {
        let fake = Fake {
            state: Mutex::new((0, false, vec![])),
            down: 0,
            new_id: None,
        };
        let s = settings(serde_json::json!({"reboot_timeout": 60}));
        let started = Instant::now();
        let r = reboot(&fake, &s).await;
        assert!(r.failed);
        let msg = r.msg.unwrap();
        assert!(
            msg.contains("did not come back within 60s") && msg.contains("boot id has not changed"),
            "{msg}"
        );
        assert!(started.elapsed() <= Duration::from_secs(60));
    }
}
