//! `set_fact`: host variables for the rest of the run. The engine merges
//! `ansible_facts` from the result into the host's facts.

use super::registry::{Module, ready};
use super::spec::{Kind, ModuleSpec, p};
use super::{TaskResult, Vars};
use serde_json::Value as Json;

/// `set_fact`: what it accepts and how it runs.
pub const MODULE: Module = Module::new(
    ModuleSpec::new("set_fact", &[p("cacheable", Kind::Bool)]).open(),
    |args, _| ready(run(args)),
);

pub fn run(args: &Vars) -> TaskResult {
    let facts: Vars = args
        .iter()
        .filter(|(k, _)| k.as_str() != "cacheable")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if facts.is_empty() {
        return TaskResult::failed(
            "set_fact needs at least one variable, e.g. 'set_fact: version=2.0'",
        );
    }
    TaskResult::ok().with("ansible_facts", Json::Object(facts))
}
