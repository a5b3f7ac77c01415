//! `file`

use super::{ModuleContext, TaskResult, Vars};

pub async fn run(_args: &Vars, _ctx: &ModuleContext<'_>) -> TaskResult {
    TaskResult::failed("todo")
}
