//! `pause`: wait a while, or for the operator to press Enter.

use super::registry::Module;
use super::spec::{Kind, ModuleSpec, p};
use super::{ModuleContext, TaskResult, Vars, arg_str};
use serde_json::Value as Json;
use std::io::IsTerminal;

/// `pause`: what it accepts and how it runs.
pub const MODULE: Module = Module::new(
    ModuleSpec::new(
        "pause",
        &[
            p("seconds", Kind::Duration),
            p("minutes", Kind::Duration),
            p("prompt", Kind::Str),
            p("echo", Kind::Bool),
        ],
    ),
    |args, ctx| Box::pin(run(args, ctx)),
);

pub async fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    let secs = |key: &str| args.get(key).and_then(Json::as_f64).unwrap_or(0.0);
    // Each is in range, but their sum is checked too.
    let pause = match crate::core::duration_from_secs(secs("seconds") + 60.0 * secs("minutes")) {
        Ok(pause) => pause,
        Err(e) => return TaskResult::failed(format!("pause: {e}")),
    };
    let started = tokio::time::Instant::now();
    if !pause.is_zero() {
        if !ctx.check_mode {
            tokio::time::sleep(pause).await;
        }
    } else if std::io::stdin().is_terminal() {
        eprintln!(
            "{}",
            arg_str(args, "prompt").unwrap_or("Press enter to continue")
        );
        let mut line = String::new();
        let read = tokio::task::spawn_blocking(move || {
            std::io::stdin().read_line(&mut line).map(|_| line)
        })
        .await;
        let input = read.ok().and_then(Result::ok).unwrap_or_default();
        return TaskResult::ok().with("user_input", input.trim_end().to_string());
    } else {
        // No operator to answer: continue, as Ansible does without a TTY.
        return TaskResult::ok().with_msg("no terminal to prompt on; continuing");
    }
    TaskResult::ok()
        .with("delta", started.elapsed().as_secs_f64())
        .with("echo", true)
}
