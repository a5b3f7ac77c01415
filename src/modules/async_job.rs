//! `async:`/`poll:`: a task's command runs detached on the host, in
//! Ansible's layout: the job file `~/.ansible_async/<jid>` says
//! `{"started": true, "finished": false, ...}` while the job runs and holds
//! its result (`rc`, `stdout`, `stderr`) once it is done; a watchdog on
//! the host kills the job's process group after `async` seconds and writes
//! Ansible's `Timeout exceeded` result.
//!
//! [`Detached`] is a connection wrapper: the module builds its command line
//! and shapes its result as usual, while each command it runs is started
//! detached and, with `poll > 0`, polled every `poll` seconds until it is
//! done (or `async` seconds have passed: then the job is killed and the
//! task fails with Ansible's message). With `poll: 0` the command is
//! started and left running; the engine reports the job instead
//! ([`Detached::started_job`]) for `async_status` to check later.

use crate::connection::{Connection, ConnectionError, ExecOutput};
use crate::core::{Vars, shell_quote};
use crate::playbook::AsyncJob;
use async_trait::async_trait;
use serde_json::Value as Json;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::sleep;

/// The modules that can run detached: they run one command line. As in
/// Ansible, `raw` and `script` cannot (their action plugins refuse async).
pub const SUPPORTED: &[&str] = &["command", "shell"];

/// Where job files live on the host (Ansible's default `async_dir`).
const ASYNC_DIR: &str = "\"$HOME/.ansible_async\"";

/// Runs on the host, detached, as `sh -c RUNNER rollout-async JOBFILE
/// LIMIT`: the saved line (`JOBFILE.sh`) with the saved input, a watchdog
/// that kills the process group at the limit, then the result as JSON
/// (written whole, renamed into place, so a reader never sees half of it).
/// The line is never an argument: arguments show in `ps`, and the line may
/// carry `environment:` values.
const RUNNER: &str = r#"j=$1; limit=$2; echo $$ > "$j.pid.tmp" && mv -f "$j.pid.tmp" "$j.pid"
sh "$j.sh" < "$j.in" > "$j.out" 2> "$j.err" & c=$!
( n=0
  while [ "$n" -lt "$limit" ]; do sleep 1; n=$((n + 1)); done
  printf '{"failed": true, "msg": "Timeout exceeded", "child_pid": %s}\n' "$c" > "$j.tmp" &&
    mv -f "$j.tmp" "$j"
  rm -f "$j.sh" "$j.in" "$j.out" "$j.err" "$j.pid"
  kill -KILL -$$ ) & w=$!
wait "$c"; rc=$?
kill "$w" 2>/dev/null
esc() {
  tr -d '\000-\010\013\014\016-\037' < "$1" |
    sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e "s/$(printf '\t')/\\\\t/g" -e "s/$(printf '\r')/\\\\r/g" |
    awk 'NR > 1 { printf "%s", "\\n" } { printf "%s", $0 }'
}
{ printf '{"changed": true, "rc": %d, "stdout": "' "$rc"; esc "$j.out"
  printf '", "stderr": "'; esc "$j.err"; printf '"}\n'; } > "$j.tmp" && mv -f "$j.tmp" "$j"
rm -f "$j.sh" "$j.in" "$j.out" "$j.err" "$j.pid""#;

/// A job started with `poll: 0`.
#[derive(Debug, Clone, PartialEq)]
pub struct StartedJob {
    pub jid: String,
    /// The job file's path on the host.
    pub results_file: String,
}

impl StartedJob {
    /// What a task with `poll: 0` returns (Ansible's async_wrapper).
    pub fn result(&self) -> super::TaskResult {
        super::TaskResult::changed()
            .with("ansible_job_id", self.jid.as_str())
            .with("results_file", self.results_file.as_str())
            .with("started", true)
            .with("finished", false)
    }
}

/// What a job file says.
#[derive(Debug, PartialEq)]
pub enum JobStatus {
    Running,
    /// The job's result (the module's, or the watchdog's timeout).
    Done(Vars),
}

/// Reads a job file as Ansible's async_status does: nothing readable yet
/// means running; `started` without `finished` true means running;
/// anything else is the result.
pub fn parse_status(text: &str) -> JobStatus {
    match serde_json::from_str::<Json>(text.trim()) {
        Ok(Json::Object(data)) => {
            let finished = data.get("finished").is_some_and(truthy);
            if data.contains_key("started") && !finished {
                JobStatus::Running
            } else {
                JobStatus::Done(data)
            }
        }
        _ => JobStatus::Running,
    }
}

fn truthy(value: &Json) -> bool {
    match value {
        Json::Bool(b) => *b,
        Json::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        _ => false,
    }
}

/// The shell words of a job file's path (`$HOME` expands on the host).
pub fn job_path(jid: &str) -> String {
    format!("{ASYNC_DIR}/{}", shell_quote(jid))
}

/// Prints the job file, nothing when there is none (rc 1).
pub fn status_line(jid: &str) -> String {
    format!("cat {} 2>/dev/null", job_path(jid))
}

/// Removes the job file (and what a killed job left beside it).
pub fn cleanup_line(jid: &str) -> String {
    let j = job_path(jid);
    format!("rm -f {j} {j}.sh {j}.in {j}.out {j}.err {j}.pid {j}.pid.tmp {j}.tmp")
}

/// Kills the job's process group (its runner is the group's leader).
fn kill_line(jid: &str) -> String {
    let j = job_path(jid);
    format!(
        "p=$(cat {j}.pid 2>/dev/null); case \"$p\" in ''|*[!0-9]*|0|1) ;; *) kill -KILL -\"$p\" 2>/dev/null ;; esac; {}",
        cleanup_line(jid)
    )
}

/// Saves the line (with the shell's `printf`, so it never shows in `ps`)
/// and the input in a directory only the user can read (the job itself
/// keeps the user's umask); writes the "started" job file,
/// starts the runner in its own session and prints the job file's path.
fn start_line(jid: &str, limit: u32, line: &str, has_input: bool) -> String {
    let save_input = if has_input { "cat" } else { ": </dev/null" };
    let started = format!(r#"{{"started": true, "finished": false, "ansible_job_id": "{jid}"}}"#);
    format!(
        "d={ASYNC_DIR}; j=\"$d\"/{jid_q}; \
         (umask 077 && mkdir -p \"$d\" && printf '%s\\n' {line_q} > \"$j.sh\" && \
         {save_input} > \"$j.in\" && printf '%s\\n' {started} > \"$j\") || exit 1; \
         s=; command -v setsid >/dev/null 2>&1 && s=setsid; \
         $s nohup sh -c {runner} rollout-async \"$j\" {limit} </dev/null >/dev/null 2>&1 & \
         printf '%s\\n' \"$j\"",
        jid_q = shell_quote(jid),
        started = shell_quote(&started),
        runner = shell_quote(RUNNER),
        line_q = shell_quote(line),
    )
}

/// A new job id, shaped as Ansible's (`j<digits>.<pid>`).
fn new_jid() -> String {
    let mut bytes = [0u8; 8];
    // Without randomness the clock still tells jobs apart.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = (nanos as u64).to_le_bytes();
    }
    let digits = u64::from_le_bytes(bytes) % 1_000_000_000_000;
    format!("j{digits:012}.{}", std::process::id())
}

/// Told the job id each time a polled job is found still running
/// (Ansible's "ASYNC POLL" line).
pub type PollReport<'a> = Box<dyn Fn(&str) + Send + Sync + 'a>;

/// A connection whose commands run as async jobs (see the module doc).
pub struct Detached<'a> {
    inner: &'a dyn Connection,
    job: AsyncJob,
    started: Mutex<Option<StartedJob>>,
    report: PollReport<'a>,
}

impl<'a> Detached<'a> {
    pub fn new(inner: &'a dyn Connection, job: AsyncJob) -> Self {
        Detached {
            inner,
            job,
            started: Mutex::new(None),
            report: Box::new(|_| {}),
        }
    }

    /// Reports each poll that finds the job still running.
    pub fn reporting(mut self, report: PollReport<'a>) -> Self {
        self.report = report;
        self
    }

    /// `async:` with `poll > 0`: the job was waited for.
    pub fn polled(&self) -> bool {
        self.job.poll > 0
    }

    /// The job the module's command ran as, if it ran one.
    pub fn started_job(&self) -> Option<StartedJob> {
        self.started.lock().ok()?.clone()
    }

    /// The task's result: with `poll: 0` the job started; otherwise the
    /// module's, with the job's fields as Ansible's async_status adds them.
    pub fn task_result(&self, result: super::TaskResult) -> super::TaskResult {
        let Some(job) = self.started_job() else {
            return result;
        };
        if result.unreachable {
            return result;
        }
        if self.job.poll == 0 && !result.failed {
            return job.result();
        }
        result
            .with("ansible_job_id", job.jid.as_str())
            .with("results_file", job.results_file.as_str())
            .with("started", true)
            .with("finished", self.job.poll > 0)
    }

    /// [`Self::task_result`], except that with `poll: 0` a module that ran
    /// no command (check mode, a `creates` that holds) still gives a job, as
    /// in Ansible, where the module itself runs as the job: its result is
    /// written as the finished job's file.
    pub async fn finish(&self, result: super::TaskResult) -> super::TaskResult {
        let unstarted = self.job.poll == 0 && self.started_job().is_none();
        if !unstarted || result.failed || result.unreachable {
            return self.task_result(result);
        }
        match self.record(&result).await {
            Ok(job) => job.result(),
            Err(e) => super::TaskResult::from_connection(e),
        }
    }

    /// Writes a finished job file holding `result`.
    async fn record(&self, result: &super::TaskResult) -> Result<StartedJob, ConnectionError> {
        let jid = new_jid();
        let line = format!(
            "d={ASYNC_DIR}; j=\"$d\"/{}; (umask 077 && mkdir -p \"$d\" && printf '%s\\n' {} > \"$j\") || exit 1; printf '%s\\n' \"$j\"",
            shell_quote(&jid),
            shell_quote(&result.to_json().to_string()),
        );
        let out = self.inner.exec(&line, None).await?;
        if out.rc != 0 {
            return Err(ConnectionError::Failed(format!(
                "could not write the async job file (rc {}): {}",
                out.rc,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let results_file = String::from_utf8_lossy(&out.stdout).trim().to_string();
        Ok(StartedJob { jid, results_file })
    }

    async fn start(&self, line: &str, stdin: Option<&[u8]>) -> Result<StartedJob, ConnectionError> {
        let jid = new_jid();
        let out = (self.inner)
            .exec(
                &start_line(&jid, self.job.limit, line, stdin.is_some()),
                stdin,
            )
            .await?;
        if out.rc != 0 {
            return Err(ConnectionError::Failed(format!(
                "could not start the async job (rc {}): {}",
                out.rc,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let results_file = String::from_utf8_lossy(&out.stdout).trim().to_string();
        Ok(StartedJob { jid, results_file })
    }

    /// Ansible's poll loop: sleep `poll`, check, until `async` seconds are
    /// used up; then the job is killed and the task fails.
    async fn wait(&self, jid: &str) -> Result<ExecOutput, ConnectionError> {
        let poll = u64::from(self.job.poll);
        let mut time_left = u64::from(self.job.limit);
        while time_left > 0 {
            sleep(Duration::from_secs(poll)).await;
            // As Ansible, a lost connection while polling is not fatal: the
            // next poll reconnects.
            match self.inner.exec(&status_line(jid), None).await {
                Ok(out) => match parse_status(&String::from_utf8_lossy(&out.stdout)) {
                    JobStatus::Done(data) => {
                        // As Ansible, a finished job's file is removed.
                        self.inner.exec(&cleanup_line(jid), None).await?;
                        return output_of(&data);
                    }
                    JobStatus::Running => (self.report)(jid),
                },
                Err(_) => self.inner.reset().await,
            }
            time_left = time_left.saturating_sub(poll);
        }
        self.inner.exec(&kill_line(jid), None).await?;
        Err(ConnectionError::Failed(format!(
            "async task did not complete within the requested time - {}s",
            self.job.limit
        )))
    }
}

/// A finished job's result as the command's output; the watchdog's
/// timeout (or any failure without `rc`) fails the task with its message.
fn output_of(data: &Vars) -> Result<ExecOutput, ConnectionError> {
    let text = |key: &str| {
        (data.get(key).and_then(Json::as_str))
            .unwrap_or_default()
            .as_bytes()
            .to_vec()
    };
    match data.get("rc").and_then(Json::as_i64) {
        Some(rc) => Ok(ExecOutput {
            rc: i32::try_from(rc).unwrap_or(-1),
            stdout: text("stdout"),
            stderr: text("stderr"),
            ..Default::default()
        }),
        None => Err(ConnectionError::Failed(
            (data.get("msg").and_then(Json::as_str))
                .unwrap_or("the async job ended without a result")
                .to_string(),
        )),
    }
}

#[async_trait]
impl Connection for Detached<'_> {
    async fn exec(&self, line: &str, stdin: Option<&[u8]>) -> Result<ExecOutput, ConnectionError> {
        let job = self.start(line, stdin).await?;
        if let Ok(mut started) = self.started.lock() {
            *started = Some(job.clone());
        }
        if self.job.poll == 0 {
            return Ok(ExecOutput::default());
        }
        self.wait(&job.jid).await
    }

    async fn reset(&self) {
        self.inner.reset().await;
    }

    fn beneath_async(&self) -> Option<&dyn Connection> {
        Some(self.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A host whose job finishes after `runs_for` status checks; records
    /// every command and when it ran.
    struct Host {
        runs_for: usize,
        log: Mutex<Vec<(Duration, String)>>,
        t0: tokio::time::Instant,
    }

    impl Host {
        fn new(runs_for: usize) -> Self {
            Host {
                runs_for,
                log: Mutex::new(Vec::new()),
                t0: tokio::time::Instant::now(),
            }
        }

        fn commands(&self) -> Vec<(u64, String)> {
            let log = self.log.lock().unwrap();
            log.iter().map(|(t, c)| (t.as_secs(), c.clone())).collect()
        }
    }

    #[async_trait]
    impl Connection for Host {
        async fn exec(&self, cmd: &str, _: Option<&[u8]>) -> Result<ExecOutput, ConnectionError> {
            let mut log = self.log.lock().unwrap();
            log.push((self.t0.elapsed(), cmd.to_string()));
            let checks = log.iter().filter(|(_, c)| c.starts_with("cat ")).count();
            let stdout = if cmd.starts_with("cat ") && checks > self.runs_for {
                r#"{"changed": true, "rc": 3, "stdout": "out", "stderr": "err"}"#
            } else if cmd.starts_with("cat ") {
                r#"{"started": true, "finished": false, "ansible_job_id": "j1"}"#
            } else if cmd.starts_with("d=") {
                "/home/u/.ansible_async/j1\n"
            } else {
                ""
            };
            Ok(ExecOutput {
                stdout: stdout.into(),
                ..Default::default()
            })
        }
    }

    fn kinds(host: &Host) -> Vec<(u64, &'static str)> {
        (host.commands().into_iter())
            .map(|(t, c)| {
                let kind = match c.split_whitespace().next().unwrap_or_default() {
                    "cat" => "status",
                    "rm" => "cleanup",
                    p if p.starts_with("p=") => "kill",
                    _ => "start",
                };
                (t, kind)
            })
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn polls_every_poll_seconds_until_the_job_is_done() {
        let host = Host::new(2);
        let polls = Mutex::new(Vec::new());
        let detached = Detached::new(&host, AsyncJob { limit: 60, poll: 5 })
            .reporting(Box::new(|jid| polls.lock().unwrap().push(jid.to_string())));
        let out = detached.exec("sleep 12", None).await.unwrap();
        let polls = polls.lock().unwrap().clone();
        assert_eq!(polls.len(), 2, "one report per poll that found it running");
        assert!(polls.iter().all(|jid| jid.starts_with('j')), "{polls:?}");
        assert_eq!(
            (out.rc, &out.stdout[..], &out.stderr[..]),
            (3, &b"out"[..], &b"err"[..])
        );
        assert_eq!(
            kinds(&host),
            [
                (0, "start"),
                (5, "status"),
                (10, "status"),
                (15, "status"),
                (15, "cleanup")
            ]
        );
        let result = detached.task_result(super::super::TaskResult::changed());
        assert_eq!(result.data["finished"], true);
        assert_eq!(result.data["results_file"], "/home/u/.ansible_async/j1");
    }

    /// Loses the connection on its first status check.
    struct Bouncing(Host, Mutex<bool>);

    #[async_trait]
    impl Connection for Bouncing {
        async fn exec(
            &self,
            cmd: &str,
            stdin: Option<&[u8]>,
        ) -> Result<ExecOutput, ConnectionError> {
            if cmd.starts_with("cat ") && !std::mem::replace(&mut *self.1.lock().unwrap(), true) {
                return Err(ConnectionError::Unreachable("connection reset".into()));
            }
            self.0.exec(cmd, stdin).await
        }

        async fn reset(&self) {
            self.0
                .log
                .lock()
                .unwrap()
                .push((self.0.t0.elapsed(), "reset".into()));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_lost_while_polling_is_retried_at_the_next_poll() {
        let host = Bouncing(Host::new(0), Mutex::new(false));
        let detached = Detached::new(&host, AsyncJob { limit: 60, poll: 2 });
        let out = detached.exec("true", None).await.unwrap();
        assert_eq!(out.rc, 3);
        let log: Vec<(u64, String)> = host.0.commands();
        assert_eq!(log[1], (2, "reset".to_string()), "{log:?}");
        assert!(log[2].1.starts_with("cat ") && log[2].0 == 4, "{log:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn kills_the_job_once_async_seconds_have_passed() {
        let host = Host::new(usize::MAX);
        let detached = Detached::new(&host, AsyncJob { limit: 7, poll: 3 });
        let err = detached.exec("sleep 100", None).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "async task did not complete within the requested time - 7s"
        );
        assert_eq!(
            kinds(&host),
            [
                (0, "start"),
                (3, "status"),
                (6, "status"),
                (9, "status"),
                (9, "kill")
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn poll_zero_starts_the_job_and_returns_at_once() {
        let host = Host::new(0);
        let detached = Detached::new(&host, AsyncJob { limit: 60, poll: 0 });
        detached.exec("sleep 100", None).await.unwrap();
        assert_eq!(kinds(&host), [(0, "start")]);
        let job = detached.started_job().unwrap();
        assert_eq!(job.results_file, "/home/u/.ansible_async/j1");
        assert!(
            job.jid.starts_with('j') && job.jid.contains('.'),
            "{}",
            job.jid
        );
    }

    #[test]
    fn job_files_read_as_ansible_reads_them() {
        assert_eq!(parse_status(""), JobStatus::Running);
        assert_eq!(
            parse_status(r#"{"started": 1, "finished": 0, "ansible_job_id": "j"}"#),
            JobStatus::Running
        );
        let JobStatus::Done(data) = parse_status(r#"{"failed": true, "msg": "Timeout exceeded"}"#)
        else {
            panic!("a result without `started` is final");
        };
        assert_eq!(
            output_of(&data).unwrap_err().to_string(),
            "Timeout exceeded"
        );
    }

    /// The line may carry secrets (`environment:` values): no process on
    /// the host has it in its arguments while the job runs, and the job
    /// directory is the user's only.
    #[tokio::test]
    async fn the_line_never_shows_in_ps() {
        use std::os::unix::fs::PermissionsExt;
        let home = tempfile::tempdir().unwrap();
        let conn = crate::connection::local::LocalConnection;
        let marker = format!("secret-{}", new_jid());
        let line = format!(
            "export HOME={}; {}",
            shell_quote(home.path().to_str().unwrap()),
            start_line("j3.4", 30, &format!("s={marker}; sleep 2"), false)
        );
        let out = conn.exec(&line, None).await.unwrap();
        assert_eq!(out.rc, 0, "{}", String::from_utf8_lossy(&out.stderr));
        let pid_file = home.path().join(".ansible_async/j3.4.pid");
        while !pid_file.exists() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let shown: Vec<String> = (std::fs::read_dir("/proc").unwrap().flatten())
            .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
            .filter(|c| c.contains(&marker))
            .collect();
        assert!(shown.is_empty(), "{shown:?}");
        let dir = std::fs::metadata(home.path().join(".ansible_async")).unwrap();
        assert_eq!(dir.permissions().mode() & 0o777, 0o700);
        // Let the job end by itself (it sleeps 2 s): a group kill from a
        // test could reach the test's own group where setsid is missing.
        let job = home.path().join(".ansible_async/j3.4");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !std::fs::read_to_string(&job).is_ok_and(|t| t.contains("\"rc\"")) {
            assert!(std::time::Instant::now() < deadline, "the job never ended");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The local shell with HOME in a throwaway directory.
    struct InHome(tempfile::TempDir);

    #[async_trait]
    impl Connection for InHome {
        async fn exec(
            &self,
            cmd: &str,
            stdin: Option<&[u8]>,
        ) -> Result<ExecOutput, ConnectionError> {
            let home = shell_quote(self.0.path().to_str().unwrap());
            let line = format!("export HOME={home}; {cmd}");
            crate::connection::local::LocalConnection
                .exec(&line, stdin)
                .await
        }
    }

    /// With `poll: 0` a module that ran no command (check mode) still
    /// gives a started job whose file holds its result, as in Ansible.
    #[tokio::test]
    async fn poll_zero_without_a_command_records_the_result_as_a_job() {
        let host = InHome(tempfile::tempdir().unwrap());
        let detached = Detached::new(&host, AsyncJob { limit: 60, poll: 0 });
        let skipped = super::super::TaskResult::skipped("Command would have run");
        let started = detached.finish(skipped).await;
        assert!(started.changed && !started.skipped, "{started:?}");
        assert_eq!(started.data["finished"], false);
        let jid = started.data["ansible_job_id"].as_str().unwrap();
        let file = host.0.path().join(".ansible_async").join(jid);
        assert_eq!(started.data["results_file"], file.to_str().unwrap());
        let JobStatus::Done(data) = parse_status(&std::fs::read_to_string(&file).unwrap()) else {
            panic!("the job file holds the finished result");
        };
        assert_eq!(data["skipped"], true);
        assert_eq!(data["skip_reason"], "Command would have run");
        // A failure is the task's own, with no job.
        let failed = super::super::TaskResult::failed("bad");
        assert!(detached.finish(failed).await.failed);
    }

    /// The runner, for real, in a throwaway HOME: output with quotes,
    /// backslashes, tabs and several lines survives the JSON round trip.
    #[tokio::test]
    async fn the_runner_writes_a_job_file_that_parses() {
        let home = tempfile::tempdir().unwrap();
        let conn = crate::connection::local::LocalConnection;
        let line = format!(
            "export HOME={}; {}",
            shell_quote(home.path().to_str().unwrap()),
            start_line(
                "j1.2",
                30,
                r#"printf 'a "q" \\ b\tc\nline2\n'; echo err >&2; exit 4"#,
                false
            )
        );
        let out = conn.exec(&line, None).await.unwrap();
        assert_eq!(out.rc, 0, "{}", String::from_utf8_lossy(&out.stderr));
        let file = home.path().join(".ansible_async/j1.2");
        let data = loop {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            if let JobStatus::Done(data) = parse_status(&text) {
                break data;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let out = output_of(&data).unwrap();
        assert_eq!(out.rc, 4);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "a \"q\" \\ b\tc\nline2"
        );
        assert_eq!(String::from_utf8_lossy(&out.stderr), "err");
    }
}
