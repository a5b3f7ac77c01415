//! `fail`: stop the host with a message.

use super::{TaskResult, Vars};
use crate::core::display_text;

pub fn run(args: &Vars) -> TaskResult {
    let msg = args
        .get("msg")
        .map(display_text)
        .unwrap_or_else(|| "Failed as requested from task".into());
    TaskResult::failed(msg)
}
