//! `fail`: stop the host with a message.

use super::registry::{Module, ready};
use super::spec::{Kind, ModuleSpec, p};
use super::{TaskResult, Vars};
use crate::core::display_text;

/// `fail`: what it accepts and how it runs.
pub const MODULE: Module = Module::new(
    ModuleSpec::new("fail", &[p("msg", Kind::Any)]),
    |args, _| ready(run(args)),
);

pub fn run(args: &Vars) -> TaskResult {
    let msg = args
        .get("msg")
        .map(display_text)
        .unwrap_or_else(|| "Failed as requested from task".into());
    TaskResult::failed(msg)
}
