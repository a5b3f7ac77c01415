//! `debug`: print a message or a variable.

use super::registry::{Module, ready};
use super::spec::{Kind, ModuleSpec, p};
use super::{ModuleContext, TaskResult, Vars, arg_str};
use crate::core::display_text;
use serde_json::Value as Json;

/// `debug`: what it accepts and how it runs.
pub const MODULE: Module = Module::new(
    ModuleSpec::new(
        "debug",
        &[
            p("msg", Kind::Any),
            p("var", Kind::Str),
            p("verbosity", Kind::Int),
        ],
    ),
    |args, ctx| ready(run(args, ctx)),
);

pub fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    let verbosity = args.get("verbosity").and_then(Json::as_u64).unwrap_or(0);
    if (ctx.verbosity as u64) < verbosity {
        return TaskResult::skipped("verbosity threshold not met");
    }
    if let Some(var) = arg_str(args, "var") {
        // `var` names an expression; an undefined one is shown, not fatal.
        let value = match ctx.templar.eval(var, ctx.scope) {
            Ok(v) => v,
            Err(_) => Json::String("VARIABLE IS NOT DEFINED!".into()),
        };
        return TaskResult::ok().with(var, value);
    }
    let msg = args
        .get("msg")
        .cloned()
        .unwrap_or(Json::String("Hello world!".into()));
    match msg {
        Json::String(_) => TaskResult::ok().with_msg(display_text(&msg)),
        // Structured messages keep their structure, as in Ansible.
        other => TaskResult::ok().with("msg", other),
    }
}
