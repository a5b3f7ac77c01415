//! `assert`: every condition of `that` must hold.

use super::registry::{Module, ready};
use super::spec::{Kind, ModuleSpec, aliases, p, required};
use super::{ModuleContext, TaskResult, Vars};
use crate::core::display_text;
use serde_json::Value as Json;

/// `assert`: what it accepts and how it runs.
pub const MODULE: Module = Module::new(
    ModuleSpec::new(
        "assert",
        &[
            required(p("that", Kind::Any)),
            aliases(p("fail_msg", Kind::Any), &["msg"]),
            p("success_msg", Kind::Any),
            p("quiet", Kind::Bool),
        ],
    ),
    |args, ctx| ready(run(args, ctx)),
)
.self_rendering(&["that"]);

pub fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    let conditions: Vec<String> = match args.get("that") {
        Some(Json::Array(items)) => items.iter().map(display_text).collect(),
        Some(other) => vec![display_text(other)],
        None => Vec::new(),
    };
    for condition in &conditions {
        let holds = match ctx.templar.eval_bool(condition, ctx.scope) {
            Ok(holds) => holds,
            Err(e) => {
                return TaskResult::failed(format!(
                    "the condition '{condition}' could not be evaluated: {e}"
                ));
            }
        };
        if !holds {
            let msg = args
                .get("fail_msg")
                .map(display_text)
                .unwrap_or_else(|| "Assertion failed".into());
            return TaskResult::failed(msg)
                .with("assertion", condition.clone())
                .with("evaluated_to", false);
        }
    }
    if args.get("quiet").and_then(Json::as_bool).unwrap_or(false) {
        return TaskResult::ok();
    }
    let msg = args
        .get("success_msg")
        .map(display_text)
        .unwrap_or_else(|| "All assertions passed".into());
    TaskResult::ok().with_msg(msg)
}
