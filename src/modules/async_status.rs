//! `async_status`: checks (or, with `mode: cleanup`, removes) a job that
//! `async:` with `poll: 0` started, typically with `until: job is finished`.
//! Reads the job file as Ansible's module does (`async_job::parse_status`).

use super::async_job::{JobStatus, cleanup_line, parse_status, status_line};
use super::registry::Module;
use super::spec::{Kind, ModuleSpec, choices, p, required};
use super::{ModuleContext, TaskResult, Vars, arg_str};
use serde_json::Value as Json;

/// `async_status`: what it accepts and how it runs.
pub const MODULE: Module = Module::new(
    ModuleSpec::new(
        "async_status",
        &[
            required(p("jid", Kind::Str)),
            choices(p("mode", Kind::Str), &["status", "cleanup"]),
        ],
    ),
    |args, ctx| Box::pin(run(args, ctx)),
);

pub async fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    let Some(jid) = arg_str(args, "jid") else {
        return TaskResult::failed("async_status needs a jid");
    };
    // What the job file is called on the host, for the result.
    let path = match ctx
        .conn
        .exec(
            &format!("printf '%s' {}", super::async_job::job_path(jid)),
            None,
        )
        .await
    {
        Ok(out) => String::from_utf8_lossy(&out.stdout).into_owned(),
        Err(e) => return TaskResult::from_connection(e),
    };
    if arg_str(args, "mode") == Some("cleanup") {
        return match ctx.conn.exec(&cleanup_line(jid), None).await {
            Ok(_) => TaskResult::ok()
                .with("ansible_job_id", jid)
                .with("erased", path)
                .with("started", false)
                .with("finished", false),
            Err(e) => TaskResult::from_connection(e),
        };
    }
    let out = match ctx.conn.exec(&status_line(jid), None).await {
        Ok(out) => out,
        Err(e) => return TaskResult::from_connection(e),
    };
    // `cat` fails: there is no such job file.
    if out.rc != 0 {
        return TaskResult::failed("could not find job")
            .with("ansible_job_id", jid)
            .with("started", true)
            .with("finished", true);
    }
    let base = TaskResult::ok()
        .with("ansible_job_id", jid)
        .with("results_file", path)
        .with("started", true);
    match parse_status(&String::from_utf8_lossy(&out.stdout)) {
        JobStatus::Running => base
            .with("finished", false)
            .with("stdout", "")
            .with("stderr", "")
            .with("stdout_lines", Json::Array(vec![]))
            .with("stderr_lines", Json::Array(vec![])),
        JobStatus::Done(data) => finished(base, data),
    }
}

/// The job's own result over the status fields, as Ansible merges them.
fn finished(mut result: TaskResult, data: Vars) -> TaskResult {
    for (key, value) in data {
        match key.as_str() {
            "changed" => result.changed = value.as_bool().unwrap_or(false),
            "failed" => result.failed = value.as_bool().unwrap_or(false),
            "msg" => result.msg = value.as_str().map(str::to_string),
            _ => {
                result.data.insert(key, value);
            }
        }
    }
    for stream in ["stdout", "stderr"] {
        let text = (result.data.get(stream).and_then(Json::as_str))
            .unwrap_or_default()
            .to_string();
        let lines = text.lines().map(|l| Json::String(l.into())).collect();
        result.data.insert(stream.into(), Json::String(text));
        result
            .data
            .insert(format!("{stream}_lines"), Json::Array(lines));
    }
    if result
        .data
        .get("rc")
        .and_then(Json::as_i64)
        .is_some_and(|rc| rc != 0)
    {
        result.failed = true;
        result
            .msg
            .get_or_insert_with(|| "non-zero return code".into());
    }
    result.with("finished", true)
}
